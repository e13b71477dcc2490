//! Runs the policy tests in `policies/tests/` and checks that the runner reports failures.

use std::path::PathBuf;

use valet_policy::testing::{run_dir, run_json};
use valet_policy::PolicyStore;

fn policies_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../policies")
}

#[test]
fn policy_tests_pass() {
    let store = PolicyStore::load(policies_dir()).unwrap();
    let report = run_dir(&store, policies_dir().join("tests")).unwrap();
    assert!(report.cases.len() >= 20, "{report}");
    assert!(report.is_success(), "{report}");
    assert_eq!(
        report.summary(),
        format!("{} passed, 0 failed", report.cases.len())
    );
}

#[test]
fn failing_case_is_reported() {
    let store = PolicyStore::load(policies_dir()).unwrap();
    let cases = r#"[
      {"name": "wrongly expects a large payment to pass",
       "request": {"principal": "Acme::Agent::\"bot\"", "action": "Acme::Action::\"pay_invoice\"",
                   "resource": "Acme::Invoice::\"inv\"",
                   "context": {"audience": "a", "scopes": ["payments:write"], "amount": "900.00",
                               "currency": "USD", "recipient": "alice@example.com"}},
       "entities": [], "decision": "allow", "reason": [], "num_errors": 0},
      {"name": "wrong reason",
       "request": {"principal": "Acme::Agent::\"bot\"", "action": "Acme::Action::\"pay_invoice\"",
                   "resource": "Acme::Invoice::\"inv\"",
                   "context": {"audience": "a", "scopes": ["payments:write"], "amount": "900.00",
                               "currency": "USD", "recipient": "alice@example.com"}},
       "entities": [], "decision": "deny", "reason": ["payments-ceiling-usd"], "num_errors": 0},
      {"name": "wrong outcome",
       "request": {"principal": "Acme::Agent::\"bot\"", "action": "Acme::Action::\"pay_invoice\"",
                   "resource": "Acme::Invoice::\"inv\"",
                   "context": {"audience": "a", "scopes": ["payments:write"], "amount": "900.00",
                               "currency": "USD", "recipient": "alice@example.com"}},
       "entities": [], "decision": "deny", "reason": [], "num_errors": 0, "outcome": "deny"},
      {"name": "bad context",
       "request": {"principal": "Acme::Agent::\"bot\"", "action": "Acme::Action::\"pay_invoice\"",
                   "resource": "Acme::Invoice::\"inv\"",
                   "context": {"audience": "a", "scopes": [], "amount": "9x"}},
       "entities": [], "decision": "deny", "reason": [], "num_errors": 0}
    ]"#;
    let report = run_json(&store, &PathBuf::from("failing.json"), cases);
    assert_eq!(report.summary(), "0 passed, 4 failed", "{report}");
    let messages: Vec<&str> = report.cases.iter().map(|c| c.message.as_str()).collect();
    assert!(
        messages[0].contains("expected Allow, got Deny"),
        "{messages:?}"
    );
    assert!(
        messages[1].contains("missing reason(s): `payments-ceiling-usd`"),
        "{messages:?}"
    );
    assert!(
        messages[2].contains("expected outcome Deny, got NeedsApproval"),
        "{messages:?}"
    );
    assert!(
        messages[3].contains("cannot read the context"),
        "{messages:?}"
    );
    assert!(report.to_string().contains("FAILED"));

    let not_json = run_json(&store, &PathBuf::from("x.json"), "{");
    assert!(!not_json.is_success());
}

#[test]
fn entity_files_beside_the_tests_are_named_by_cases_not_run() {
    let store = PolicyStore::load(policies_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("acme.entities.json"),
        r#"[{"uid": {"type": "Acme::Agent", "id": "bot"},
             "attrs": {"person": {"__entity": {"type": "Acme::Person", "id": "alice"}},
                       "subject": "alice", "client": "bot", "depth": 0, "chain": [],
                       "verified": true},
             "parents": []}]"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cases.json"),
        r#"[{"name": "reads with the data beside it",
             "request": {"principal": "Acme::Agent::\"bot\"", "action": "Acme::Action::\"read_file\"",
                         "resource": "Acme::File::\"a\"",
                         "context": {"audience": "a", "scopes": ["tools:read"]}},
             "entities": "acme.entities.json", "decision": "allow", "reason": ["tools-read"],
             "num_errors": 0}]"#,
    )
    .unwrap();
    let report = valet_policy::testing::run_dir(&store, dir.path()).unwrap();
    assert_eq!(report.summary(), "1 passed, 0 failed", "{report}");
}
