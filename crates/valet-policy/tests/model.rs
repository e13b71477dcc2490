#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
//! The author's own model: agent and person types named by `@valet` annotations in any
//! namespace, resource types from `appliesTo`, entity data from a provider (failing
//! closed), and typed context members of every Cedar type.

use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cedar_policy::Entity;
use tempfile::TempDir;
use valet_policy::{
    EntityData, EntityError, EntityLookup, EntityProvider, PolicyDecision, PolicyError,
    PolicyLimits, PolicyOutcome, PolicyStore, Transaction,
};
use valet_token::details::{FieldValue, TransactionDetails};

const SCHEMA: &str = r#"namespace Docs {
  @valet("person")
  entity User in [Team] { email?: String };
  entity Team in [Team];
  @valet("agent")
  entity Bot in [Crew] { person: User, subject: String, depth: Long, verified: Bool };
  entity Crew;
  entity Folder in [Folder] { owner?: User };
  entity Document in [Folder] { owner: User, sensitivity: String };
  @detail_type("doc")
  action read appliesTo {
    principal: [Bot],
    resource: [Document],
    context: {
      audience: String,
      scopes: Set<String>,
      at?: datetime,
      window?: duration,
      from?: ipaddr,
      pages?: Set<Long>,
    },
  };
  action share appliesTo {
    principal: [Bot],
    resource: [Document],
    context: {
      audience: String,
      scopes: Set<String>,
      with: User,
      grant: { level: Long, until?: datetime },
      notes?: Set<{ by: User, text: String }>,
    },
  };
  action browse appliesTo {
    principal: [Bot],
    resource: [Document, Folder],
    context: { audience: String, scopes: Set<String> },
  };
}
"#;

const ENTITIES: &str = r#"[
  {"uid": {"type": "Docs::Team", "id": "org"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Docs::Team", "id": "finance"}, "attrs": {},
   "parents": [{"type": "Docs::Team", "id": "org"}]},
  {"uid": {"type": "Docs::User", "id": "alice"}, "attrs": {"email": "alice@example.com"},
   "parents": [{"type": "Docs::Team", "id": "finance"}]},
  {"uid": {"type": "Docs::User", "id": "bob"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Docs::Crew", "id": "night-shift"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Docs::Bot", "id": "owl"}, "attrs": {},
   "parents": [{"type": "Docs::Crew", "id": "night-shift"}]},
  {"uid": {"type": "Docs::Folder", "id": "finance"}, "attrs": {}, "parents": []},
  {"uid": {"type": "Docs::Folder", "id": "finance/q3"}, "attrs": {},
   "parents": [{"type": "Docs::Folder", "id": "finance"}]},
  {"uid": {"type": "Docs::Document", "id": "q3.xlsx"},
   "attrs": {"owner": {"__entity": {"type": "Docs::User", "id": "alice"}}, "sensitivity": "high"},
   "parents": [{"type": "Docs::Folder", "id": "finance/q3"}]}
]"#;

const POLICIES: &str = r#"
@id("org-reads-finance")
permit (principal, action == Docs::Action::"read", resource in Docs::Folder::"finance")
when { principal.person in Docs::Team::"org" };

@id("owners-browse")
permit (principal, action == Docs::Action::"browse", resource)
when { resource has owner && resource.owner == principal.person };

@id("no-night-shift")
@reason("the night shift reads nothing")
forbid (principal in Docs::Crew::"night-shift", action, resource);

@id("after-hours")
@approval("reads after 20:00 UTC need the owner's approval")
forbid (principal, action == Docs::Action::"read", resource)
when { context has at && context.at.toTime() >= duration("20h") };

@id("office-network")
forbid (principal, action == Docs::Action::"read", resource)
when { context has from && !context.from.isInRange(ip("10.0.0.0/8")) };

@id("few-pages")
forbid (principal, action == Docs::Action::"read", resource)
when { context has pages && context.pages.contains(13) };

@id("share-in-org")
permit (principal, action == Docs::Action::"share", resource)
when { context.with in Docs::Team::"org" && context.grant.level <= 2 };

