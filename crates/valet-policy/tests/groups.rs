#![expect(clippy::unwrap_used, reason = "tests fail by panicking")]
//! Action groups: a policy scoped to a group, or testing `action in` a group in its
//! condition, applies to the group's actions (and its groups' actions) and to no other.
//! The bundled schema has no groups, so requests there are built without the action
//! entities; this schema has them, so requests carry them.

use std::fs;

use tempfile::TempDir;
use valet_policy::{PolicyOutcome, PolicyStore, Transaction};

const SCHEMA: &str = r#"@valet("agent") entity Agent { subject: String, client: String, depth: Long, chain: Set<String> };
entity Resource;
action any_file;
action writes in [any_file];
action read_file in [any_file] appliesTo {
  principal: [Agent], resource: [Resource], context: { audience: String, scopes: Set<String> },
};
action write_file, delete_file in [writes] appliesTo {
  principal: [Agent], resource: [Resource], context: { audience: String, scopes: Set<String> },
};
action send_email appliesTo {
  principal: [Agent], resource: [Resource], context: { audience: String, scopes: Set<String> },
};
"#;

const POLICIES: &str = r#"
@id("files")
permit (principal, action in Action::"any_file", resource);
@id("mail")
permit (principal, action == Action::"send_email", resource);
@id("no-deletes")
forbid (principal, action, resource)
when { action in Action::"writes" && !context.scopes.contains("files:write") };
@id("bot-reads-only")
forbid (principal == Agent::"bot", action in [Action::"writes"], resource);
"#;

fn store() -> (TempDir, PolicyStore) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("schema.cedarschema"), SCHEMA).unwrap();
    fs::write(dir.path().join("p.cedar"), POLICIES).unwrap();
    let store = PolicyStore::load(dir.path()).unwrap();
    (dir, store)
}

fn decide(
    store: &PolicyStore,
    agent: &str,
    action: &str,
    scopes: &[&str],
) -> (PolicyOutcome, Vec<String>) {
    let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    let tx = Transaction {
        agent,
        subject: "alice",
        client: "orchestrator",
        chain: &[],
        action,
        audience: "https://files.example.com",
        scopes: &scopes,
        details: None,
        earlier: &[],
        verified: true,
    };
    let d = store.evaluate(&tx);
    assert_eq!(
        d,
        store.evaluate_unindexed(&tx),
        "{agent} {action} {scopes:?}"
    );
    (d.outcome, d.determining.into_iter().map(|p| p.id).collect())
}

#[test]
fn group_scopes_and_conditions_reach_the_group_actions_only() {
    let (_dir, store) = store();
    let allow = PolicyOutcome::Allow;
    let deny = PolicyOutcome::Deny;
    assert_eq!(
        decide(&store, "agent", "read_file", &[]),
        (allow, vec!["files".into()])
    );
    assert_eq!(
        decide(&store, "agent", "write_file", &["files:write"]),
        (allow, vec!["files".into()])
    );
    assert_eq!(
        decide(&store, "agent", "delete_file", &[]),
        (deny, vec!["no-deletes".into()])
    );
    assert_eq!(
        decide(&store, "agent", "send_email", &[]),
        (allow, vec!["mail".into()])
    );
    assert_eq!(
        decide(&store, "bot", "read_file", &[]),
        (allow, vec!["files".into()])
    );
    assert_eq!(
        decide(&store, "bot", "delete_file", &[]),
        (deny, vec!["bot-reads-only".into(), "no-deletes".into()])
    );
    assert_eq!(
        decide(&store, "bot", "write_file", &["files:write"]),
        (deny, vec!["bot-reads-only".into()])
    );
}
