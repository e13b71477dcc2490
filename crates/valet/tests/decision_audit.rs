//! A decision and its audit record always say the same thing: on every path (allow, deny by
//! the token or the policies, needs-approval, an approval accepted or not, an approval
//! store that fails, a proof of possession, an audit sink that fails, an unreadable token,
//! a token-only judgement), the outcome, reasons, approval text, determining policies,
//! proof key and approvals of the decision are those of the record written to the sink.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valet::danger::{BearerMinting, DangerousAuthorizerBuilder};
use valet::*;

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

/// Keeps every record it is asked to write; refuses to write while `failing`.
#[derive(Default)]
struct Sink {
    attempts: Mutex<Vec<AuditRecord>>,
    failing: AtomicBool,
}

impl AuditSink for Sink {
    fn record(&self, record: &AuditRecord) -> Result<(), Error> {
        self.attempts.lock().unwrap().push(record.clone());
        if self.failing.load(Ordering::SeqCst) {
            return Err(Error::Internal("disk full".to_owned()));
        }
        Ok(())
    }
}

impl Sink {
    fn attempts(&self) -> Vec<AuditRecord> {
        self.attempts.lock().unwrap().clone()
    }
}

/// A store that never answers.
struct Unreachable;

impl ApprovalStore for Unreachable {
    fn spend(&self, _: &ApprovalId, _: SystemTime, _: SystemTime) -> Result<Spent, StoreError> {
        Err(StoreError::Timeout(Duration::from_millis(50)))
    }
}

struct World {
    root: RootKeyPair,
    owner: SigningKey,
    sink: Arc<Sink>,
    authorizer: Authorizer,
    now: SystemTime,
}

fn world_with(configure: impl FnOnce(AuthorizerBuilder) -> AuthorizerBuilder) -> World {
    let root = RootKeyPair::generate(KeyId(1));
    let owner = SigningKey::generate();
    let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let sink = Arc::new(Sink::default());
    let builder = Authorizer::builder(
        KeySet::new().with(root.public()),
        PolicyStore::load(POLICIES).unwrap(),
    )
    .accept_bearer_tokens()
    .clock(Arc::new(FixedClock::new(now)))
    .audit(sink.clone())
    .approver(owner.public());
    World {
        root,
        owner,
        sink,
        authorizer: configure(builder).build(),
        now,
    }
}

fn pay(amount: &str) -> Request {
    Request::new(
        Audience::parse("https://pay.example.com").unwrap(),
        "pay_invoice",
    )
    .details(
        TransactionDetails::new("payment")
            .with("amount", amount)
            .with("currency", "USD")
            .with("recipient", "bob@example.com"),
    )
}

impl World {
    fn mint(&self, holder: Option<&SigningKey>) -> Token {
        let mut grant = TokenBuilder::new("alice@example.com", "https://agent.example/client")
            .bearer()
            .audience(Audience::parse("https://pay.example.com").unwrap())
            .scope(Scope::parse("payments:write").unwrap())
            .expires_in(Duration::from_secs(900))
            .detail(AuthorizationDetail::new("payment").max("amount", "1500.00".parse().unwrap()));
        if let Some(k) = holder {
            grant = grant.holder(k.public());
        }
        Issuer::new(self.root.clone())
            .mint_at(grant, self.now)
            .unwrap()
    }

    fn approve(&self, token: &Token, request: &Request) -> Approval {
        Approval::sign(
            &self.owner,
            "alice@example.com",
            token,
            request,
            self.now + Duration::from_secs(300),
        )
        .unwrap()
    }

    fn proof(&self, key: &SigningKey, token: &Token, request: &Request) -> HolderProof {
        HolderProof::sign(key, token, request, self.now).unwrap()
    }
}

