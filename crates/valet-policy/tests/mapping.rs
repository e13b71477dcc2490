#![expect(clippy::unwrap_used, reason = "tests fail by panicking")]
//! How a transaction becomes a Cedar request: principal attributes, resource choice and
//! typed context.

use std::fs;
use std::path::PathBuf;

use proptest::prelude::*;
use tempfile::TempDir;
use valet_policy::{PolicyOutcome, PolicyReason, PolicyStore, Transaction};
use valet_token::details::{FieldValue, TransactionDetails};

const SCHEMA: &str = r#"@valet("agent") entity Agent { subject: String, client: String, depth: Long, chain: Set<String> };
entity Resource;
@detail_type("file")
action read_file appliesTo {
  principal: [Agent],
  resource: [Resource],
  context: { audience: String, scopes: Set<String>, urgent?: Bool, pages?: Long, tags?: Set<String> },
};
"#;

fn store_with(policy: &str) -> (TempDir, PolicyStore) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("schema.cedarschema"), SCHEMA).unwrap();
    fs::write(dir.path().join("p.cedar"), policy).unwrap();
    let store = PolicyStore::load(dir.path()).unwrap();
    (dir, store)
}

fn outcome(
    store: &PolicyStore,
    chain: &[String],
    details: Option<&TransactionDetails>,
) -> PolicyOutcome {
    let scopes = vec!["files:read".to_owned()];
    store
        .evaluate(&Transaction {
            agent: chain.last().map_or("bot", String::as_str),
            subject: "alice",
            client: "bot",
            chain,
            action: "read_file",
            audience: "https://files.example.com",
            scopes: &scopes,
            details,
            earlier: &[],
            verified: true,
        })
        .outcome
}

