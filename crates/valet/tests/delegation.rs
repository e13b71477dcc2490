//! Delegation is monotonic through the policies as through the token: a delegate names
//! itself, offline, so a block appended to a token must never turn a deny or a
//! needs-approval into an allow. And what the audit record states of a token or a proof is
//! what was verified.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::fs;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use valet::danger::{BearerMinting, DangerousAuthorizerBuilder};
use valet::*;

const SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../valet-policy/tests/support/flat.cedarschema"
);
const FILES: &str = "https://files.example.com";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

/// An authorizer over the bundled schema and these policies, with a memory audit.
fn authorizer(policies: &str) -> (tempfile::TempDir, Authorizer, Arc<MemoryAudit>, RootKeyPair) {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(SCHEMA, dir.path().join("schema.cedarschema")).unwrap();
    fs::write(dir.path().join("p.cedar"), policies).unwrap();
    let root = RootKeyPair::generate(KeyId(1));
    let audit = Arc::new(MemoryAudit::new());
    let az = Authorizer::builder(
        KeySet::new().with(root.public()),
        PolicyStore::load(dir.path()).unwrap(),
    )
    .accept_bearer_tokens()
    .clock(Arc::new(FixedClock::new(now())))
    .audit(audit.clone())
    .build();
    (dir, az, audit, root)
}

fn mint(root: &RootKeyPair, client: &str, scopes: &[&str]) -> Token {
    let mut grant = TokenBuilder::new("alice@example.com", client)
        .bearer()
        .audience(Audience::parse(FILES).unwrap())
        .expires_in(Duration::from_secs(600));
    for s in scopes {
        grant = grant.scope(Scope::parse(*s).unwrap());
    }
    Issuer::new(root.clone()).mint_at(grant, now()).unwrap()
}

fn files(action: &str) -> Request {
    Request::new(Audience::parse(FILES).unwrap(), action)
}

#[test]
fn a_delegate_cannot_name_itself_into_a_permit() {
    let (_d, az, _audit, root) = authorizer(
        r#"permit (principal == Agent::"auditor", action == Action::"read_file", resource);"#,
    );
    // The token may not read files: no policy permits its client.
    let token = mint(&root, "https://orchestrator.example/client", &[]);
    assert_eq!(
        az.authorize(&token, &files("read_file"), &valet::Presentation::new())
            .outcome(),
        Outcome::Deny
    );
    // Naming the delegate `auditor` is a claim, not an identity.
    let child = token
        .attenuate(Attenuation::new().delegate("auditor"))
        .unwrap();
    let d = az.authorize(&child, &files("read_file"), &valet::Presentation::new());
    assert_eq!(d.outcome(), Outcome::Deny, "{:?}", d.reasons());
    assert!(
        d.reasons()[0]
            .message
            .contains("who delegated to `auditor`, is not allowed this request"),
        "{:?}",
        d.reasons()
    );
}

#[test]
fn a_forbidden_sub_agent_cannot_rename_itself_to_escape_its_forbid() {
    let (_d, az, audit, root) = authorizer(
        r#"@id("tools-write")
permit (principal, action == Action::"write_file", resource)
when { context.scopes.contains("tools:write") };
@id("no-browser")
@reason("the browser agent never writes files")
forbid (principal == Agent::"browser-agent", action == Action::"write_file", resource);"#,
    );
    let token = mint(
        &root,
        "https://orchestrator.example/client",
        &["tools:write"],
    );
    let browser = token
        .attenuate(Attenuation::new().delegate("browser-agent"))
        .unwrap();
    let d = az.authorize(&browser, &files("write_file"), &valet::Presentation::new());
    assert_eq!(d.outcome(), Outcome::Deny);
    // The browser agent appends a block naming itself `orchestrator`.
    let renamed = browser
        .attenuate(Attenuation::new().delegate("orchestrator"))
        .unwrap();
    let d = az.authorize(&renamed, &files("write_file"), &valet::Presentation::new());
    assert_eq!(d.outcome(), Outcome::Deny, "{:?}", d.reasons());
    assert_eq!(
        d.reasons()[0].message,
        "`browser-agent`, who delegated to `orchestrator`, is not allowed this request, and a \
         delegate is never allowed more than its delegator: forbidden by `no-browser`: the \
         browser agent never writes files"
    );
    assert_eq!(d.reasons()[0].policy.as_deref(), Some("no-browser"));
    // The audit record names the whole chain, the forbidden agent included.
    let record = audit.records().pop().unwrap();
    let names: Vec<_> = record
        .chain
        .iter()
        .filter_map(|l| l.delegate.clone())
        .collect();
    assert_eq!(names, ["browser-agent", "orchestrator"]);
    assert_eq!(record.outcome, Outcome::Deny);
}