/// Everything the decision says agrees with its audit record, and that record is the last
/// one the authorizer asked the sink to write.
fn assert_agrees(case: &str, d: &Decision, sink: &Sink) {
    let a = d.audit();
    assert_eq!(d.outcome(), a.outcome, "{case}: outcome");
    assert_eq!(d.allowed(), a.outcome == Outcome::Allow, "{case}: allowed");
    assert_eq!(d.reasons(), a.reasons.as_slice(), "{case}: reasons");
    assert_eq!(d.approval(), a.approval.as_deref(), "{case}: approval");
    assert_eq!(
        d.approval().is_some(),
        d.outcome() == Outcome::NeedsApproval,
        "{case}: an approval text exactly when one is needed: {d}"
    );
    assert_eq!(
        d.determining_policies(),
        a.determining_policies.as_slice(),
        "{case}: determining policies"
    );
    assert_eq!(
        d.token_verified(),
        a.token_verified,
        "{case}: token verified"
    );
    assert_eq!(d.proof_key(), a.proof_key, "{case}: proof key");
    assert_eq!(d.approvals(), a.approvals.as_slice(), "{case}: approvals");
    // What a caller shows of the decision is what the audit record says.
    let shown = serde_json::to_value(d).unwrap();
    let recorded: serde_json::Value = serde_json::from_str(&a.to_json_line()).unwrap();
    for field in [
        "outcome",
        "reasons",
        "determining_policies",
        "token_verified",
    ] {
        assert_eq!(shown[field], recorded[field], "{case}: serialized {field}");
    }
    assert_eq!(
        shown["approval"], recorded["approval"],
        "{case}: serialized approval"
    );
    let last = sink.attempts().last().map(AuditRecord::to_json_line);
    assert_eq!(
        last.as_deref(),
        Some(a.to_json_line().as_str()),
        "{case}: the record written"
    );
}

#[test]
fn the_audit_record_says_what_the_decision_says_on_every_path() {
    let agent = SigningKey::generate();
    let nothing = Presentation::new();
    let w = world_with(|b| b);
    let bearer = w.mint(None);
    let bound = w.mint(Some(&agent));
    let small = pay("50.00");
    let large = pay("900.00");
    let elsewhere = Request::new(
        Audience::parse("https://evil.example").unwrap(),
        "pay_invoice",
    );
    let unknown = Request::new(
        Audience::parse("https://pay.example.com").unwrap(),
        "delete_everything",
    );

    type Case<'a> = (&'a str, Box<dyn Fn() -> Decision + 'a>, Outcome);
    let cases: Vec<Case<'_>> = vec![
        (
            "allow",
            Box::new(|| w.authorizer.authorize(&bearer, &small, &nothing)),
            Outcome::Allow,
        ),
        (
            "deny by the token before its signatures",
            Box::new(|| w.authorizer.authorize(&bearer, &elsewhere, &nothing)),
            Outcome::Deny,
        ),
        (
            "deny by the policies",
            Box::new(|| w.authorizer.authorize(&bearer, &unknown, &nothing)),
            Outcome::Deny,
        ),
        (
            "needs approval",
            Box::new(|| w.authorizer.authorize(&bearer, &large, &nothing)),
            Outcome::NeedsApproval,
        ),
        (
            "an approval settles it",
            Box::new(|| {
                let p = Presentation::new().approval(w.approve(&bearer, &large));
                w.authorizer.authorize(&bearer, &large, &p)
            }),
            Outcome::Allow,
        ),
        (
            "an approval nobody asked for",
            Box::new(|| {
                let p = Presentation::new().approval(w.approve(&bearer, &small));
                w.authorizer.authorize(&bearer, &small, &p)
            }),
            Outcome::Allow,
        ),
        (
            "an approval of another transaction",
            Box::new(|| {
                let p = Presentation::new().approval(w.approve(&bearer, &small));
                w.authorizer.authorize(&bearer, &large, &p)
            }),
            Outcome::NeedsApproval,
        ),
        (
            "a bound token with its proof",
            Box::new(|| {
                let p = Presentation::new().proof(w.proof(&agent, &bound, &small));
                w.authorizer.authorize(&bound, &small, &p)
            }),
            Outcome::Allow,
        ),
        (
            "a bound token without its proof",
            Box::new(|| w.authorizer.authorize(&bound, &small, &nothing)),
            Outcome::Deny,
        ),
        (
            "a bound token, its proof and an approval",
            Box::new(|| {
                let p = Presentation::new()
                    .proof(w.proof(&agent, &bound, &large))
                    .approval(w.approve(&bound, &large));
                w.authorizer.authorize(&bound, &large, &p)
            }),
            Outcome::Allow,
        ),
        (
            "an unreadable token",
            Box::new(|| {
                w.authorizer
                    .authorize_encoded(Encoded::Bytes(b"not a token"), &small, &nothing)
            }),
            Outcome::Deny,
        ),
        (
            "a token read from base64url",
            Box::new(|| {
                let text = bearer.to_base64();
                w.authorizer
                    .authorize_encoded(Encoded::Base64(&text), &small, &nothing)
            }),
            Outcome::Allow,
        ),
        (
            "the token alone, with its proof",
            Box::new(|| {
                let listing = Request::new(
                    Audience::parse("https://pay.example.com").unwrap(),
                    "tools/list",
                );
                let proof = w.proof(&agent, &bound, &listing);
                w.authorizer
                    .verify_presented(&bound, &listing, Some(&proof))
            }),
            Outcome::Allow,
        ),
        (
            "the token alone, elsewhere",
            Box::new(|| w.authorizer.verify_presented(&bearer, &elsewhere, None)),
            Outcome::Deny,
        ),
    ];

    for (case, decide, expected) in &cases {
        w.sink.failing.store(false, Ordering::SeqCst);
        let d = decide();
        assert_eq!(d.outcome(), *expected, "{case}: {d}");
        assert_agrees(case, &d, &w.sink);
        if *case == "a bound token with its proof" {
            assert_eq!(d.proof_key(), Some(agent.public()), "{case}");
        }
        if *case == "an approval settles it" {
            assert!(d.approvals()[0].accepted, "{case}");
        }

        // The same request when the sink fails: an allow or a needs-approval is refused,
        // and the refusal is what is recorded; a deny stays the deny it was.
        w.sink.failing.store(true, Ordering::SeqCst);
        let before = w.sink.attempts().len();
        let d = decide();
        assert_eq!(d.outcome(), Outcome::Deny, "{case} (sink failing): {d}");
        assert_agrees(&format!("{case} (sink failing)"), &d, &w.sink);
        let attempts = w.sink.attempts();
        let audit_reasons = d
            .reasons()
            .iter()
            .filter(|r| r.layer == Layer::Audit)
            .count();
        if *expected == Outcome::Deny {
            assert_eq!(attempts.len(), before + 1, "{case}: one record for a deny");
            assert_eq!(audit_reasons, 0, "{case}: {d}");
        } else {
            assert_eq!(
                attempts.len(),
                before + 2,
                "{case}: the decision, then its refusal"
            );
            assert_ne!(attempts[before].outcome, Outcome::Deny, "{case}");
            assert_eq!(audit_reasons, 1, "{case}: {d}");
            assert!(
                d.reasons()
                    .last()
                    .unwrap()
                    .message
                    .contains("the decision could not be audited, so it is refused"),
                "{case}: {d}"
            );
        }
    }
    w.sink.failing.store(false, Ordering::SeqCst);
}

