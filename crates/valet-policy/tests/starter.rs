#![expect(clippy::unwrap_used, reason = "tests fail by panicking")]
//! The starter policies in `policies/` load and decide as documented.

use std::path::PathBuf;

use valet_policy::{PolicyOutcome, PolicyStore, Transaction};
use valet_token::details::{FieldValue, TransactionDetails};

fn policies_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

fn store() -> PolicyStore {
    PolicyStore::load(policies_dir()).unwrap()
}

fn scopes(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| (*s).to_owned()).collect()
}

fn payment(amount: &str, currency: &str, recipient: &str) -> TransactionDetails {
    TransactionDetails::new("payment")
        .with("amount", amount)
        .with("currency", currency)
        .with("recipient", recipient)
}

fn tx<'a>(
    action: &'a str,
    scopes: &'a [String],
    details: Option<&'a TransactionDetails>,
) -> Transaction<'a> {
    Transaction {
        agent: "billing-bot",
        subject: "alice",
        client: "billing-bot",
        chain: &[],
        action,
        audience: "https://pay.example.com",
        scopes,
        details,
        earlier: &[],
        verified: true,
    }
}

#[test]
fn starter_set_loads_without_warnings() {
    let store = store();
    assert!(store.warnings().is_empty(), "{:?}", store.warnings());
    assert_eq!(store.detail_types(), vec!["email", "payment"]);
    assert_eq!(
        store.action_names(),
        vec![
            "delete_file",
            "list_files",
            "pay_invoice",
            "read_calendar",
            "read_file",
            "send_email",
            "write_file"
        ]
    );
}

#[test]
fn small_payment_is_allowed() {
    let store = store();
    let s = scopes(&["payments:write"]);
    let d = payment("50.00", "USD", "alice@example.com");
    let decision = store.evaluate(&tx("pay_invoice", &s, Some(&d)));
    assert_eq!(decision.outcome, PolicyOutcome::Allow, "{decision:?}");
    assert_eq!(decision.determining[0].id, "payments-permit");
}

#[test]
fn large_payment_needs_approval() {
    let store = store();
    let s = scopes(&["payments:write"]);
    let d = payment("750.00", "EUR", "bob@example.com");
    let decision = store.evaluate(&tx("pay_invoice", &s, Some(&d)));
    assert_eq!(
        decision.outcome,
        PolicyOutcome::NeedsApproval,
        "{decision:?}"
    );
    assert_eq!(
        decision.approval.as_deref(),
        Some("payments above 500.00 need the account owner's approval")
    );
    assert_eq!(decision.determining[0].id, "payments-approval-threshold");
}

#[test]
fn approval_does_not_lift_another_forbid() {
    let store = store();
    let s = scopes(&["payments:write"]);
    // Over the threshold and to a recipient not on the allowlist.
    let d = payment("750.00", "USD", "mallory@example.net");
    let decision = store.evaluate(&tx("pay_invoice", &s, Some(&d)));
    assert_eq!(decision.outcome, PolicyOutcome::Deny, "{decision:?}");
    assert_eq!(decision.approval, None);
    let ids: Vec<&str> = decision.determining.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "payments-approval-threshold",
            "payments-recipient-allowlist"
        ]
    );
}

#[test]
fn approval_without_permit_stays_deny() {
    let store = store();
    let s = scopes(&["tools:read"]);
    let decision = store.evaluate(&tx("delete_file", &s, None));
    assert_eq!(decision.outcome, PolicyOutcome::Deny, "{decision:?}");
    assert!(decision.reasons[0]
        .message
        .contains("no policy permits `delete_file`"));
}

#[test]
fn over_ceiling_is_denied() {
    let store = store();
    let s = scopes(&["payments:write"]);
    let d = payment("2000.01", "USD", "alice@example.com");
    let decision = store.evaluate(&tx("pay_invoice", &s, Some(&d)));
    assert_eq!(decision.outcome, PolicyOutcome::Deny, "{decision:?}");
    assert!(decision
        .determining
        .iter()
        .any(|d| d.id == "payments-ceiling-usd"));
    assert!(decision
        .reasons
        .iter()
        .any(|r| r.message.contains("USD payments are limited to 2000.00")));
}

#[test]
fn mapping_errors_name_the_field() {
    let store = store();
    let s = scopes(&["payments:write"]);
    let cases: Vec<(TransactionDetails, &str)> = vec![
        (
            TransactionDetails::new("payment")
                .with("currency", "USD")
                .with("recipient", "alice@example.com"),
            "transaction field `amount` is missing",
        ),
        (
            payment("50.0x", "USD", "alice@example.com"),
            "transaction field `amount`: `50.0x` is not a decimal",
        ),
        (
            payment("5e2", "USD", "alice@example.com"),
            "transaction field `amount`: `5e2` is not a decimal",
        ),
        (
            payment("50.00", "USD", "alice@example.com").field("currency", FieldValue::Long(840)),
            "transaction field `currency` must be a string, found integer",
        ),
        (
            payment("50.00", "USD", "alice@example.com").with("colour", "red"),
            "transaction field `colour` is unknown to action `pay_invoice`",
        ),
        (
            payment("50.00", "USD", "alice@example.com").with("scopes", "payments:write"),
            "transaction field `scopes` is reserved",
        ),
        (
            TransactionDetails::new("email")
                .with("amount", "5.00")
                .with("currency", "USD")
                .with("recipient", "alice@example.com"),
            "transaction type `email` does not fit action `pay_invoice`",
        ),
    ];
    for (details, expected) in cases {
        let decision = store.evaluate(&tx("pay_invoice", &s, Some(&details)));
        assert_eq!(decision.outcome, PolicyOutcome::Deny, "{decision:?}");
        assert!(
            decision
                .reasons
                .iter()
                .any(|r| r.message.contains(expected)),
            "expected `{expected}` in {:?}",
            decision.reasons
        );
    }
}

#[test]
fn integer_amount_is_a_decimal() {
    let store = store();
    let s = scopes(&["payments:write"]);
    let d = payment("0", "USD", "alice@example.com").field("amount", FieldValue::Long(50));
    let decision = store.evaluate(&tx("pay_invoice", &s, Some(&d)));
    assert_eq!(decision.outcome, PolicyOutcome::Allow, "{decision:?}");
}

#[test]
fn unknown_action_is_denied_by_name() {
    let store = store();
    let s = scopes(&["tools:write"]);
    let decision = store.evaluate(&tx("format_disk", &s, None));
    assert_eq!(decision.outcome, PolicyOutcome::Deny);
    assert!(
        decision.reasons[0].message.contains("`format_disk`"),
        "{decision:?}"
    );
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PolicyStore>();
}