#[test]
fn dropping_a_scope_cannot_escape_a_forbid_on_it() {
    let (_d, az, _audit, root) = authorizer(
        r#"permit (principal, action == Action::"read_file", resource);
@id("sandboxed")
forbid (principal, action == Action::"read_file", resource)
when { context.scopes.contains("sandbox") };"#,
    );
    let token = mint(&root, "bot", &["sandbox", "tools:read"]);
    assert_eq!(
        az.authorize(&token, &files("read_file"), &valet::Presentation::new())
            .outcome(),
        Outcome::Deny
    );
    let narrowed = token
        .attenuate(Attenuation::new().scopes([Scope::parse("tools:read").unwrap()]))
        .unwrap();
    let d = az.authorize(&narrowed, &files("read_file"), &valet::Presentation::new());
    assert_eq!(d.outcome(), Outcome::Deny, "{:?}", d.reasons());
    assert!(
        d.reasons()[0]
            .message
            .starts_with("the token as of block 0 is not allowed"),
        "{:?}",
        d.reasons()
    );
}

#[test]
fn an_unverified_token_is_audited_under_unverified_claims() {
    let (_d, az, audit, root) = authorizer(r#"permit (principal, action, resource);"#);
    let token = mint(&root, "bot", &[]);
    // Every `alice` flipped to `elice`: the claims now say `elice`, the signatures fail.
    let mut bytes = token.to_bytes().to_vec();
    let mut flipped = 0;
    for at in 0..bytes.len().saturating_sub(5) {
        if &bytes[at..at + 5] == b"alice" {
            bytes[at] = b'e';
            flipped += 1;
        }
    }
    assert!(flipped > 0, "the subject is in the token");
    let d = az.authorize_encoded(
        valet::Encoded::Bytes(&bytes),
        &files("read_file"),
        &valet::Presentation::new(),
    );
    assert_eq!(d.outcome(), Outcome::Deny);
    let record = audit.records().pop().unwrap();
    assert!(!record.token_verified);
    assert_eq!(record.subject, None);
    assert_eq!(record.client, None);
    assert_eq!(record.agent, None);
    assert!(record.revocation_ids.is_empty());
    let claimed = record.unverified_claims.as_ref().unwrap();
    assert_eq!(claimed.subject, "elice@example.com");
    let line: serde_json::Value = serde_json::from_str(&record.to_json_line()).unwrap();
    assert!(line.get("subject").is_none(), "{line}");
    assert_eq!(line["unverified_claims"]["subject"], "elice@example.com");
    // A verified token is recorded as before.
    let d = az.authorize(&token, &files("read_file"), &valet::Presentation::new());
    assert_eq!(d.outcome(), Outcome::Allow);
    let record = audit.records().pop().unwrap();
    assert_eq!(record.subject.as_deref(), Some("alice@example.com"));
    assert!(record.unverified_claims.is_none());
}

#[test]
fn a_proof_key_is_audited_only_when_the_proof_verified() {
    let (_d, az, audit, root) = authorizer(r#"permit (principal, action, resource);"#);
    let agent = SigningKey::generate();
    let victim = SigningKey::generate();
    let token = Issuer::new(root.clone())
        .mint_at(
            TokenBuilder::new("alice@example.com", "bot")
                .bearer()
                .audience(Audience::parse(FILES).unwrap())
                .holder(agent.public())
                .expires_in(Duration::from_secs(600)),
            now(),
        )
        .unwrap();
    let request = files("read_file");
    // A proof signed by the attacker, relabelled with the victim's key.
    let mut forged = HolderProof::sign(&agent, &token, &request, now()).unwrap();
    forged.key = victim.public();
    let d = az.authorize(&token, &request, &Presentation::new().proof(forged));
    assert_eq!(d.outcome(), Outcome::Deny);
    assert_eq!(audit.records().pop().unwrap().proof_key, None);
    // An expired token: the proof is never checked, so its key is not recorded.
    let late = Request::new(
        Audience::parse("https://elsewhere.example").unwrap(),
        "read_file",
    );
    let proof = HolderProof::sign(&victim, &token, &late, now()).unwrap();
    let d = az.authorize(&token, &late, &Presentation::new().proof(proof));
    assert_eq!(d.outcome(), Outcome::Deny);
    assert_eq!(audit.records().pop().unwrap().proof_key, None);
    // The holder's own proof is recorded.
    let proof = HolderProof::sign(&agent, &token, &request, now()).unwrap();
    let d = az.authorize(&token, &request, &Presentation::new().proof(proof));
    assert_eq!(d.outcome(), Outcome::Allow, "{:?}", d.reasons());
    assert_eq!(
        audit.records().pop().unwrap().proof_key,
        Some(agent.public())
    );
}

// The property: over random policies keyed on agent names, chain membership, depth,
// scopes and resources, random chains (named and unnamed delegates, scope narrowings,
// holder bindings signed by the current holder or appended unsigned) and random requests
// (with and without locations), appending any block never raises the outcome.

const NAMES: [&str; 4] = ["orchestrator", "browser-agent", "auditor", "sub"];
const SCOPES: [&str; 3] = ["tools:read", "tools:write", "sandbox"];
const ACTIONS: [&str; 3] = ["read_file", "write_file", "delete_file"];
const RESOURCES: [&str; 3] = ["res-a", "res-b", "res-c"];

fn condition() -> impl Strategy<Value = String> {
    let name = prop::sample::select(&NAMES[..]);
    let scope = prop::sample::select(&SCOPES[..]);
    prop_oneof![
        Just(String::new()),
        name.clone()
            .prop_map(|n| format!(r#"when {{ principal.chain.contains("{n}") }}"#)),
        name.clone()
            .prop_map(|n| format!(r#"unless {{ principal.chain.contains("{n}") }}"#)),
        (0i64..4).prop_map(|d| format!("when {{ principal.depth >= {d} }}")),
        (0i64..4).prop_map(|d| format!("when {{ principal.depth < {d} }}")),
        scope
            .clone()
            .prop_map(|s| format!(r#"when {{ context.scopes.contains("{s}") }}"#)),
        scope.prop_map(|s| format!(r#"unless {{ context.scopes.contains("{s}") }}"#)),
        name.prop_map(|n| format!(r#"when {{ principal.client == "{n}" }}"#)),
    ]
}

fn policy() -> impl Strategy<Value = String> {
    (
        0u8..3,
        prop::option::of(prop::sample::select(&NAMES[..])),
        prop::option::of(prop::sample::select(&ACTIONS[..])),
        prop::option::weighted(0.3, prop::sample::select(&RESOURCES[..])),
        condition(),
    )
        .prop_map(|(effect, agent, action, resource, condition)| {
            let head = match effect {
                0 => "permit",
                1 => "forbid",
                _ => "@approval(\"ask\")\nforbid",
            };
            let principal = agent.map_or("principal".to_owned(), |a| {
                format!(r#"principal == Agent::"{a}""#)
            });
            let action = action.map_or("action".to_owned(), |a| {
                format!(r#"action == Action::"{a}""#)
            });
            let resource = resource.map_or("resource".to_owned(), |r| {
                format!(r#"resource == Resource::"{r}""#)
            });
            format!("{head} ({principal}, {action}, {resource})\n{condition};\n")
        })
}

/// How a block binds the token to a holder key.
#[derive(Clone, Copy, Debug)]
enum Binding {
    /// It binds none.
    None,
    /// Signed by the current holder (when the token is bound), handing the token to a new
    /// key.
    Signed,
    /// Appended unsigned, binding a new key (anyone holding the token can do it).
    Unsigned,
}

#[derive(Clone, Debug)]
struct Block {
    delegate: Option<&'static str>,
    scopes: Option<BTreeSet<&'static str>>,
    binding: Binding,
}

fn block() -> impl Strategy<Value = Block> {
    (
        prop::option::of(prop::sample::select(&NAMES[..])),
        prop::option::of(prop::collection::btree_set(
            prop::sample::select(&SCOPES[..]),
            0..3,
        )),
        prop_oneof![
            3 => Just(Binding::None),
            1 => Just(Binding::Signed),
            1 => Just(Binding::Unsigned),
        ],
    )
        .prop_map(|(delegate, scopes, binding)| Block {
            delegate,
            scopes,
            binding,
        })
}

fn rank(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Deny => 0,
        Outcome::NeedsApproval => 1,
        Outcome::Allow => 2,
    }
}

/// The request, with a fresh proof by the current holder key when the token is bound.
fn judge(
    az: &Authorizer,
    token: &Token,
    request: &Request,
    holder: Option<&SigningKey>,
) -> Decision {
    let mut presented = Presentation::new();
    if let Some(key) = holder {
        presented = presented.proof(HolderProof::sign(key, token, request, now()).unwrap());
    }
    az.authorize(token, request, &presented)
}

/// One token and the blocks appended to it: what a case of the properties below judges.
#[derive(Debug)]
struct Case {
    subject: &'static str,
    client: &'static str,
    scopes: BTreeSet<&'static str>,
    bound: bool,
    blocks: Vec<Block>,
    action: &'static str,
    locations: Vec<&'static str>,
}

/// Judges the request with the token as minted, then after each block appended, and
/// fails when a block raises the outcome.
fn never_raised(
    az: &Authorizer,
    root: &RootKeyPair,
    case: &Case,
    policies: &str,
) -> Result<(), TestCaseError> {
    let mut holder = case.bound.then(SigningKey::generate);
    let mut grant = TokenBuilder::new(case.subject, case.client)
        .bearer()
        .audience(Audience::parse(FILES).unwrap())
        .expires_in(Duration::from_secs(600));
    for s in &case.scopes {
        grant = grant.scope(Scope::parse(*s).unwrap());
    }
    if let Some(key) = &holder {
        grant = grant.holder(key.public());
    }
    let mut token = Issuer::new(root.clone()).mint_at(grant, now()).unwrap();
    let mut request = files(case.action);
    if !case.locations.is_empty() {
        request = request.details(TransactionDetails::new("file").field(
            "locations",
            FieldValue::List(case.locations.iter().map(|l| (*l).to_owned()).collect()),
        ));
    }
    let mut before = judge(az, &token, &request, holder.as_ref());
    for b in &case.blocks {
        let mut a = Attenuation::new();
        if let Some(name) = b.delegate {
            a = a.delegate(name);
        }
        if let Some(s) = &b.scopes {
            a = a.scopes(s.iter().map(|s| Scope::parse(*s).unwrap()));
        }
        let next_key = SigningKey::generate();
        let next = match (b.binding, &holder) {
            (Binding::Signed, Some(current)) => {
                token.attenuate_signed(a.holder(next_key.public()), current)
            }
            (Binding::Unsigned, _) => token.attenuate(a.holder(next_key.public())),
            _ => token.attenuate(a),
        };
        // A narrowing to scopes the token lacks is refused as a widening.
        let Ok(next) = next else { continue };
        token = next;
        if !matches!(
            (b.binding, &holder),
            (Binding::None, _) | (Binding::Signed, None)
        ) {
            holder = Some(next_key);
        }
        let after = judge(az, &token, &request, holder.as_ref());
        prop_assert!(
            rank(after.outcome()) <= rank(before.outcome()),
            "block {b:?} raised {:?} to {:?}: {:?}\npolicies:\n{policies}",
            before.outcome(),
            after.outcome(),
            after.reasons()
        );
        before = after;
    }
    Ok(())
}

/// A token for one of `subjects`, a client of [`NAMES`], and the request and blocks as in
/// the property above.
fn case(subjects: &'static [&'static str]) -> impl Strategy<Value = Case> {
    (
        prop::sample::select(subjects),
        prop::sample::select(&NAMES[..]),
        prop::collection::btree_set(prop::sample::select(&SCOPES[..]), 0..4),
        any::<bool>(),
        prop::collection::vec(block(), 1..4),
        prop::sample::select(&ACTIONS[..]),
        prop::collection::vec(prop::sample::select(&RESOURCES[..]), 0..3),
    )
        .prop_map(
            |(subject, client, scopes, bound, blocks, action, locations)| Case {
                subject,
                client,
                scopes,
                bound,
                blocks,
                action,
                locations,
            },
        )
}

// The same property over an author's own model: the agent type is not called `Agent` and
// lives in a namespace, and so do the person, the groups and the resources; the entity
// data puts some of the names a delegate may choose in privileged crews, the people in
// departments and the documents in folders; the policies scope on `in` and read the
// person, the chain, the depth and whether the delegations were signed. A delegate that
// names itself `auditor` (a member of `admins` in the entity data) must gain nothing
// through a permit on `admins` that its delegators lack.

const CORP_SCHEMA: &str = r#"namespace Corp {
  @valet("person")
  entity Employee in [Dept];
  entity Dept in [Dept];
  @valet("agent")
  entity Assistant in [Crew] {
    person: Employee,
    subject: String,
    client: String,
    depth: Long,
    chain: Set<String>,
    verified: Bool,
  };
  entity Crew in [Crew];
  entity Folder in [Folder];
  entity Doc in [Folder];
  type Tool = { audience: String, scopes: Set<String> };
  action read_file, write_file, delete_file appliesTo {
    principal: [Assistant],
    resource: [Doc],
    context: Tool,
  };
}
"#;

/// `auditor` and `sub` (through `ops`) are admins, `browser-agent` is quarantined,
/// `orchestrator` is in no crew; alice is in `eng` in `d`, bob in no department, carol
/// unknown to the data; `res-a` is in `x/y` in `x`, `res-b` in `x`, `res-c` and the
/// audience in no folder.
fn corp_entities() -> serde_json::Value {
    let e = |ty: &str, id: &str, parents: &[(&str, &str)]| {
        serde_json::json!({
            "uid": {"type": format!("Corp::{ty}"), "id": id},
            "attrs": {},
            "parents": parents
                .iter()
                .map(|(t, i)| serde_json::json!({"type": format!("Corp::{t}"), "id": i}))
                .collect::<Vec<_>>(),
        })
    };
    serde_json::Value::Array(vec![
        e("Crew", "admins", &[]),
        e("Crew", "ops", &[("Crew", "admins")]),
        e("Crew", "quarantine", &[]),
        e("Assistant", "auditor", &[("Crew", "admins")]),
        e("Assistant", "sub", &[("Crew", "ops")]),
        e("Assistant", "browser-agent", &[("Crew", "quarantine")]),
        e("Dept", "d", &[]),
        e("Dept", "eng", &[("Dept", "d")]),
        e("Employee", "alice@example.com", &[("Dept", "eng")]),
        e("Employee", "bob@example.com", &[]),
        e("Folder", "x", &[]),
        e("Folder", "x/y", &[("Folder", "x")]),
        e("Doc", "res-a", &[("Folder", "x/y")]),
        e("Doc", "res-b", &[("Folder", "x")]),
        e("Doc", "res-c", &[]),
    ])
}

const SUBJECTS: [&str; 3] = ["alice@example.com", "bob@example.com", "carol@example.com"];
const CREWS: [&str; 3] = ["admins", "ops", "quarantine"];
const FOLDERS: [&str; 2] = ["x", "x/y"];
const DEPTS: [&str; 2] = ["d", "eng"];

/// An authorizer over [`CORP_SCHEMA`], these policies and [`corp_entities`].
fn corp_authorizer(policies: &str) -> (tempfile::TempDir, Authorizer, RootKeyPair) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("schema.cedarschema"), CORP_SCHEMA).unwrap();
    fs::write(dir.path().join("p.cedar"), policies).unwrap();
    let store = Arc::new(PolicyStore::load(dir.path()).unwrap());
    let data = EntityData::from_json_value(corp_entities(), &store).unwrap();
    let root = RootKeyPair::generate(KeyId(1));
    let az = Authorizer::builder(KeySet::new().with(root.public()), store)
        .accept_bearer_tokens()
        .clock(Arc::new(FixedClock::new(now())))
        .entities(Arc::new(data))
        .build();
    (dir, az, root)
}

fn corp_condition() -> impl Strategy<Value = String> {
    let name = prop::sample::select(&NAMES[..]);
    let scope = prop::sample::select(&SCOPES[..]);
    let when = prop::sample::select(&["when", "unless"][..]);
    prop_oneof![
        4 => Just(String::new()),
        1 => (when.clone(), name.clone())
            .prop_map(|(w, n)| format!(r#"{w} {{ principal.chain.contains("{n}") }}"#)),
        1 => (when.clone(), 0i64..4).prop_map(|(w, d)| format!("{w} {{ principal.depth >= {d} }}")),
        1 => (when.clone(), scope)
            .prop_map(|(w, s)| format!(r#"{w} {{ context.scopes.contains("{s}") }}"#)),
        1 => name.prop_map(|n| format!(r#"when {{ principal.client == "{n}" }}"#)),
        1 => when.clone().prop_map(|w| format!("{w} {{ principal.verified }}")),
        1 => (when.clone(), prop::sample::select(&DEPTS[..]))
            .prop_map(|(w, d)| format!(r#"{w} {{ principal.person in Corp::Dept::"{d}" }}"#)),
        1 => (when.clone(), prop::sample::select(&CREWS[..]))
            .prop_map(|(w, c)| format!(r#"{w} {{ principal in Corp::Crew::"{c}" }}"#)),
        1 => (when, prop::sample::select(&FOLDERS[..]))
            .prop_map(|(w, f)| format!(r#"{w} {{ resource in Corp::Folder::"{f}" }}"#)),
    ]
}

fn corp_policy() -> impl Strategy<Value = String> {
    let principal = prop_oneof![
        2 => Just("principal".to_owned()),
        1 => prop::sample::select(&NAMES[..])
            .prop_map(|n| format!(r#"principal == Corp::Assistant::"{n}""#)),
        2 => prop::sample::select(&CREWS[..])
            .prop_map(|c| format!(r#"principal in Corp::Crew::"{c}""#)),
    ];
    let resource = prop_oneof![
        3 => Just("resource".to_owned()),
        1 => prop::sample::select(&RESOURCES[..])
            .prop_map(|r| format!(r#"resource == Corp::Doc::"{r}""#)),
        1 => prop::sample::select(&FOLDERS[..])
            .prop_map(|f| format!(r#"resource in Corp::Folder::"{f}""#)),
    ];
    (
        0u8..6,
        principal,
        prop::option::of(prop::sample::select(&ACTIONS[..])),
        resource,
        corp_condition(),
    )
        .prop_map(|(effect, principal, action, resource, condition)| {
            let head = match effect {
                0..=2 => "permit",
                3 => "forbid",
                _ => "@approval(\"ask\")\nforbid",
            };
            let action = action.map_or("action".to_owned(), |a| {
                format!(r#"action == Corp::Action::"{a}""#)
            });
            format!("{head} ({principal}, {action}, {resource})\n{condition};\n")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn appending_a_block_never_raises_the_outcome(
        policies in prop::collection::vec(policy(), 1..7),
        case in case(&SUBJECTS[..1]),
    ) {
        let policies = policies.concat();
        let (_d, az, _audit, root) = authorizer(&policies);
        never_raised(&az, &root, &case, &policies)?;
    }

    #[test]
    fn appending_a_block_never_raises_the_outcome_under_a_namespaced_model(
        policies in prop::collection::vec(corp_policy(), 1..7),
        case in case(&SUBJECTS),
    ) {
        let policies = policies.concat();
        let (_d, az, root) = corp_authorizer(&policies);
        never_raised(&az, &root, &case, &policies)?;
    }
}
