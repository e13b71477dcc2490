//! Two replicas of one resource server sharing a real Redis (started by the test from the
//! `redis-server` that `scripts/redis.sh` installs): a proof, an approval and a revocation
//! are one truth across them; Redis down is a deny that says so and recovers by itself;
//! Redis restarted empty refuses what was signed before.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use valet::*;
use valet_redis::testing::RedisServer;
use valet_redis::{Redis, RedisConfig};

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");
const APPROVAL_LIFETIME: Duration = Duration::from_secs(300);

struct World {
    root: RootKeyPair,
    agent: SigningKey,
    owner: SigningKey,
    clock: Arc<FixedClock>,
    token: Token,
}

fn world() -> World {
    let root = RootKeyPair::generate(KeyId(1));
    let agent = SigningKey::generate();
    let now = UNIX_EPOCH
        + Duration::from_secs(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        );
    let token = Issuer::new(root.clone())
        .mint_at(
            TokenBuilder::new("alice@example.com", "https://agent.example/client")
                .audience(Audience::parse("https://pay.example.com").unwrap())
                .scope(Scope::parse("payments:write").unwrap())
                .expires_in(Duration::from_secs(3600))
                .holder(agent.public()),
            now,
        )
        .unwrap();
    World {
        root,
        agent,
        owner: SigningKey::generate(),
        clock: Arc::new(FixedClock::new(now)),
        token,
    }
}

impl World {
    /// One replica: its own handle on Redis, as a process of its own would have.
    fn replica(&self, url: &str) -> Authorizer {
        let redis = Redis::connect(
            RedisConfig::new(url)
                .prefix("test")
                .max_approval_lifetime(APPROVAL_LIFETIME),
        )
        .unwrap();
        self.replica_with(|b| {
            b.replay_store(Arc::new(redis.replay_store()))
                .approval_store(Arc::new(redis.approval_store()))
                .revocations(Arc::new(redis.revocation_store().unwrap()))
        })
    }

    /// One replica with the stores of its own process.
    fn replica_with(
        &self,
        stores: impl FnOnce(AuthorizerBuilder) -> AuthorizerBuilder,
    ) -> Authorizer {
        stores(
            Authorizer::builder(
                KeySet::new().with(self.root.public()),
                PolicyStore::load(POLICIES).unwrap(),
            )
            .approver(self.owner.public())
            .max_approval_lifetime(APPROVAL_LIFETIME)
            .clock(self.clock.clone()),
        )
        .build()
    }

    fn pay(&self, amount: &str) -> Request {
        Request::new(
            Audience::parse("https://pay.example.com").unwrap(),
            "pay_invoice",
        )
        .details(
            TransactionDetails::new("payment")
                .with("amount", amount)
                .with("currency", "USD")
                .with("recipient", "alice@example.com"),
        )
    }

    fn proof(&self, request: &Request) -> HolderProof {
        HolderProof::sign(&self.agent, &self.token, request, self.clock.now()).unwrap()
    }

    fn presented(&self, request: &Request) -> Presentation {
        Presentation::new().proof(self.proof(request))
    }
}

