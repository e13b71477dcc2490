//! The product's core decisions, end to end on the bundled `policies/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valet::danger::{BearerMinting, DangerousAuthorizerBuilder};
use valet::*;

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

struct World {
    root: RootKeyPair,
    clock: Arc<FixedClock>,
    audit: Arc<MemoryAudit>,
    revocations: Arc<MemoryRevocations>,
    authorizer: Authorizer,
    now: SystemTime,
}

fn world() -> World {
    let root = RootKeyPair::generate(KeyId(1));
    let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let clock = Arc::new(FixedClock::new(now));
    let audit = Arc::new(MemoryAudit::new());
    let revocations = Arc::new(MemoryRevocations::new());
    let authorizer = Authorizer::builder(
        KeySet::new().with(root.public()),
        PolicyStore::load(POLICIES).unwrap(),
    )
    .accept_bearer_tokens()
    .clock(clock.clone())
    .audit(audit.clone())
    .revocations(revocations.clone())
    .build();
    World {
        root,
        clock,
        audit,
        revocations,
        authorizer,
        now,
    }
}

fn pay() -> Audience {
    Audience::parse("https://pay.example.com").unwrap()
}

fn payment(amount: &str, recipient: &str) -> TransactionDetails {
    TransactionDetails::new("payment")
        .with("amount", amount)
        .with("currency", "USD")
        .with("recipient", recipient)
}

fn pay_request(amount: &str, recipient: &str) -> Request {
    Request::new(pay(), "pay_invoice").details(payment(amount, recipient))
}

impl World {
    fn mint(&self, client: &str, limit: &str, ttl: u64) -> Token {
        Issuer::new(self.root.clone())
            .mint_at(
                TokenBuilder::new("alice@example.com", client)
                    .bearer()
                    .audience(pay())
                    .scope(Scope::parse("payments:write").unwrap())
                    .token_id(format!("tok-{client}"))
                    .expires_in(Duration::from_secs(ttl))
                    .detail(
                        AuthorizationDetail::new("payment")
                            .max("amount", limit.parse().unwrap())
                            .one_of("currency", ["USD"]),
                    ),
                self.now,
            )
            .unwrap()
    }

    fn orchestrator(&self) -> Token {
        self.mint("https://orchestrator.example/client", "1000.00", 900)
    }

    fn sub_agent(&self) -> Token {
        self.orchestrator()
            .attenuate(
                Attenuation::new()
                    .delegate("invoice-agent")
                    .max("payment", "amount", "50.00".parse().unwrap())
                    .one_of("payment", "recipient", ["alice@example.com"]),
            )
            .unwrap()
    }
}