@id("share-vetoed")
forbid (principal, action == Docs::Action::"share", resource)
when { context has notes && context.notes.contains({by: Docs::User::"bob", text: "no"}) };

@id("short-window")
forbid (principal, action == Docs::Action::"read", resource)
when { context has window && context.window > duration("1h") };
"#;

fn store_with(schema: &str, policies: &str) -> (TempDir, Result<PolicyStore, PolicyError>) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("schema.cedarschema"), schema).unwrap();
    fs::write(dir.path().join("p.cedar"), policies).unwrap();
    let store = PolicyStore::load(dir.path());
    (dir, store)
}

fn docs() -> (TempDir, PolicyStore, EntityData) {
    let (dir, store) = store_with(SCHEMA, POLICIES);
    let store = store.unwrap();
    let data = EntityData::from_json_str(ENTITIES, &store).unwrap();
    (dir, store, data)
}

fn tx<'a>(
    agent: &'a str,
    subject: &'a str,
    action: &'a str,
    scopes: &'a [String],
    details: Option<&'a TransactionDetails>,
) -> Transaction<'a> {
    Transaction {
        agent,
        subject,
        client: agent,
        chain: &[],
        action,
        audience: "https://docs.example.com",
        scopes,
        details,
        earlier: &[],
        verified: true,
    }
}

fn read(id: &str) -> TransactionDetails {
    TransactionDetails::new("doc").with("identifier", id)
}

fn decide(
    store: &PolicyStore,
    provider: &dyn EntityProvider,
    agent: &str,
    subject: &str,
    action: &str,
    details: &TransactionDetails,
) -> PolicyDecision {
    let scopes: Vec<String> = Vec::new();
    store.evaluate_with_entities(
        &tx(agent, subject, action, &scopes, Some(details)),
        provider,
        true,
    )
}

