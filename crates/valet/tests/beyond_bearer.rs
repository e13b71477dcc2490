//! Holder-bound tokens, verified delegation chains and signed approvals, end to end on the
//! bundled `policies/`.
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
    audit: Arc<MemoryAudit>,
    owner: SigningKey,
    authorizer: Authorizer,
    now: SystemTime,
}

fn world_with(configure: impl FnOnce(AuthorizerBuilder) -> AuthorizerBuilder) -> World {
    let root = RootKeyPair::generate(KeyId(1));
    let owner = SigningKey::generate();
    let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let audit = Arc::new(MemoryAudit::new());
    let builder = Authorizer::builder(
        KeySet::new().with(root.public()),
        PolicyStore::load(POLICIES).unwrap(),
    )
    .clock(Arc::new(FixedClock::new(now)))
    .audit(audit.clone())
    .approver(owner.public());
    World {
        root,
        audit,
        owner,
        authorizer: configure(builder).build(),
        now,
    }
}

/// A world whose authorizer also accepts bearer tokens (the `danger` opt-in), for the
/// tests of approvals and proofs that use them.
fn world() -> World {
    world_with(|b| b.accept_bearer_tokens())
}

fn pay_request(amount: &str, recipient: &str) -> Request {
    Request::new(
        Audience::parse("https://pay.example.com").unwrap(),
        "pay_invoice",
    )
    .details(
        TransactionDetails::new("payment")
            .with("amount", amount)
            .with("currency", "USD")
            .with("recipient", recipient),
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

    fn prove(&self, key: &SigningKey, token: &Token, request: &Request) -> Presentation {
        Presentation::new().proof(HolderProof::sign(key, token, request, self.now).unwrap())
    }

    fn approve(&self, token: &Token, request: &Request, ttl: u64) -> Approval {
        self.approve_with(&self.owner, token, request, ttl)
    }

    fn approve_with(
        &self,
        key: &SigningKey,
        token: &Token,
        request: &Request,
        ttl: u64,
    ) -> Approval {
        Approval::sign(
            key,
            "alice@example.com",
            token,
            request,
            self.now + Duration::from_secs(ttl),
        )
        .unwrap()
    }
}

#[test]
fn a_bound_token_needs_its_proof_and_the_decision_records_it() {
    let w = world();
    let agent = SigningKey::generate();
    let token = w.mint(Some(&agent));
    let req = pay_request("50.00", "bob@example.com");
    let stolen = w
        .authorizer
        .authorize(&token, &req, &valet::Presentation::new());
    assert_eq!(stolen.outcome(), Outcome::Deny);
    assert!(
        stolen.reasons()[0]
            .message
            .contains("the request carries no valid proof of possession"),
        "{stolen}"
    );
    let d = w
        .authorizer
        .authorize(&token, &req, &w.prove(&agent, &token, &req));
    assert_eq!(d.outcome(), Outcome::Allow, "{d}");
    assert_eq!(d.audit().proof_key, Some(agent.public()));
    let line = d.audit().to_json_line();
    assert!(
        line.contains(&format!("\"proof_key\":\"{}\"", agent.public())),
        "{line}"
    );
}

#[test]
fn a_verified_chain_of_custody_is_in_the_audit_record() {
    let w = world();
    let orchestrator = SigningKey::generate();
    let sub = SigningKey::generate();
    let child = w
        .mint(Some(&orchestrator))
        .attenuate_signed(
            Attenuation::new()
                .delegate("invoice-agent")
                .holder(sub.public()),
            &orchestrator,
        )
        .unwrap()
        .attenuate(Attenuation::new().delegate("helper"))
        .unwrap();
    let req = pay_request("50.00", "bob@example.com");
    let d = w
        .authorizer
        .authorize(&child, &req, &w.prove(&sub, &child, &req));
    assert_eq!(d.outcome(), Outcome::Allow, "{d}");
    let chain = &d.audit().chain;
    assert_eq!(chain[0].signed_by, Some(orchestrator.public()));
    assert_eq!(chain[0].holder, Some(sub.public()));
    assert!(chain[0].verified);
    assert!(!chain[1].verified, "an unsigned link is self-asserted");
    let line = d.audit().to_json_line();
    assert!(line.contains("\"verified\":true"), "{line}");
    assert!(line.contains("\"verified\":false"), "{line}");
}

#[test]
fn an_approval_allows_exactly_the_approved_transaction_once() {
    let w = world();
    let token = w.mint(None);
    let req = pay_request("900.00", "bob@example.com");
    assert_eq!(
        w.authorizer
            .authorize(&token, &req, &valet::Presentation::new())
            .outcome(),
        Outcome::NeedsApproval
    );
    let approval = w.approve(&token, &req, 300);
    // 901.00 is not 900.00.
    let more = pay_request("901.00", "bob@example.com");
    let d = w.authorizer.authorize(
        &token,
        &more,
        &Presentation::new().approval(approval.clone()),
    );
    assert_eq!(d.outcome(), Outcome::NeedsApproval, "{d}");
    assert!(!d.audit().approvals[0].accepted);
    assert!(
        d.audit().approvals[0]
            .refused
            .as_deref()
            .unwrap()
            .contains("another transaction"),
        "{:?}",
        d.audit().approvals
    );
    // Nor is another recipient.
    let other = pay_request("900.00", "carol@example.com");
    let d = w.authorizer.authorize(
        &token,
        &other,
        &Presentation::new().approval(approval.clone()),
    );
    assert_eq!(d.outcome(), Outcome::NeedsApproval, "{d}");
    // The approved transaction is allowed, and the audit record says by whom.
    let d = w.authorizer.authorize(
        &token,
        &req,
        &Presentation::new().approval(approval.clone()),
    );
    assert_eq!(d.outcome(), Outcome::Allow, "{d}");
    assert_eq!(d.audit().outcome, Outcome::Allow);
    assert!(d.audit().approvals[0].accepted);
    assert_eq!(d.audit().approvals[0].approver, w.owner.public());
    assert!(d
        .reasons()
        .iter()
        .any(|r| r.layer == Layer::Approval && r.message.contains("approved by")));
    let recorded = w.audit.records();
    assert_eq!(recorded.last().unwrap().outcome, Outcome::Allow);
    // It allows one request only.
    let d = w
        .authorizer
        .authorize(&token, &req, &Presentation::new().approval(approval));
    assert_eq!(d.outcome(), Outcome::NeedsApproval, "{d}");
    assert!(d.audit().approvals[0]
        .refused
        .as_deref()
        .unwrap()
        .contains("already used"));
}

#[test]
fn an_expired_approval_does_not_approve() {
    let w = world();
    let token = w.mint(None);
    let req = pay_request("900.00", "bob@example.com");
    let expired = Approval::sign(
        &w.owner,
        "alice@example.com",
        &token,
        &req,
        w.now - Duration::from_secs(1),
    )
    .unwrap();
    let d = w
        .authorizer
        .authorize(&token, &req, &Presentation::new().approval(expired));
    assert_eq!(d.outcome(), Outcome::NeedsApproval, "{d}");
    assert!(d.audit().approvals[0]
        .refused
        .as_deref()
        .unwrap()
        .contains("expired"));
    // Nor one valid for longer than the authorizer accepts.
    let long = w.approve(&token, &req, 3600);
    let d = w
        .authorizer
        .authorize(&token, &req, &Presentation::new().approval(long));
    assert_eq!(d.outcome(), Outcome::NeedsApproval, "{d}");
}

#[test]
fn an_approval_from_an_untrusted_key_or_altered_does_not_approve() {
    let w = world();
    let token = w.mint(None);
    let req = pay_request("900.00", "bob@example.com");
    let stranger = SigningKey::generate();
    let d = w.authorizer.authorize(
        &token,
        &req,
        &Presentation::new().approval(w.approve_with(&stranger, &token, &req, 300)),
    );
    assert_eq!(d.outcome(), Outcome::NeedsApproval, "{d}");
    assert!(d.audit().approvals[0]
        .refused
        .as_deref()
        .unwrap()
        .contains("not a trusted approver"));
    // A trusted approver's approval with its expiry pushed later.
    let mut altered = w.approve(&token, &req, 300);
    altered.expires_at += 60;
    let d = w
        .authorizer
        .authorize(&token, &req, &Presentation::new().approval(altered));
    assert_eq!(d.outcome(), Outcome::NeedsApproval, "{d}");
    // An approval for another subject.
    let bob = Approval::sign(
        &w.owner,
        "bob@example.com",
        &token,
        &req,
        w.now + Duration::from_secs(60),
    )
    .unwrap();
    let d = w
        .authorizer
        .authorize(&token, &req, &Presentation::new().approval(bob));
    assert_eq!(d.outcome(), Outcome::NeedsApproval, "{d}");
}

#[test]
fn an_approval_never_turns_a_deny_into_an_allow() {
    let w = world();
    let token = w.mint(None);
    // Not an allowlisted recipient: a forbid, not an approval.
    let req = pay_request("900.00", "mallory@example.com");
    let d = w.authorizer.authorize(
        &token,
        &req,
        &Presentation::new().approval(w.approve(&token, &req, 300)),
    );
    assert_eq!(d.outcome(), Outcome::Deny, "{d}");
}

#[test]
fn a_default_authorizer_refuses_bearer_tokens_unless_it_opts_in() {
    let w = world();
    assert!(w.authorizer.accepts_bearer_tokens());
    let token = w.mint(None);
    let req = pay_request("50.00", "bob@example.com");
    assert_eq!(
        w.authorizer
            .authorize(&token, &req, &valet::Presentation::new())
            .outcome(),
        Outcome::Allow
    );
    // The defaults: bearer tokens are refused, with a reason that says what to do.
    let strict = world_with(|b| b);
    assert!(!strict.authorizer.accepts_bearer_tokens());
    let token = strict.mint(None);
    let d = strict
        .authorizer
        .authorize(&token, &req, &valet::Presentation::new());
    assert_eq!(d.outcome(), Outcome::Deny);
    assert_eq!(d.reasons().len(), 1, "{d}");
    assert_eq!(d.reasons()[0].layer, Layer::Token);
    assert_eq!(d.reasons()[0].kind, Some(valet::token::ReasonKind::Holder));
    assert!(
        d.reasons()[0].message.contains(
            "accepts only tokens bound to a holder key, and this token is a bearer token, which anyone holding a copy of it can use: mint the token with the agent's public key and sign a proof of possession for each request"
        ),
        "{d}"
    );
    // Read from its encoding, and judged on the token alone, it is refused the same way.
    let d = strict.authorizer.authorize_encoded(
        Encoded::Base64(&token.to_base64()),
        &req,
        &valet::Presentation::new(),
    );
    assert!(d.reasons()[0].message.contains("is a bearer token"), "{d}");
    let d = strict.authorizer.verify_presented(&token, &req, None);
    assert_eq!(d.outcome(), Outcome::Deny);
    assert!(d.reasons()[0].message.contains("is a bearer token"), "{d}");
    // The refusal is audited like any other decision.
    assert!(strict
        .audit
        .records()
        .iter()
        .all(|r| r.outcome == Outcome::Deny));
    let agent = SigningKey::generate();
    let bound = strict.mint(Some(&agent));
    let d = strict
        .authorizer
        .authorize(&bound, &req, &strict.prove(&agent, &bound, &req));
    assert_eq!(d.outcome(), Outcome::Allow, "{d}");
}

#[test]
fn token_only_judgement_shares_the_proof_replay_cache_and_the_audit() {
    let w = world();
    let agent = SigningKey::generate();
    let token = w.mint(Some(&agent));
    // An MCP protocol message: no action the policies know of.
    let listing = Request::new(
        Audience::parse("https://pay.example.com").unwrap(),
        "tools/list",
    );
    let proof = HolderProof::sign(&agent, &token, &listing, w.now).unwrap();
    let d = w
        .authorizer
        .verify_presented(&token, &listing, Some(&proof));
    assert!(d.allowed(), "{:?}", d.reasons());
    assert!(d.token_verified());
    // The same proof again, on either path, is a replay.
    let again = w
        .authorizer
        .verify_presented(&token, &listing, Some(&proof));
    assert!(!again.allowed());
    assert!(
        again
            .reasons()
            .iter()
            .any(|r| r.message.contains("already used")),
        "{:?}",
        again.reasons()
    );
    let presented = Presentation::new().proof(proof);
    let policy_path = w.authorizer.authorize(&token, &listing, &presented);
    assert!(!policy_path.allowed());
    // Without its proof a bound token is refused; a copied token proves nothing.
    assert!(!w
        .authorizer
        .verify_presented(&token, &listing, None)
        .allowed());
    // Every judgement is audited, with the proof's key when one was sent.
    let records = w.audit.records();
    assert_eq!(records.len(), 4);
    assert_eq!(records[0].proof_key, Some(agent.public()));
    assert_eq!(records[0].outcome, Outcome::Allow);
    assert!(records[1..].iter().all(|r| r.outcome == Outcome::Deny));
}

impl World {
    /// A token of alice's issued to another of her agents.
    fn mint_other_agent(&self) -> Token {
        let grant = TokenBuilder::new("alice@example.com", "https://other-agent.example/client")
            .bearer()
            .audience(Audience::parse("https://pay.example.com").unwrap())
            .scope(Scope::parse("payments:write").unwrap())
            .expires_in(Duration::from_secs(900))
            .detail(AuthorizationDetail::new("payment").max("amount", "1500.00".parse().unwrap()));
        Issuer::new(self.root.clone())
            .mint_at(grant, self.now)
            .unwrap()
    }
}

#[test]
fn an_approval_cannot_be_spent_by_another_token_of_the_same_person() {
    let w = world();
    let token = w.mint(None);
    let other = w.mint_other_agent();
    let req = pay_request("900.00", "bob@example.com");
    assert_eq!(
        w.authorizer
            .authorize(&other, &req, &valet::Presentation::new())
            .outcome(),
        Outcome::NeedsApproval
    );
    let approval = w.approve(&token, &req, 300);
    let d = w.authorizer.authorize(
        &other,
        &req,
        &Presentation::new().approval(approval.clone()),
    );
    assert_eq!(d.outcome(), Outcome::NeedsApproval, "{d}");
    assert!(!d.audit().approvals[0].accepted);
    assert!(
        d.audit().approvals[0]
            .refused
            .as_deref()
            .unwrap()
            .contains("this approval is for another token"),
        "{:?}",
        d.audit().approvals
    );
    // The token it was signed for can still spend it: a refused approval is not spent.
    let d = w
        .authorizer
        .authorize(&token, &req, &Presentation::new().approval(approval));
    assert_eq!(d.outcome(), Outcome::Allow, "{d}");
}

#[test]
fn an_approval_is_spent_once_across_authorizers_sharing_a_store() {
    let store: Arc<dyn ApprovalStore> = Arc::new(MemoryApprovals::new());
    let w = world_with(|b| b.accept_bearer_tokens().approval_store(store.clone()));
    let token = w.mint(None);
    let req = pay_request("900.00", "bob@example.com");
    let approval = w.approve(&token, &req, 300);
    let d = w.authorizer.authorize(
        &token,
        &req,
        &Presentation::new().approval(approval.clone()),
    );
    assert_eq!(d.outcome(), Outcome::Allow, "{d}");
    // A second authorizer (another replica, another process) sharing the store.
    let replica = Authorizer::builder(
        KeySet::new().with(w.root.public()),
        PolicyStore::load(POLICIES).unwrap(),
    )
    .accept_bearer_tokens()
    .clock(Arc::new(FixedClock::new(w.now)))
    .approver(w.owner.public())
    .approval_store(store)
    .build();
    let d = replica.authorize(&token, &req, &Presentation::new().approval(approval));
    assert_eq!(d.outcome(), Outcome::NeedsApproval, "{d}");
    assert!(d.audit().approvals[0]
        .refused
        .as_deref()
        .unwrap()
        .contains("already used"));
}

/// A store that never answers, as a remote store does when it is down.
struct Unreachable;

impl ApprovalStore for Unreachable {
    fn spend(&self, _: &ApprovalId, _: SystemTime, _: SystemTime) -> Result<Spent, StoreError> {
        Err(StoreError::Timeout(Duration::from_millis(50)))
    }
}

#[test]
fn an_unreachable_approval_store_is_a_deny() {
    let w = world_with(|b| {
        b.accept_bearer_tokens()
            .approval_store(Arc::new(Unreachable))
    });
    let token = w.mint(None);
    let req = pay_request("900.00", "bob@example.com");
    let approval = w.approve(&token, &req, 300);
    let d = w
        .authorizer
        .authorize(&token, &req, &Presentation::new().approval(approval));
    assert_eq!(d.outcome(), Outcome::Deny, "{d}");
    assert_eq!(d.audit().outcome, Outcome::Deny);
    assert_eq!(d.approval(), None);
    assert!(!d.audit().approvals[0].accepted);
    assert!(
        d.reasons().iter().any(|r| r.layer == Layer::Approval
            && r.message.contains("the approval store is unreachable")),
        "{d}"
    );
    assert_eq!(w.audit.records().last().unwrap().outcome, Outcome::Deny);
    // Without an approval the store is not asked: the request still needs one.
    let d = w
        .authorizer
        .authorize(&token, &req, &valet::Presentation::new());
    assert_eq!(d.outcome(), Outcome::NeedsApproval, "{d}");
}
