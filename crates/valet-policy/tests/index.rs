#![allow(clippy::unwrap_used, reason = "tests fail by panicking")]
//! The index (by action, then by the agent a policy names) gives the same decisions as
//! evaluating every policy, on random policy sets over the bundled schema and random
//! transactions: from agents that no policy names and from agents with policies of their
//! own, against shared and per-agent permits, forbids and `@approval` forbids, with
//! conditions that error for some requests.

use proptest::prelude::*;
use valet_policy::{PolicyStore, Transaction};
use valet_token::TransactionDetails;

const ACTIONS: [&str; 7] = [
    "pay_invoice",
    "read_calendar",
    "list_files",
    "read_file",
    "write_file",
    "send_email",
    "delete_file",
];
const AGENTS: [&str; 3] = ["agent-0", "agent-1", "agent-2"];
/// The agents requests come from: those the policies may name, and one no policy names.
const REQUEST_AGENTS: [&str; 4] = ["agent-0", "agent-1", "agent-2", "agent-9"];
const SCOPES: [&str; 3] = ["payments:write", "files:read", "mail:send"];

fn action_scope() -> impl Strategy<Value = String> {
    let one = prop::sample::select(ACTIONS.to_vec());
    prop_oneof![
        Just("action".to_owned()),
        one.clone()
            .prop_map(|a| format!("action == Action::\"{a}\"")),
        prop::collection::vec(one, 1..3).prop_map(|v| {
            let list: Vec<String> = v.iter().map(|a| format!("Action::\"{a}\"")).collect();
            format!("action in [{}]", list.join(", "))
        }),
    ]
}

fn principal_scope() -> impl Strategy<Value = String> {
    let agent = prop::sample::select(AGENTS.to_vec());
    prop_oneof![
        Just("principal".to_owned()),
        agent
            .clone()
            .prop_map(|a| format!("principal == Agent::\"{a}\"")),
        agent
            .clone()
            .prop_map(|a| format!("principal in Agent::\"{a}\"")),
        Just("principal is Agent".to_owned()),
        agent.prop_map(|a| format!("principal is Agent in Agent::\"{a}\"")),
    ]
}

fn condition() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        prop::sample::select(SCOPES.to_vec())
            .prop_map(|s| format!("when {{ context.scopes.contains(\"{s}\") }}")),
        (0i64..3).prop_map(|d| format!("when {{ principal.depth > {d} }}")),
        prop::sample::select(AGENTS.to_vec())
            .prop_map(|a| format!("unless {{ principal.chain.contains(\"{a}\") }}")),
        // Overflows, so errors, when the chain has two delegates or more.
        Just("when { principal.depth * 4611686018427387904 > 0 }".to_owned()),
    ]
}

/// One policy: effect, scope, condition; forbids are sometimes approval step-ups.
fn policy() -> impl Strategy<Value = (bool, bool, String, String, String)> {
    (
        any::<bool>(),
        any::<bool>(),
        principal_scope(),
        action_scope(),
        condition(),
    )
}

fn policy_text(policies: &[(bool, bool, String, String, String)]) -> String {
    let mut out = String::new();
    for (i, (permit, approval, principal, action, cond)) in policies.iter().enumerate() {
        let effect = if *permit { "permit" } else { "forbid" };
        let note = if !*permit && *approval {
            "@approval(\"the owner approves\")\n"
        } else {
            ""
        };
        out.push_str(&format!(
            "@id(\"p{i}\")\n{note}{effect} ({principal}, {action}, resource)\n{cond};\n\n"
        ));
    }
    out
}

fn details_for(action: &str) -> Option<TransactionDetails> {
    match action {
        "pay_invoice" => Some(
            TransactionDetails::new("payment")
                .with("amount", "50.00")
                .with("currency", "USD")
                .with("recipient", "alice@example.com"),
        ),
        "send_email" => Some(TransactionDetails::new("email").with("recipient", "bob@example.com")),
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn indexed_and_unindexed_decisions_are_identical(
        policies in prop::collection::vec(policy(), 0..24),
        requests in prop::collection::vec(
            (
                prop::sample::select(ACTIONS.to_vec()),
                prop::sample::select(REQUEST_AGENTS.to_vec()),
                prop::sample::subsequence(SCOPES.to_vec(), 0..=3),
                prop::sample::subsequence(AGENTS.to_vec(), 0..=3),
            ),
            1..12,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies/schema.cedarschema"),
            dir.path().join("schema.cedarschema"),
        )
        .unwrap();
        std::fs::write(dir.path().join("random.cedar"), policy_text(&policies)).unwrap();
        let store = PolicyStore::load(dir.path()).unwrap();
        for (action, agent, scopes, chain) in requests {
            let scopes: Vec<String> = scopes.into_iter().map(str::to_owned).collect();
            let chain: Vec<String> = chain.into_iter().map(str::to_owned).collect();
            let details = details_for(action);
            let tx = Transaction {
                agent,
                subject: "alice@example.com",
                client: "https://orchestrator.example/client",
                chain: &chain,
                action,
                audience: "https://pay.example.com",
                scopes: &scopes,
                details: details.as_ref(),
            };
            prop_assert_eq!(store.evaluate(&tx), store.evaluate_unindexed(&tx));
        }
    }
}