fn messages(d: &PolicyDecision) -> String {
    d.reasons
        .iter()
        .map(|r| r.message.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn a_namespaced_model_decides_through_hierarchies_and_entity_data() {
    let (_d, store, data) = docs();
    // alice is in finance, in org; the document is in finance/q3, in finance.
    let d = decide(&store, &data, "helper", "alice", "read", &read("q3.xlsx"));
    assert_eq!(d.outcome, PolicyOutcome::Allow, "{}", messages(&d));
    assert_eq!(d.determining[0].id, "org-reads-finance");
    // bob is in no team.
    let d = decide(&store, &data, "helper", "bob", "read", &read("q3.xlsx"));
    assert_eq!(d.outcome, PolicyOutcome::Deny, "{}", messages(&d));
    // The entity data puts the agent `owl` in the night shift.
    let d = decide(&store, &data, "owl", "alice", "read", &read("q3.xlsx"));
    assert_eq!(d.outcome, PolicyOutcome::Deny);
    assert!(
        messages(&d).contains("the night shift reads nothing"),
        "{}",
        messages(&d)
    );
    // Without the entity data nothing is known of people or documents.
    let scopes: Vec<String> = Vec::new();
    let details = read("q3.xlsx");
    let d = store.evaluate(&tx("helper", "alice", "read", &scopes, Some(&details)));
    assert_eq!(d.outcome, PolicyOutcome::Deny);
}

#[test]
fn a_resource_of_an_action_with_several_types_is_named_with_its_type() {
    let (_d, store, data) = docs();
    let browse = |id: &str| TransactionDetails::new("doc").with("identifier", id);
    let d = decide(
        &store,
        &data,
        "helper",
        "alice",
        "browse",
        &browse(r#"Docs::Document::"q3.xlsx""#),
    );
    assert_eq!(d.outcome, PolicyOutcome::Allow, "{}", messages(&d));
    let d = decide(
        &store,
        &data,
        "helper",
        "bob",
        "browse",
        &browse(r#"Docs::Document::"q3.xlsx""#),
    );
    assert_eq!(d.outcome, PolicyOutcome::Deny);
    let d = decide(
        &store,
        &data,
        "helper",
        "alice",
        "browse",
        &browse("q3.xlsx"),
    );
    assert_eq!(d.outcome, PolicyOutcome::Deny);
    assert!(
        messages(&d).contains(r#"write it like `Docs::Document::"q3.xlsx"`"#),
        "{}",
        messages(&d)
    );
    let d = decide(
        &store,
        &data,
        "helper",
        "alice",
        "browse",
        &browse(r#"Docs::User::"alice""#),
    );
    assert!(
        messages(&d).contains("is a `Docs::User`, which action `browse` does not take"),
        "{}",
        messages(&d)
    );
    // Without an identifier, an action of several resource types cannot be judged.
    let scopes: Vec<String> = Vec::new();
    let d = store.evaluate(&tx("helper", "alice", "browse", &scopes, None));
    assert!(
        messages(&d).contains("takes several resource types"),
        "{}",
        messages(&d)
    );
    // With one resource type, a plain id is of that type, and so is `Type::"id"`.
    let d = decide(
        &store,
        &data,
        "helper",
        "alice",
        "read",
        &read(r#"Docs::Document::"q3.xlsx""#),
    );
    assert_eq!(d.outcome, PolicyOutcome::Allow, "{}", messages(&d));
}

#[test]
fn context_members_of_extension_and_set_types() {
    let (_d, store, data) = docs();
    let at = |t: &str| read("q3.xlsx").with("at", t);
    let d = decide(
        &store,
        &data,
        "helper",
        "alice",
        "read",
        &at("2026-12-01T10:00:00+01:00"),
    );
    assert_eq!(d.outcome, PolicyOutcome::Allow, "{}", messages(&d));
    // 21:30 in Paris is 20:30 UTC.
    let d = decide(
        &store,
        &data,
        "helper",
        "alice",
        "read",
        &at("2026-12-01T21:30:00+01:00"),
    );
    assert_eq!(d.outcome, PolicyOutcome::NeedsApproval, "{}", messages(&d));
    let d = decide(&store, &data, "helper", "alice", "read", &at("tonight"));
    assert_eq!(d.outcome, PolicyOutcome::Deny);
    assert!(
        messages(&d).contains("transaction field `at`: `tonight` is not an RFC 3339 date-time"),
        "{}",
        messages(&d)
    );

    let from = |ip: &str| read("q3.xlsx").with("from", ip);
    assert_eq!(
        decide(&store, &data, "helper", "alice", "read", &from("10.1.2.3")).outcome,
        PolicyOutcome::Allow
    );
    assert_eq!(
        decide(
            &store,
            &data,
            "helper",
            "alice",
            "read",
            &from("192.168.0.1")
        )
        .outcome,
        PolicyOutcome::Deny
    );
    let d = decide(&store, &data, "helper", "alice", "read", &from("10.1.2"));
    assert!(
        messages(&d).contains("is not an IP address"),
        "{}",
        messages(&d)
    );

    let window = |w: &str| read("q3.xlsx").with("window", w);
    assert_eq!(
        decide(&store, &data, "helper", "alice", "read", &window("30m")).outcome,
        PolicyOutcome::Allow
    );
    assert_eq!(
        decide(&store, &data, "helper", "alice", "read", &window("1h1s")).outcome,
        PolicyOutcome::Deny
    );
    let d = decide(&store, &data, "helper", "alice", "read", &window("1.5h"));
    assert!(
        messages(&d).contains("is not a duration"),
        "{}",
        messages(&d)
    );

    let d = decide(
        &store,
        &data,
        "helper",
        "alice",
        "read",
        &read("q3.xlsx").field("pages", FieldValue::List(vec!["1".into()])),
    );
    assert!(
        messages(&d)
            .contains("transaction field `pages[0]` must be an integer, found the string \"1\""),
        "{}",
        messages(&d)
    );
    let d = decide(
        &store,
        &data,
        "helper",
        "alice",
        "read",
        &read("q3.xlsx").field("at", FieldValue::Long(5)),
    );
    assert!(
        messages(&d).contains("transaction field `at` must be an RFC 3339 date-time string"),
        "{}",
        messages(&d)
    );
}

/// A provider that fails in a chosen way, counting its calls.
struct Faulty {
    fault: Fault,
    calls: AtomicUsize,
}

enum Fault {
    Error,
    Slow,
    Invalid,
    AgentAttributes,
    Action,
}

impl EntityProvider for Faulty {
    fn entities(&self, lookup: &EntityLookup<'_>) -> Result<Vec<Entity>, EntityError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let json = |text: &str| Entity::from_json_str(text, None).unwrap();
        match self.fault {
            Fault::Error => Err(EntityError::new("the directory service is down")),
            Fault::Slow => {
                std::thread::sleep(Duration::from_millis(150));
                Ok(Vec::new())
            }
            // A document without its required owner.
            Fault::Invalid => Ok(vec![json(
                r#"{"uid": {"type": "Docs::Document", "id": "q3.xlsx"}, "attrs": {"sensitivity": "high"}, "parents": []}"#,
            )]),
            Fault::AgentAttributes => {
                let agent = lookup.agents()[0].clone();
                Ok(vec![Entity::new(
                    agent,
                    [(
                        "subject".to_owned(),
                        cedar_policy::RestrictedExpression::new_string("mallory".into()),
                    )]
                    .into(),
                    Default::default(),
                )
                .unwrap()])
            }
            Fault::Action => Ok(vec![json(
                r#"{"uid": {"type": "Docs::Action", "id": "read"}, "attrs": {}, "parents": []}"#,
            )]),
        }
    }
}

#[test]
fn entity_data_that_fails_is_a_deny_that_says_so() {
    let (_d, store, _data) = docs();
    for (fault, expected) in [
        (
            Fault::Error,
            "the entity data could not be read: the directory service is down",
        ),
        (Fault::Slow, "more than its limit of 100 ms"),
        (Fault::Invalid, "the entity data does not fit the schema"),
        (
            Fault::AgentAttributes,
            "an agent's attributes are filled by Valet",
        ),
        (
            Fault::Action,
            "actions and their groups come from the schema",
        ),
    ] {
        let provider = Faulty {
            fault,
            calls: AtomicUsize::new(0),
        };
        let d = decide(
            &store,
            &provider,
            "helper",
            "alice",
            "read",
            &read("q3.xlsx"),
        );
        assert_eq!(d.outcome, PolicyOutcome::Deny, "{expected}");
        assert!(
            messages(&d).contains(expected),
            "{expected}: {}",
            messages(&d)
        );
        assert_eq!(provider.calls.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn the_entity_timeout_is_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("schema.cedarschema"), SCHEMA).unwrap();
    fs::write(dir.path().join("p.cedar"), POLICIES).unwrap();
    let limits = PolicyLimits {
        entity_timeout: Duration::from_secs(5),
        ..PolicyLimits::default()
    };
    let store = PolicyStore::load_with_limits(dir.path(), limits).unwrap();
    let provider = Faulty {
        fault: Fault::Slow,
        calls: AtomicUsize::new(0),
    };
    let d = decide(
        &store,
        &provider,
        "helper",
        "alice",
        "read",
        &read("q3.xlsx"),
    );
    // Not late any more: denied by the policies (nothing is known of alice), not the clock.
    assert!(!messages(&d).contains("limit"), "{}", messages(&d));
}

#[test]
fn a_lookup_gathers_the_request_entities_with_their_ancestors_and_references() {
    let (_d, store, data) = docs();
    struct Spy<'a>(&'a EntityData, std::sync::Mutex<Vec<String>>);
    impl EntityProvider for Spy<'_> {
        fn entities(&self, lookup: &EntityLookup<'_>) -> Result<Vec<Entity>, EntityError> {
            let got = self.0.gather(lookup)?;
            let mut ids: Vec<String> = got.iter().map(|e| e.uid().to_string()).collect();
            ids.sort();
            *self.1.lock().unwrap() = ids;
            Ok(got)
        }
    }
    let spy = Spy(&data, Default::default());
    let d = decide(&store, &spy, "helper", "bob", "read", &read("q3.xlsx"));
    assert_eq!(d.outcome, PolicyOutcome::Deny);
    // bob, the document, its folders, and alice (its owner) with her teams; not `owl`,
    // its crew or anything else.
    assert_eq!(
        *spy.1.lock().unwrap(),
        [
            r#"Docs::Document::"q3.xlsx""#,
            r#"Docs::Folder::"finance""#,
            r#"Docs::Folder::"finance/q3""#,
            r#"Docs::Team::"finance""#,
            r#"Docs::Team::"org""#,
            r#"Docs::User::"alice""#,
            r#"Docs::User::"bob""#,
        ]
    );
}

fn load_problems(schema: &str) -> Vec<String> {
    let (_d, store) = store_with(schema, "");
    match store {
        Err(PolicyError::Diagnostics(d)) => d.iter().map(ToString::to_string).collect(),
        other => panic!("expected diagnostics, got {other:?}"),
    }
}

#[test]
fn the_model_is_checked_at_load_with_file_line_diagnostics() {
    let problems = load_problems("namespace A {\n  entity Bot;\n  action go appliesTo { principal: [Bot], resource: [Bot] };\n}\n");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("no entity type is annotated `@valet(\"agent\")`"),
        "{problems:?}"
    );

    let problems = load_problems(
        "namespace A {\n  @valet(\"agent\")\n  entity Bot { subject: Long, nickname: String };\n}\n",
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .all(|p| p.contains("schema.cedarschema:3:3")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`A::Bot` attribute `subject` must be declared as `String`")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`A::Bot` attribute `nickname` is not one Valet fills")),
        "{problems:?}"
    );

    let problems = load_problems("@valet(\"agent\")\nentity Bot { person: String };\n");
    assert!(
        problems[0].contains("attribute `person` needs a person type"),
        "{problems:?}"
    );

    let problems = load_problems(
        "@valet(\"agent\") entity A;\n@valet(\"agent\") entity B;\n@valet(\"boss\") entity C;\n",
    );
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("more than one entity type is annotated")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains(":3:") && p.contains("takes \"agent\" or \"person\"")),
        "{problems:?}"
    );

    let problems = load_problems(
        "@valet(\"agent\") entity Bot;\nnamespace X { action go appliesTo { principal: [Bot], resource: [Bot] }; }\nnamespace Y {\n  action go appliesTo { principal: [Bot], resource: [Bot] };\n}\n",
    );
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("action `go` is declared in namespace"),
        "{problems:?}"
    );

    // A person type and an agent attribute `person` of that type load.
    let (_d, store) = store_with(
        "namespace P { @valet(\"person\") entity Human; @valet(\"agent\") entity Bot { person: Human }; }\n",
        "",
    );
    store.unwrap();
}

#[test]
fn agent_parents_that_the_schema_does_not_allow_are_refused() {
    let (_d, store, _data) = docs();
    // `Docs::Bot` may be in a `Docs::Crew` only.
    let bad = r#"[{"uid": {"type": "Docs::Team", "id": "org"}, "attrs": {}, "parents": []},
            {"uid": {"type": "Docs::Bot", "id": "helper"}, "attrs": {},
             "parents": [{"type": "Docs::Team", "id": "org"}]}]"#;
    let err = EntityData::from_json_str(bad, &store).unwrap_err();
    assert!(
        err.message()
            .contains("puts agent `Docs::Bot::\"helper\"` in `Docs::Team::\"org\"`, but the schema does not let `Docs::Bot` be in a `Docs::Team`"),
        "{err}"
    );
    // From any other provider, the same data is a deny that says so.
    struct Given(Vec<Entity>);
    impl EntityProvider for Given {
        fn entities(&self, _: &EntityLookup<'_>) -> Result<Vec<Entity>, EntityError> {
            Ok(self.0.clone())
        }
    }
    let given = Given(
        cedar_policy::Entities::from_json_str(bad, None)
            .unwrap()
            .iter()
            .cloned()
            .collect(),
    );
    let d = decide(&store, &given, "helper", "alice", "read", &read("q3.xlsx"));
    assert_eq!(d.outcome, PolicyOutcome::Deny);
    assert!(
        messages(&d).contains("the schema does not let `Docs::Bot` be in a `Docs::Team`"),
        "{}",
        messages(&d)
    );
    // Agents' attributes are refused when the data is read.
    let err = EntityData::from_json_str(
        r#"[{"uid": {"type": "Docs::Bot", "id": "helper"}, "attrs": {"depth": 0}, "parents": []}]"#,
        &store,
    )
    .unwrap_err();
    assert!(err.message().contains("give agents parents only"), "{err}");
}

