#![allow(clippy::unwrap_used, reason = "tests fail by panicking")]
//! The index (by action, then by the agent or resource a policy names, or the context
//! string its first condition starts by comparing) gives the same decisions as evaluating
//! every policy, on random policy sets over the bundled schema and random transactions:
//! from agents that no policy names and from agents with policies of their own, on named
//! and unnamed resources, with context strings that hit, miss or are missing, against
//! shared and keyed permits, forbids and `@approval` forbids, with conditions that error
//! for some requests. The same holds on the namespaced model of `support/docs.cedarschema`,
//! with `in` scopes over hierarchies, entity data, several resources per request and
//! earlier steps of a delegation chain.

mod support;

use proptest::prelude::*;
use support::docs;
use support::random_policies::{
    field, policy, policy_text, Field, ACTIONS, AGENTS, AMOUNTS, REQUEST_AGENTS, REQUEST_AUDIENCES,
    REQUEST_CURRENCIES, REQUEST_RECIPIENTS, REQUEST_RESOURCES, SCOPES,
};
use valet_policy::{EntityData, PolicyStore, Step, Transaction};
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

/// More resources for `locations`, each written as the action takes it: a document (a
/// plain id for `read`), or for the actions of several types a document or a folder.
fn locations_for(
    r: &docs::DocsRequest,
    extra: &[(&'static str, &'static str, bool)],
) -> Option<FieldValue> {
    let names: Vec<String> = extra
        .iter()
        .map(|(document, folder, is_folder)| match r.action {
            "read" => (*document).to_owned(),
            _ if *is_folder => docs::uid("Folder", folder),
            _ => docs::uid("Document", document),
        })
        .collect();
    (r.action != "list" && !names.is_empty()).then_some(FieldValue::List(names))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// On the namespaced model with entity data: policies keyed by agent
    /// (`principal == Docs::Bot::"x"`), by resource (`resource == Docs::Document::"d"`) and
    /// by a leading `context.m == "text"`, beside `in` and `is` scopes over the hierarchies;
    /// transactions of one step and of several, on one resource and on several.
    #[test]
    fn indexed_and_unindexed_decisions_are_identical_on_the_namespaced_model(
        world in docs::world(),
        policies in prop::collection::vec(docs::policy(), 0..24),
        requests in prop::collection::vec(
            (
                docs::request(),
                prop::collection::vec(
                    (prop::sample::subsequence(docs::SCOPES.to_vec(), 0..=3), any::<bool>()),
                    0..=2,
                ),
                prop::collection::vec(
                    (
                        prop::sample::select(vec!["d0", "d1", "d9"]),
                        prop::sample::select(vec!["f0", "f2", "f9"]),
                        any::<bool>(),
                    ),
                    0..3,
                ),
            ),
            1..12,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("schema.cedarschema"), docs::SCHEMA).unwrap();
        std::fs::write(dir.path().join("random.cedar"), docs::policy_text(&policies)).unwrap();
        let store = PolicyStore::load(dir.path()).unwrap();
        let data = EntityData::from_json_value(world.to_json(), &store).unwrap();
        for (r, steps, extra) in &requests {
            let scopes = r.scopes();
            let chain = r.chain();
            let details = match (r.details(), locations_for(r, extra)) {
                (Some(d), Some(locations)) => Some(d.field("locations", locations)),
                (d, _) => d,
            };
            // The token after each earlier block: the delegates named by then, and the
            // scopes and verification then.
            let step_scopes: Vec<Vec<String>> = steps
                .iter()
                .map(|(s, _)| s.iter().map(|s| (*s).to_owned()).collect())
                .collect();
            let earlier: Vec<Step<'_>> = steps
                .iter()
                .zip(&step_scopes)
                .enumerate()
                .map(|(block, ((_, verified), scopes))| Step {
                    block,
                    delegates: block.min(chain.len()),
                    scopes,
                    verified: *verified,
                })
                .collect();
            let tx = Transaction {
                agent: r.agent(),
                subject: r.subject,
                client: r.client,
                chain: &chain,
                action: r.action,
                audience: r.audience,
                scopes: &scopes,
                details: details.as_ref(),
                earlier: &earlier,
                verified: r.verified,
            };
            prop_assert_eq!(
                store.evaluate_with_entities(&tx, &data, true),
                store.evaluate_with_entities(&tx, &data, false),
                "{:?}", r
            );
            prop_assert_eq!(
                store.evaluate_with_index(&tx, true),
                store.evaluate_with_index(&tx, false),
                "{:?}", r
            );
        }
    }
}
