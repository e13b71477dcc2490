#![allow(clippy::unwrap_used, reason = "tests fail by panicking")]
//! The index (by action, then by the agent or resource a policy names, or the context
//! string its first condition starts by comparing) gives the same decisions as evaluating
//! every policy, on random policy sets over the bundled schema and random transactions:
//! from agents that no policy names and from agents with policies of their own, on named
//! and unnamed resources, with context strings that hit, miss or are missing, against
//! shared and keyed permits, forbids and `@approval` forbids, with conditions that error
//! for some requests.

mod support;

use proptest::prelude::*;
use support::random_policies::{
    field, policy, policy_text, Field, ACTIONS, AGENTS, AMOUNTS, REQUEST_AGENTS, REQUEST_AUDIENCES,
    REQUEST_CURRENCIES, REQUEST_RECIPIENTS, REQUEST_RESOURCES, SCOPES,
};
use valet_policy::{PolicyStore, Transaction};
use valet_token::details::FieldValue;
use valet_token::TransactionDetails;

/// The transaction fields of a request besides its agent, scopes and chain.
#[derive(Clone, Debug)]
struct Fields {
    resource: Option<&'static str>,
    recipient: Field,
    currency: Field,
    amount: &'static str,
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        prop::option::of(prop::sample::select(REQUEST_RESOURCES.to_vec())),
        field(&REQUEST_RECIPIENTS),
        field(&REQUEST_CURRENCIES),
        prop::sample::select(AMOUNTS.to_vec()),
    )
        .prop_map(|(resource, recipient, currency, amount)| Fields {
            resource,
            recipient,
            currency,
            amount,
        })
}

fn with_field(details: TransactionDetails, name: &str, value: Field) -> TransactionDetails {
    match value {
        Field::Str(s) => details.with(name, s),
        Field::Absent => details,
        Field::Long => details.field(name, FieldValue::Long(7)),
    }
}

/// The details of a request: the fields its action takes (a missing or mistyped one is
/// denied before any policy is evaluated) and, when set, the resource.
fn details_for(action: &str, f: &Fields) -> Option<TransactionDetails> {
    let details = match action {
        "pay_invoice" => {
            let d = TransactionDetails::new("payment").with("amount", f.amount);
            let d = with_field(d, "currency", f.currency);
            with_field(d, "recipient", f.recipient)
        }
        "send_email" => with_field(TransactionDetails::new("email"), "recipient", f.recipient),
        _ => match f.resource {
            Some(_) => TransactionDetails::new("file"),
            None => return None,
        },
    };
    Some(match f.resource {
        Some(r) => details.with("identifier", r),
        None => details,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn indexed_and_unindexed_decisions_are_identical(
        policies in prop::collection::vec(policy(), 0..24),
        requests in prop::collection::vec(
            (
                prop::sample::select(ACTIONS.to_vec()),
                prop::sample::select(REQUEST_AGENTS.to_vec()),
                prop::sample::subsequence(SCOPES.to_vec(), 0..=3),
                prop::sample::subsequence(AGENTS.to_vec(), 0..=3),
                prop::sample::select(REQUEST_AUDIENCES.to_vec()),
                fields(),
            ),
            1..12,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/flat.cedarschema"),
            dir.path().join("schema.cedarschema"),
        )
        .unwrap();
        std::fs::write(dir.path().join("random.cedar"), policy_text(&policies)).unwrap();
        let store = PolicyStore::load(dir.path()).unwrap();
        for (action, agent, scopes, chain, audience, fields) in requests {
            let scopes: Vec<String> = scopes.into_iter().map(str::to_owned).collect();
            let chain: Vec<String> = chain.into_iter().map(str::to_owned).collect();
            let details = details_for(action, &fields);
            let tx = Transaction {
                agent,
                subject: "alice@example.com",
                client: "https://orchestrator.example/client",
                chain: &chain,
                action,
                audience,
                scopes: &scopes,
                details: details.as_ref(),
                earlier: &[],
                verified: true,
            };
            prop_assert_eq!(store.evaluate(&tx), store.evaluate_unindexed(&tx));
        }
    }
}