#[test]
fn entity_data_read_against_an_older_schema_is_validated_again() {
    let (dir, store, data) = docs();
    // The same schema, loaded again: the data was validated against the load before.
    store.reload().unwrap();
    let d = decide(&store, &data, "helper", "alice", "read", &read("q3.xlsx"));
    assert_eq!(d.outcome, PolicyOutcome::Allow, "{}", messages(&d));
    // A schema that the data no longer fits: every decision says so.
    let stricter = SCHEMA.replace(
        "entity Team in [Team];",
        "entity Team in [Team] { budget: Long };",
    );
    fs::write(dir.path().join("schema.cedarschema"), stricter).unwrap();
    store.reload().unwrap();
    let d = decide(&store, &data, "helper", "alice", "read", &read("q3.xlsx"));
    assert_eq!(d.outcome, PolicyOutcome::Deny);
    assert!(
        messages(&d).contains("the entity data does not fit the schema"),
        "{}",
        messages(&d)
    );
}

#[test]
fn records_entity_references_and_sets_of_records_in_the_context() {
    let (_d, store, data) = docs();
    let json =
        |text: &str| TransactionDetails::from_json(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    let share = |extra: &str| {
        json(&format!(
            r#"{{"type": "doc", "identifier": "q3.xlsx",
                "with": {{"__entity": {{"type": "Docs::User", "id": "alice"}}}}{extra}}}"#
        ))
    };
    let d = decide(
        &store,
        &data,
        "helper",
        "alice",
        "share",
        &share(r#", "grant": {"level": 1}"#),
    );
    assert_eq!(d.outcome, PolicyOutcome::Allow, "{}", messages(&d));
    let d = decide(
        &store,
        &data,
        "helper",
        "alice",
        "share",
        &share(
            r#", "grant": {"level": 1, "until": {"__extn": {"fn": "datetime", "arg": "2027-01-01"}}}"#,
        ),
    );
    assert_eq!(d.outcome, PolicyOutcome::Allow, "{}", messages(&d));
    assert_eq!(
        decide(
            &store,
            &data,
            "helper",
            "alice",
            "share",
            &share(r#", "grant": {"level": 3}"#)
        )
        .outcome,
        PolicyOutcome::Deny
    );
    let vetoed = share(
        r#", "grant": {"level": 1},
           "notes": [{"by": {"__entity": {"type": "Docs::User", "id": "bob"}}, "text": "no"}]"#,
    );
    let d = decide(&store, &data, "helper", "alice", "share", &vetoed);
    assert_eq!(d.outcome, PolicyOutcome::Deny);
    assert_eq!(d.determining[0].id, "share-vetoed");

    for (extra, expected) in [
        (r#""#, "transaction field `grant` is missing"),
        (
            r#", "grant": {}"#,
            "transaction field `grant.level` is missing: `grant` needs it as an integer",
        ),
        (
            r#", "grant": {"level": 1, "by": "me"}"#,
            "transaction field `grant.by` is not a member of `grant`",
        ),
        (
            r#", "grant": {"level": "1"}"#,
            "transaction field `grant.level` must be an integer",
        ),
        (
            r#", "grant": {"level": 1, "until": {"__extn": {"fn": "decimal", "arg": "1.0"}}}"#,
            "transaction field `grant.until` calls `decimal`, but its type needs `datetime`",
        ),
        (
            r#", "grant": {"level": 1}, "notes": [{"by": "bob", "text": "no"}]"#,
            "transaction field `notes[0].by` must be an entity reference",
        ),
    ] {
        let d = decide(&store, &data, "helper", "alice", "share", &share(extra));
        assert_eq!(d.outcome, PolicyOutcome::Deny, "{extra}");
        assert!(messages(&d).contains(expected), "{extra}: {}", messages(&d));
    }
    let other_type = json(
        r#"{"type": "doc", "identifier": "q3.xlsx", "grant": {"level": 1},
            "with": {"__entity": {"type": "Docs::Team", "id": "org"}}}"#,
    );
    let d = decide(&store, &data, "helper", "alice", "share", &other_type);
    assert!(
        messages(&d).contains(
            "transaction field `with` must refer to a `Docs::User`, found a `Docs::Team`"
        ),
        "{}",
        messages(&d)
    );
}

#[test]
fn an_agent_is_in_every_group_above_its_own() {
    let schema = SCHEMA.replace("entity Crew;", "entity Crew in [Crew];");
    let (_d, store) = store_with(
        &schema,
        r#"permit (principal in Docs::Crew::"everyone", action == Docs::Action::"read", resource);"#,
    );
    let store = store.unwrap();
    let json = r#"[
        {"uid": {"type": "Docs::Crew", "id": "everyone"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Docs::Crew", "id": "night-shift"}, "attrs": {},
         "parents": [{"type": "Docs::Crew", "id": "everyone"}]},
        {"uid": {"type": "Docs::Bot", "id": "owl"}, "attrs": {},
         "parents": [{"type": "Docs::Crew", "id": "night-shift"}]}
    ]"#;
    let data = EntityData::from_json_str(json, &store).unwrap();
    struct Given(Vec<Entity>);
    impl EntityProvider for Given {
        fn entities(&self, _: &EntityLookup<'_>) -> Result<Vec<Entity>, EntityError> {
            Ok(self.0.clone())
        }
    }
    // Each entity read on its own: parents only, no hierarchy closed.
    let given = Given(
        serde_json::from_str::<Vec<serde_json::Value>>(json)
            .unwrap()
            .into_iter()
            .map(|e| Entity::from_json_value(e, None).unwrap())
            .collect(),
    );
    for provider in [&data as &dyn EntityProvider, &given] {
        let d = decide(&store, provider, "owl", "alice", "read", &read("q3.xlsx"));
        assert_eq!(d.outcome, PolicyOutcome::Allow, "{}", messages(&d));
        let d = decide(
            &store,
            provider,
            "helper",
            "alice",
            "read",
            &read("q3.xlsx"),
        );
        assert_eq!(d.outcome, PolicyOutcome::Deny);
    }
}

#[test]
fn an_entity_in_an_agent_is_in_the_agent_s_groups_too() {
    let schema = r#"namespace N {
      @valet("agent") entity Bot in [Crew];
      entity Crew;
      entity Note in [Bot];
      action read appliesTo { principal: [Bot], resource: [Note], context: { audience: String, scopes: Set<String> } };
    }"#;
    let (_d, store) = store_with(
        schema,
        r#"permit (principal, action, resource);
           forbid (principal, action, resource in N::Crew::"night-shift");"#,
    );
    let store = store.unwrap();
    let json = r#"[
        {"uid": {"type": "N::Crew", "id": "night-shift"}, "attrs": {}, "parents": []},
        {"uid": {"type": "N::Bot", "id": "owl"}, "attrs": {},
         "parents": [{"type": "N::Crew", "id": "night-shift"}]},
        {"uid": {"type": "N::Note", "id": "n"}, "attrs": {},
         "parents": [{"type": "N::Bot", "id": "owl"}]}
    ]"#;
    struct Given(Vec<Entity>);
    impl EntityProvider for Given {
        fn entities(&self, _: &EntityLookup<'_>) -> Result<Vec<Entity>, EntityError> {
            Ok(self.0.clone())
        }
    }
    let given = Given(
        serde_json::from_str::<Vec<serde_json::Value>>(json)
            .unwrap()
            .into_iter()
            .map(|e| Entity::from_json_value(e, None).unwrap())
            .collect(),
    );
    let data = EntityData::from_json_str(json, &store).unwrap();
    let note = TransactionDetails::new("doc").with("identifier", "n");
    for provider in [&data as &dyn EntityProvider, &given] {
        // Judged for `owl` (the note's parent), as the acting agent.
        let d = decide(&store, provider, "owl", "alice", "read", &note);
        assert_eq!(d.outcome, PolicyOutcome::Deny, "{}", messages(&d));
    }
}