#[test]
fn every_resource_is_judged_identifier_and_locations_else_audience() {
    let (_d, by_id) = store_with(r#"permit (principal, action, resource == Resource::"doc-7");"#);
    let only_id = TransactionDetails::new("file").with("identifier", "doc-7");
    assert_eq!(outcome(&by_id, &[], Some(&only_id)), PolicyOutcome::Allow);
    // The identifier and every location are judged: `elsewhere` is not permitted.
    let with_id = TransactionDetails::new("file")
        .with("identifier", "doc-7")
        .field("locations", FieldValue::List(vec!["elsewhere".into()]));
    assert_eq!(outcome(&by_id, &[], Some(&with_id)), PolicyOutcome::Deny);

    let (_d, by_location) = store_with(
        r#"permit (principal, action, resource)
when { resource == Resource::"https://files.example.com/a" || resource == Resource::"https://files.example.com/b" };"#,
    );
    let with_locations = TransactionDetails::new("file").field(
        "locations",
        FieldValue::List(vec![
            "https://files.example.com/a".into(),
            "https://files.example.com/b".into(),
        ]),
    );
    assert_eq!(
        outcome(&by_location, &[], Some(&with_locations)),
        PolicyOutcome::Allow
    );

    let (_d, by_audience) = store_with(
        r#"permit (principal, action, resource == Resource::"https://files.example.com");"#,
    );
    assert_eq!(outcome(&by_audience, &[], None), PolicyOutcome::Allow);
    assert_eq!(
        outcome(&by_audience, &[], Some(&TransactionDetails::new("file"))),
        PolicyOutcome::Allow
    );
}

#[test]
fn a_forbidden_location_cannot_hide_behind_a_permitted_one() {
    let (_d, store) = store_with(
        r#"permit (principal, action, resource);
@reason("payroll is off limits")
forbid (principal, action, resource == Resource::"payroll");"#,
    );
    let scopes = vec!["files:read".to_owned()];
    let details = TransactionDetails::new("file").field(
        "locations",
        FieldValue::List(vec!["public".into(), "payroll".into()]),
    );
    let decision = store.evaluate(&Transaction {
        agent: "bot",
        subject: "alice",
        client: "bot",
        chain: &[],
        action: "read_file",
        audience: "https://files.example.com",
        scopes: &scopes,
        details: Some(&details),
        earlier: &[],
        verified: true,
    });
    assert_eq!(decision.outcome, PolicyOutcome::Deny);
    assert_eq!(
        decision.reasons,
        vec![PolicyReason::about(
            "p.1",
            "for resource `Resource::\"payroll\"`: forbidden by `p.1`: payroll is off limits"
        )]
    );
}

#[test]
fn principal_carries_subject_client_depth_and_chain() {
    let (_d, store) = store_with(
        r#"permit (principal, action, resource)
when {
  principal.subject == "alice" && principal.client == "bot" &&
  principal.depth <= 1 && (principal.depth == 0 || principal.chain.contains("helper"))
};"#,
    );
    assert_eq!(outcome(&store, &[], None), PolicyOutcome::Allow);
    assert_eq!(
        outcome(&store, &["helper".into()], None),
        PolicyOutcome::Allow
    );
    assert_eq!(
        outcome(&store, &["helper".into(), "sub-helper".into()], None),
        PolicyOutcome::Deny
    );
}

#[test]
fn bool_long_and_set_fields_are_typed() {
    let (_d, store) = store_with(
        r#"permit (principal, action, resource)
when {
  context has urgent && context.urgent && context has pages && context.pages < 10 &&
  context has tags && context.tags.contains("q3")
};"#,
    );
    let good = TransactionDetails::new("file")
        .field("urgent", FieldValue::Bool(true))
        .field("pages", FieldValue::Long(3))
        .field("tags", FieldValue::List(vec!["q3".into()]));
    assert_eq!(outcome(&store, &[], Some(&good)), PolicyOutcome::Allow);
    let scopes = vec![];
    let wrong = TransactionDetails::new("file").with("pages", "3");
    let decision = store.evaluate(&Transaction {
        agent: "bot",
        subject: "alice",
        client: "bot",
        chain: &[],
        action: "read_file",
        audience: "https://files.example.com",
        scopes: &scopes,
        details: Some(&wrong),
        earlier: &[],
        verified: true,
    });
    assert_eq!(decision.outcome, PolicyOutcome::Deny);
    assert_eq!(
        decision.reasons,
        vec![PolicyReason::general(
            "transaction field `pages` must be an integer, found the string \"3\""
        )]
    );
}

fn starter() -> PolicyStore {
    PolicyStore::load(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies")).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// An exact amount decides exactly: allowed up to 500.00, held for approval up to the
    /// ceiling, denied above it; never an error, whatever the amount.
    #[test]
    fn payment_outcome_follows_exact_thresholds(scaled in -1_000_000i64..30_000_000i64) {
        let store = starter();
        let amount = valet_token::Decimal::from_scaled(scaled);
        let details = TransactionDetails::new("payment")
            .with("amount", amount.to_string())
            .with("currency", "USD")
            .with("recipient", "alice@example.com");
        let scopes = vec!["payments:write".to_owned()];
        let decision = store.evaluate(&Transaction {
            agent: "bot",
            subject: "alice",
            client: "bot",
            chain: &[],
            action: "pay_invoice",
            audience: "https://pay.example.com",
            scopes: &scopes,
            details: Some(&details),
            earlier: &[],
            verified: true,
        });
        let expected = if scaled <= 0 || scaled > 20_000_000 {
            PolicyOutcome::Deny
        } else if scaled > 5_000_000 {
            PolicyOutcome::NeedsApproval
        } else {
            PolicyOutcome::Allow
        };
        prop_assert_eq!(decision.outcome, expected, "{:?}", decision);
    }

    /// No text in a decimal field makes evaluation panic; what is not a decimal is denied
    /// with the field named.
    #[test]
    fn any_amount_text_is_handled(text in "\\PC{0,24}") {
        let store = starter();
        let details = TransactionDetails::new("payment")
            .with("amount", text.clone())
            .with("currency", "USD")
            .with("recipient", "alice@example.com");
        let scopes = vec!["payments:write".to_owned()];
        let decision = store.evaluate(&Transaction {
            agent: "bot",
            subject: "alice",
            client: "bot",
            chain: &[],
            action: "pay_invoice",
            audience: "https://pay.example.com",
            scopes: &scopes,
            details: Some(&details),
            earlier: &[],
            verified: true,
        });
        if text.parse::<valet_token::Decimal>().is_err() {
            prop_assert_eq!(decision.outcome, PolicyOutcome::Deny);
            prop_assert!(decision.reasons.iter().any(|r| r.message.contains("`amount`")));
        }
    }
}

#[test]
fn the_work_of_one_request_is_bounded() {
    let (_d, store) = store_with(r#"permit (principal, action, resource);"#);
    let scopes = vec!["files:read".to_owned()];
    let chain: Vec<String> = (0..15).map(|i| format!("agent-{i}")).collect();
    let earlier: Vec<valet_policy::Step<'_>> = (0..15)
        .map(|block| valet_policy::Step {
            block,
            delegates: block,
            scopes: &scopes,
            verified: true,
        })
        .collect();
    let locations = |n: usize| {
        TransactionDetails::new("file").field(
            "locations",
            FieldValue::List((0..n).map(|i| format!("res-{i}")).collect()),
        )
    };
    let decide = |details: &TransactionDetails, earlier: &[valet_policy::Step<'_>]| {
        store.evaluate(&Transaction {
            agent: chain.last().map_or("bot", String::as_str),
            subject: "alice",
            client: "bot",
            chain: &chain,
            action: "read_file",
            audience: "https://files.example.com",
            scopes: &scopes,
            details: Some(details),
            earlier,
            verified: true,
        })
    };
    // Too many resources: refused before any is judged.
    let d = decide(&locations(900), &[]);
    assert_eq!(d.outcome, PolicyOutcome::Deny);
    assert!(
        d.reasons[0].message.contains("more than 32 resources"),
        "{:?}",
        d.reasons
    );
    // 16 steps of a chain times 32 resources: more evaluations than a request may take.
    let d = decide(&locations(32), &earlier);
    assert_eq!(d.outcome, PolicyOutcome::Deny);
    assert!(
        d.reasons[0]
            .message
            .starts_with("judging this request takes 512 policy evaluations (16 steps"),
        "{:?}",
        d.reasons
    );
    // Within the bounds, every pair is judged.
    assert_eq!(
        decide(&locations(8), &earlier).outcome,
        PolicyOutcome::Allow
    );
    assert_eq!(decide(&locations(32), &[]).outcome, PolicyOutcome::Allow);
}

/// Each reason names the policy it is about by id, whatever its words say: a forbid whose
/// reason text names another policy is still the reason of its own id, and an error names
/// the policy that could not be evaluated.
#[test]
fn every_reason_names_its_policy_by_id() {
    let (_d, store) = store_with(
        r#"permit (principal, action, resource);
@id("a")
forbid (principal, action, resource) when { context has urgent && context.urgent };
@id("b")
@reason("stricter than `a`")
forbid (principal, action, resource) when { context has urgent && context.urgent };"#,
    );
    let scopes = vec!["files:read".to_owned()];
    let details = TransactionDetails::new("file").field("urgent", FieldValue::Bool(true));
    let tx = Transaction {
        agent: "bot",
        subject: "alice",
        client: "bot",
        chain: &[],
        action: "read_file",
        audience: "https://files.example.com",
        scopes: &scopes,
        details: Some(&details),
        earlier: &[],
        verified: true,
    };
    let decision = store.evaluate(&tx);
    assert_eq!(decision.outcome, PolicyOutcome::Deny);
    assert_eq!(
        decision.reasons,
        vec![
            PolicyReason::about("a", "forbidden by `a`"),
            PolicyReason::about("b", "forbidden by `b`: stricter than `a`"),
        ]
    );

    let (_d, store) = store_with(
        r#"permit (principal, action, resource);
@id("overflows")
forbid (principal, action, resource) when { principal.depth * 9223372036854775807 > 100 };"#,
    );
    // Two delegates: the forbid overflows, cannot be evaluated, and its error names it.
    let chain = vec!["a".to_owned(), "b".to_owned()];
    let decision = store.evaluate(&Transaction {
        agent: "b",
        chain: &chain,
        ..tx
    });
    assert_eq!(decision.outcome, PolicyOutcome::Deny, "{decision:?}");
    assert!(!decision.reasons.is_empty());
    for r in &decision.reasons {
        assert_eq!(r.policy.as_deref(), Some("overflows"), "{r:?}");
    }
}