fn messages(d: &Decision) -> String {
    d.reasons()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn attenuated_sub_agent_is_held_to_its_limits() {
    let w = world();
    let child = w.sub_agent();

    let ok = w.authorizer.authorize(
        &child,
        &pay_request("50.00", "alice@example.com"),
        &valet::Presentation::new(),
    );
    assert_eq!(ok.outcome(), Outcome::Allow, "{}", messages(&ok));
    assert!(ok.token_verified());
    assert_eq!(ok.subject(), Some("alice@example.com"));
    assert_eq!(ok.chain()[0].delegate.as_deref(), Some("invoice-agent"));

    let over = w.authorizer.authorize(
        &child,
        &pay_request("50.01", "alice@example.com"),
        &valet::Presentation::new(),
    );
    assert_eq!(over.outcome(), Outcome::Deny);
    assert_eq!(over.reasons()[0].layer, Layer::Token);
    assert_eq!(over.reasons()[0].block, Some(1));
    assert_eq!(
        over.reasons()[0].message,
        "block 1 (delegate: invoice-agent) limits payment amount to 50.00, requested `50.01`"
    );

    let bob = w.authorizer.authorize(
        &child,
        &pay_request("50.00", "bob@example.com"),
        &valet::Presentation::new(),
    );
    assert_eq!(bob.outcome(), Outcome::Deny);
    assert!(messages(&bob).contains("recipient"), "{}", messages(&bob));

    let elsewhere = Request::new(
        Audience::parse("https://other.example.com").unwrap(),
        "pay_invoice",
    )
    .details(payment("50.00", "alice@example.com"));
    let d = w
        .authorizer
        .authorize(&child, &elsewhere, &valet::Presentation::new());
    assert_eq!(d.outcome(), Outcome::Deny);
    assert_eq!(
        d.reasons()[0].message,
        "token is for https://pay.example.com, presented at https://other.example.com"
    );
}

#[test]
fn a_policy_ceiling_below_the_token_limit_denies_and_names_the_policy() {
    let w = world();
    let token = w.mint("https://orchestrator.example/client", "5000.00", 900);
    let d = w.authorizer.authorize(
        &token,
        &pay_request("2500.00", "alice@example.com"),
        &valet::Presentation::new(),
    );
    assert_eq!(d.outcome(), Outcome::Deny, "{}", messages(&d));
    assert!(d.token_verified());
    let ids: Vec<_> = d
        .determining_policies()
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert!(ids.contains(&"payments-ceiling-usd"), "{ids:?}");
    assert!(d
        .reasons()
        .iter()
        .any(|r| r.layer == Layer::Policy && r.policy.as_deref() == Some("payments-ceiling-usd")));
    assert!(d.approval().is_none());
}

#[test]
fn a_payment_above_the_threshold_needs_approval() {
    let w = world();
    let d = w.authorizer.authorize(
        &w.orchestrator(),
        &pay_request("600.00", "alice@example.com"),
        &valet::Presentation::new(),
    );
    assert_eq!(d.outcome(), Outcome::NeedsApproval, "{}", messages(&d));
    assert!(!d.allowed());
    assert_eq!(
        d.approval(),
        Some("payments above 500.00 need the account owner's approval")
    );
    // Just under the threshold is a plain allow.
    let d = w.authorizer.authorize(
        &w.orchestrator(),
        &pay_request("500.00", "alice@example.com"),
        &valet::Presentation::new(),
    );
    assert_eq!(d.outcome(), Outcome::Allow, "{}", messages(&d));
}

#[test]
fn two_clients_for_one_person_are_audited_under_their_own_identity() {
    let w = world();
    let a = w.mint("https://agent-a.example/client", "1000.00", 900);
    let b = w.mint("https://agent-b.example/client", "1000.00", 900);
    for t in [&a, &b] {
        let d = w.authorizer.authorize(
            t,
            &pay_request("10.00", "bob@example.com"),
            &valet::Presentation::new(),
        );
        assert_eq!(d.outcome(), Outcome::Allow, "{}", messages(&d));
    }
    let records = w.audit.records();
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[0].client.as_deref(),
        Some("https://agent-a.example/client")
    );
    assert_eq!(
        records[1].client.as_deref(),
        Some("https://agent-b.example/client")
    );
    assert_eq!(
        records[1].agent.as_deref(),
        Some("https://agent-b.example/client")
    );
    assert!(records
        .iter()
        .all(|r| r.subject.as_deref() == Some("alice@example.com")));
}

#[test]
fn a_revoked_parent_revokes_its_attenuated_child() {
    let w = world();
    let parent = w.orchestrator();
    let child = parent
        .attenuate(Attenuation::new().delegate("invoice-agent"))
        .unwrap();
    let req = pay_request("10.00", "alice@example.com");
    assert!(w
        .authorizer
        .authorize(&child, &req, &valet::Presentation::new())
        .allowed());
    w.revocations
        .revoke(parent.revocation_ids()[0].clone())
        .unwrap();
    for t in [&parent, &child] {
        let d = w.authorizer.authorize(t, &req, &valet::Presentation::new());
        assert_eq!(d.outcome(), Outcome::Deny);
        assert_eq!(d.reasons()[0].kind, Some(token::ReasonKind::Revoked));
    }
}

#[test]
fn revoking_a_child_block_leaves_the_parent_usable() {
    let w = world();
    let parent = w.orchestrator();
    let child = parent
        .attenuate(Attenuation::new().delegate("invoice-agent"))
        .unwrap();
    w.revocations
        .revoke(child.revocation_ids()[1].clone())
        .unwrap();
    let req = pay_request("10.00", "alice@example.com");
    assert!(!w
        .authorizer
        .authorize(&child, &req, &valet::Presentation::new())
        .allowed());
    assert!(w
        .authorizer
        .authorize(&parent, &req, &valet::Presentation::new())
        .allowed());
}