fn reasons(d: &Decision) -> String {
    d.reasons()
        .iter()
        .map(|r| r.message.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

#[test]
fn a_proof_accepted_by_one_replica_is_refused_by_the_other() {
    let server = RedisServer::start().unwrap();
    let w = world();
    let (a, b) = (w.replica(&server.url()), w.replica(&server.url()));
    let request = w.pay("50.00");
    let proof = w.presented(&request);
    let d = a.authorize(&w.token, &request, &proof);
    assert!(d.allowed(), "{}", reasons(&d));
    let d = b.authorize(&w.token, &request, &proof);
    assert_eq!(d.outcome(), Outcome::Deny);
    assert!(reasons(&d).contains("already used"), "{}", reasons(&d));
    // A fresh proof is accepted by either.
    assert!(b
        .authorize(&w.token, &request, &w.presented(&request))
        .allowed());

    // With each replica's own memory, the same proof is accepted twice.
    let (a, b) = (w.replica_with(|b| b), w.replica_with(|b| b));
    let proof = w.presented(&request);
    assert!(a.authorize(&w.token, &request, &proof).allowed());
    assert!(b.authorize(&w.token, &request, &proof).allowed());
}

#[test]
fn an_approval_spent_on_one_replica_is_refused_on_the_other() {
    let server = RedisServer::start().unwrap();
    let w = world();
    let (a, b) = (w.replica(&server.url()), w.replica(&server.url()));
    let big = w.pay("600.00");
    let d = a.authorize(&w.token, &big, &w.presented(&big));
    assert_eq!(d.outcome(), Outcome::NeedsApproval, "{}", reasons(&d));
    let approval = Approval::sign(
        &w.owner,
        "alice@example.com",
        &w.token,
        &big,
        w.clock.now() + APPROVAL_LIFETIME,
    )
    .unwrap();
    let with = |w: &World| w.presented(&big).approval(approval.clone());
    let d = a.authorize(&w.token, &big, &with(&w));
    assert!(d.allowed(), "{}", reasons(&d));
    let d = b.authorize(&w.token, &big, &with(&w));
    assert!(!d.allowed());
    assert!(reasons(&d).contains("already used"), "{}", reasons(&d));

    // With each replica's own memory, it is spent once per replica.
    let (a, b) = (w.replica_with(|b| b), w.replica_with(|b| b));
    assert!(a.authorize(&w.token, &big, &with(&w)).allowed());
    assert!(b.authorize(&w.token, &big, &with(&w)).allowed());
}

#[test]
fn a_revocation_made_through_one_replica_is_refused_by_the_other_within_a_second() {
    let server = RedisServer::start().unwrap();
    let w = world();
    let (a, b) = (w.replica(&server.url()), w.replica(&server.url()));
    let request = w.pay("50.00");
    assert!(b
        .authorize(&w.token, &request, &w.presented(&request))
        .allowed());
    let id = w.token.revocation_ids()[0].clone();
    a.revocations().revoke(id.clone()).unwrap();
    let revoked_at = Instant::now();
    loop {
        let d = b.authorize(&w.token, &request, &w.presented(&request));
        if !d.allowed() {
            assert!(reasons(&d).contains("revoked"), "{}", reasons(&d));
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(1),
            "the other replica still allows the token a second after its revocation"
        );
        thread::sleep(Duration::from_millis(10));
    }
    // A replica started later knows it too.
    let c = w.replica(&server.url());
    assert!(!c
        .authorize(&w.token, &request, &w.presented(&request))
        .allowed());
    // Redis restarted empty: the replicas write the revocation back, and still refuse.
    let mut server = server;
    server.restart_empty().unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !server.is_member("test:revoked", &id.to_string()) {
        assert!(
            Instant::now() < deadline,
            "the revocation was not written back"
        );
        thread::sleep(Duration::from_millis(20));
    }
    assert!(!b
        .authorize(&w.token, &request, &w.presented(&request))
        .allowed());
}

#[test]
fn redis_down_is_a_deny_that_says_so_and_redis_back_allows_again() {
    let mut server = RedisServer::start().unwrap();
    let w = world();
    let a = w.replica(&server.url());
    let request = w.pay("50.00");
    assert!(a
        .authorize(&w.token, &request, &w.presented(&request))
        .allowed());
    server.down();
    let d = a.authorize(&w.token, &request, &w.presented(&request));
    assert_eq!(d.outcome(), Outcome::Deny);
    assert!(reasons(&d).contains("unreachable"), "{}", reasons(&d));
    // Once the local copy of the revocations is too old, every decision says so.
    thread::sleep(Duration::from_millis(1200));
    let d = a.authorize(&w.token, &request, &w.presented(&request));
    assert_eq!(d.outcome(), Outcome::Deny);
    assert!(
        reasons(&d).contains("the revocation store is unreachable"),
        "{}",
        reasons(&d)
    );
    // Back on the same port: allowed again, without touching the replica. The clock
    // moves on, as it would: proofs signed before Redis lost its memory are refused.
    server.up().unwrap();
    w.clock.advance(Duration::from_secs(1));
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let d = a.authorize(&w.token, &request, &w.presented(&request));
        if d.allowed() {
            break;
        }
        assert!(Instant::now() < deadline, "still denied: {}", reasons(&d));
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn redis_restarted_empty_refuses_proofs_and_approvals_signed_before() {
    let mut server = RedisServer::start().unwrap();
    let w = world();
    let (a, b) = (w.replica(&server.url()), w.replica(&server.url()));
    let request = w.pay("50.00");
    assert!(a
        .authorize(&w.token, &request, &w.presented(&request))
        .allowed());
    // Signed now, presented after Redis lost its memory.
    let early = w.presented(&request);
    let big = w.pay("600.00");
    let approval = Approval::sign(
        &w.owner,
        "alice@example.com",
        &w.token,
        &big,
        w.clock.now() + APPROVAL_LIFETIME,
    )
    .unwrap();
    server.restart_empty().unwrap();
    w.clock.advance(Duration::from_secs(2));
    let d = b.authorize(&w.token, &request, &early);
    assert_eq!(d.outcome(), Outcome::Deny);
    assert!(
        reasons(&d).contains("signed before the replay store lost its memory"),
        "{}",
        reasons(&d)
    );
    let d = a.authorize(&w.token, &big, &w.presented(&big).approval(approval));
    assert!(!d.allowed());
    assert!(
        reasons(&d).contains("it started empty then"),
        "{}",
        reasons(&d)
    );
    // Proofs signed since are accepted.
    assert!(a
        .authorize(&w.token, &request, &w.presented(&request))
        .allowed());
}

#[test]
fn keys_are_namespaced_by_the_prefix() {
    let server = RedisServer::start().unwrap();
    let w = world();
    let request = w.pay("50.00");
    let proof = w.presented(&request);
    let url = server.url();
    let replica = |prefix: &str| {
        let redis = Redis::connect(RedisConfig::new(url.as_str()).prefix(prefix)).unwrap();
        w.replica_with(|b| b.replay_store(Arc::new(redis.replay_store())))
    };
    // Two resource servers on one Redis do not see each other's proofs.
    assert!(replica("billing")
        .authorize(&w.token, &request, &proof)
        .allowed());
    assert!(replica("payroll")
        .authorize(&w.token, &request, &proof)
        .allowed());
    assert!(!replica("billing")
        .authorize(&w.token, &request, &proof)
        .allowed());
}