#[test]
fn an_unreachable_approval_store_is_recorded_as_the_deny_it_is() {
    let w = world_with(|b| b.approval_store(Arc::new(Unreachable)));
    let token = w.mint(None);
    let large = pay("900.00");
    let d = w.authorizer.authorize(
        &token,
        &large,
        &Presentation::new().approval(w.approve(&token, &large)),
    );
    assert_eq!(d.outcome(), Outcome::Deny, "{d}");
    assert!(!d.approvals()[0].accepted);
    assert_agrees("unreachable approval store", &d, &w.sink);
}

/// Each policy reason names its own policy: a forbid whose reason text names another
/// policy is not taken for that one (nor given a second reason of its own).
#[test]
fn policy_reasons_name_their_policy_by_id() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../valet-policy/tests/support/flat.cedarschema"
        ),
        dir.path().join("schema.cedarschema"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("p.cedar"),
        r#"@id("payments-permit")
permit (principal, action == Action::"pay_invoice", resource);
@id("a")
forbid (principal, action == Action::"pay_invoice", resource)
when { context.recipient == "bob@example.com" };
@id("b")
@reason("stricter than `a`")
forbid (principal, action == Action::"pay_invoice", resource)
when { context.recipient == "bob@example.com" };
"#,
    )
    .unwrap();
    let w = world_with(|b| b);
    let authorizer = Authorizer::builder(
        KeySet::new().with(w.root.public()),
        PolicyStore::load(dir.path()).unwrap(),
    )
    .accept_bearer_tokens()
    .clock(Arc::new(FixedClock::new(w.now)))
    .build();
    let d = authorizer.authorize(&w.mint(None), &pay("50.00"), &Presentation::new());
    assert_eq!(d.outcome(), Outcome::Deny, "{d}");
    let reasons: Vec<(Option<&str>, &str)> = d
        .reasons()
        .iter()
        .map(|r| (r.policy.as_deref(), r.message.as_str()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (Some("a"), "forbidden by `a`"),
            (Some("b"), "forbidden by `b`: stricter than `a`"),
        ]
    );
    let ids: Vec<&str> = d
        .determining_policies()
        .iter()
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(ids, vec!["a", "b"]);
}