#[test]
fn a_token_expiring_between_two_steps_of_one_task() {
    let w = world();
    let token = w.mint("https://orchestrator.example/client", "1000.00", 60);
    let req = pay_request("10.00", "alice@example.com");
    let first = w
        .authorizer
        .authorize(&token, &req, &valet::Presentation::new());
    assert_eq!(first.outcome(), Outcome::Allow, "{}", messages(&first));
    w.clock.advance(Duration::from_secs(61));
    let second = w
        .authorizer
        .authorize(&token, &req, &valet::Presentation::new());
    assert_eq!(second.outcome(), Outcome::Deny);
    assert_eq!(second.reasons()[0].kind, Some(token::ReasonKind::Expired));
    assert!(second.reasons()[0].message.starts_with("token expired at "));
}

#[test]
fn malformed_transactions_are_denied_naming_the_field() {
    let w = world();
    let token = w.orchestrator();
    // An amount that is not a decimal: the token's limit cannot read it.
    let d = w.authorizer.authorize(
        &token,
        &pay_request("12.5x", "alice@example.com"),
        &valet::Presentation::new(),
    );
    assert_eq!(d.outcome(), Outcome::Deny);
    assert!(messages(&d).contains("amount"), "{}", messages(&d));

    // With a token that has no amount limit, the policy layer reads and refuses it.
    let plain = Issuer::new(w.root.clone())
        .mint_at(
            TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
                .bearer()
                .audience(pay())
                .scope(Scope::parse("payments:write").unwrap())
                .expires_in(Duration::from_secs(600)),
            w.now,
        )
        .unwrap();
    let cases = [
        (payment("12.5x", "alice@example.com"), "amount"),
        (
            payment("10.00", "alice@example.com").with("colour", "blue"),
            "colour",
        ),
        (
            payment("10.00", "alice@example.com").field("recipient", FieldValue::Long(5)),
            "recipient",
        ),
        (
            TransactionDetails::new("payment")
                .with("currency", "USD")
                .with("recipient", "alice@example.com"),
            "amount",
        ),
    ];
    for (details, field) in cases {
        let d = w.authorizer.authorize(
            &plain,
            &Request::new(pay(), "pay_invoice").details(details),
            &valet::Presentation::new(),
        );
        assert_eq!(d.outcome(), Outcome::Deny, "{field}");
        assert!(
            d.reasons()
                .iter()
                .any(|r| r.layer == Layer::Policy && r.message.contains(&format!("`{field}`"))),
            "{field}: {}",
            messages(&d)
        );
    }
}

#[test]
fn request_json_with_a_float_amount_is_refused_before_judging() {
    let e = Request::from_json(
        r#"{"audience":"https://pay.example.com","action":"pay_invoice","authorization_details":{"type":"payment","amount":12.5,"currency":"USD","recipient":"alice@example.com"}}"#,
        &Limits::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("`amount`"), "{e}");
}

#[test]
fn unreadable_tokens_are_denied_and_audited() {
    let w = world();
    let req = pay_request("10.00", "alice@example.com");
    for text in [
        "",
        "not a token",
        "AAAA",
        &w.orchestrator().to_base64()[..40],
    ] {
        let d = w.authorizer.authorize_encoded(
            valet::Encoded::Base64(text),
            &req,
            &valet::Presentation::new(),
        );
        assert_eq!(d.outcome(), Outcome::Deny, "{text}");
        assert!(!d.token_verified());
    }
    assert_eq!(w.audit.records().len(), 4);
}

#[test]
fn audit_records_are_json_lines_without_token_or_key_material() {
    let w = world();
    let child = w.sub_agent();
    let dir = std::env::temp_dir().join(format!("valet-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.jsonl");
    let _ = std::fs::remove_file(&path);
    let sink = Arc::new(JsonLinesAudit::open(&path).unwrap());
    let authorizer = Authorizer::builder(
        KeySet::new().with(w.root.public()),
        PolicyStore::load(POLICIES).unwrap(),
    )
    .accept_bearer_tokens()
    .clock(w.clock.clone())
    .audit(sink)
    .build();
    authorizer.authorize(
        &child,
        &pay_request("50.00", "alice@example.com"),
        &valet::Presentation::new(),
    );
    authorizer.authorize(
        &child,
        &pay_request("70.00", "alice@example.com"),
        &valet::Presentation::new(),
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["outcome"], "allow");
    assert_eq!(first["subject"], "alice@example.com");
    assert_eq!(first["agent"], "invoice-agent");
    assert_eq!(first["chain"][0]["delegate"], "invoice-agent");
    assert_eq!(first["action"], "pay_invoice");
    assert_eq!(first["authorization_details"]["amount"], "50.00");
    assert!(first["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(first["revocation_ids"].as_array().unwrap().len(), 2);
    let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second["outcome"], "deny");
    let token_text = child.to_base64();
    let private = w.root.to_private_text();
    let private_key = private
        .lines()
        .find_map(|l| l.strip_prefix("private-key: "))
        .unwrap();
    let hex = private_key.trim_start_matches("ed25519-private/");
    for line in &lines {
        assert!(!line.contains(&token_text[..32]));
        assert!(!line.contains(hex));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_audit_sink_that_fails_turns_an_allow_into_a_deny() {
    struct Broken;
    impl AuditSink for Broken {
        fn record(&self, _: &AuditRecord) -> Result<(), Error> {
            Err(Error::Internal("disk full".into()))
        }
    }
    let w = world();
    let authorizer = Authorizer::builder(
        KeySet::new().with(w.root.public()),
        PolicyStore::load(POLICIES).unwrap(),
    )
    .accept_bearer_tokens()
    .clock(w.clock.clone())
    .audit(Arc::new(Broken))
    .build();
    let d = authorizer.authorize(
        &w.orchestrator(),
        &pay_request("10.00", "alice@example.com"),
        &valet::Presentation::new(),
    );
    assert_eq!(d.outcome(), Outcome::Deny);
    assert!(messages(&d).contains("could not be audited"));
}

#[test]
fn file_revocations_are_read_on_demand() {
    let w = world();
    let token = w.orchestrator();
    let dir = std::env::temp_dir().join(format!("valet-revoke-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("revoked.txt");
    std::fs::write(&path, "# revoked ids\n").unwrap();
    let store = Arc::new(FileRevocations::open(&path).unwrap());
    let authorizer = Authorizer::builder(
        KeySet::new().with(w.root.public()),
        PolicyStore::load(POLICIES).unwrap(),
    )
    .accept_bearer_tokens()
    .clock(w.clock.clone())
    .revocations(store.clone())
    .build();
    let req = pay_request("10.00", "alice@example.com");
    assert!(authorizer
        .authorize(&token, &req, &valet::Presentation::new())
        .allowed());
    FileRevocations::append(&path, &token.revocation_ids()[0]).unwrap();
    // Not yet re-read: still in force until reload.
    assert!(authorizer
        .authorize(&token, &req, &valet::Presentation::new())
        .allowed());
    store.reload().unwrap();
    assert!(!authorizer
        .authorize(&token, &req, &valet::Presentation::new())
        .allowed());

    std::fs::write(&path, "zz-not-hex\n").unwrap();
    let err = store.reload().unwrap_err();
    assert!(err.to_string().contains(":1:"), "{err}");
    // The bad edit leaves the previous list in force.
    assert!(!authorizer
        .authorize(&token, &req, &valet::Presentation::new())
        .allowed());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn revocation_list_size_is_capped() {
    let store = MemoryRevocations::with_capacity_limit(2);
    store.revoke(RevocationId(vec![1])).unwrap();
    store.revoke(RevocationId(vec![2])).unwrap();
    assert!(matches!(
        store.revoke(RevocationId(vec![3])),
        Err(Error::Limit(_))
    ));
}

#[test]
fn the_authorizer_is_shared_across_threads() {
    let w = Arc::new(world());
    let child = Arc::new(w.sub_agent());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let w = w.clone();
            let child = child.clone();
            std::thread::spawn(move || {
                let amount = if i % 2 == 0 { "50.00" } else { "50.01" };
                let d = w.authorizer.authorize(
                    &child,
                    &pay_request(amount, "alice@example.com"),
                    &valet::Presentation::new(),
                );
                (i, d.outcome())
            })
        })
        .collect();
    for h in handles {
        let (i, outcome) = h.join().unwrap();
        let expected = if i % 2 == 0 {
            Outcome::Allow
        } else {
            Outcome::Deny
        };
        assert_eq!(outcome, expected);
    }
    assert_eq!(w.audit.records().len(), 4);
}
