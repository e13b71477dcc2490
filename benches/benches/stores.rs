//! The cost of the Redis round trips per decision: `Authorizer::authorize` of a
//! holder-bound token with a fresh proof of possession, its stores in memory against its
//! stores on Redis (`valet-redis`, on a `redis-server` of the bench's own on a loopback
//! port), for a decision with one round trip (the proof's nonce recorded) and with two (the
//! nonce, then the approval spent), beside one bare round trip (`PING` on an open
//! connection). The bundled policies; proofs and approvals are signed in criterion's setup,
//! so only the verifier's work is timed.
//!
//! Needs `redis-server` on the `PATH` (`bash scripts/redis.sh`).

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use valet::{
    Approval, Authorizer, AuthorizerBuilder, FixedClock, HolderOptions, HolderProof, Issuer,
    PolicyStore, Presentation, Request, SigningKey, Token, TransactionDetails,
};
use valet_benches::{audience, fixture, now, Fixture};
use valet_redis::testing::RedisServer;
use valet_redis::{Redis, RedisConfig};

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies");
const APPROVAL_LIFETIME: Duration = Duration::from_secs(900);

fn pay(amount: &str) -> Request {
    Request::new(audience(), "pay_invoice").details(
        TransactionDetails::new("payment")
            .with("amount", amount)
            .with("currency", "USD")
            .with("recipient", "alice@example.com"),
    )
}

struct World {
    fx: Fixture,
    agent: SigningKey,
    owner: SigningKey,
    token: Token,
}

impl World {
    /// An authorizer of the bundled policies whose clock stands still, with room in its
    /// replay cache for every proof of the run, and `stores`.
    fn authorizer(
        &self,
        stores: impl FnOnce(AuthorizerBuilder) -> AuthorizerBuilder,
    ) -> Authorizer {
        stores(
            Authorizer::builder(self.fx.keys(), fixture(PolicyStore::load(POLICIES)))
                .clock(Arc::new(FixedClock::new(now())))
                .approver(self.owner.public())
                .max_approval_lifetime(APPROVAL_LIFETIME)
                .holder_options(HolderOptions {
                    replay_capacity: 4_000_000,
                    replay_per_agent: 4_000_000,
                    ..HolderOptions::default()
                }),
        )
        .build()
    }

    fn proof(&self, request: &Request) -> Presentation {
        Presentation::new().proof(fixture(HolderProof::sign(
            &self.agent,
            &self.token,
            request,
            now(),
        )))
    }

    /// A fresh proof and a fresh approval (never spent) of `request`.
    fn approved(&self, request: &Request) -> Presentation {
        self.proof(request).approval(fixture(Approval::sign(
            &self.owner,
            "alice@example.com",
            &self.token,
            request,
            now() + APPROVAL_LIFETIME,
        )))
    }
}

fn stores(c: &mut Criterion) {
    let server = fixture(RedisServer::start());
    let fx = Fixture::new();
    let agent = SigningKey::generate();
    let token =
        fixture(Issuer::new(fx.root.clone()).mint_at(fx.grant().holder(agent.public()), now()));
    let w = World {
        fx,
        agent,
        owner: SigningKey::generate(),
        token,
    };
    let redis = fixture(Redis::connect(
        RedisConfig::new(server.url())
            .prefix("bench")
            .max_approval_lifetime(APPROVAL_LIFETIME),
    ));
    let revocations = fixture(redis.revocation_store());
    let on_redis = w.authorizer(|b| {
        b.replay_store(Arc::new(redis.replay_store()))
            .approval_store(Arc::new(redis.approval_store()))
            .revocations(Arc::new(revocations))
    });
    let in_memory = w.authorizer(|b| b);
    let (small, large) = (pay("50.00"), pay("600.00"));
    for az in [&in_memory, &on_redis] {
        let d = az.authorize(&w.token, &small, &w.proof(&small));
        assert!(d.allowed(), "{d}");
        let d = az.authorize(&w.token, &large, &w.approved(&large));
        assert!(d.allowed(), "{d}");
    }

    let mut group = c.benchmark_group("stores");
    let mut con = fixture(
        fixture(redis::Client::open(server.url()))
            .get_connection_with_timeout(Duration::from_secs(1)),
    );
    group.bench_function("redis/ping", |b| {
        b.iter(|| fixture(redis::cmd("PING").query::<String>(&mut con)))
    });
    for (name, az) in [("memory", &in_memory), ("redis", &on_redis)] {
        group.bench_function(format!("{name}/proof"), |b| {
            b.iter_batched(
                || w.proof(&small),
                |p| az.authorize(&w.token, &small, &p),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("{name}/proof_and_approval"), |b| {
            b.iter_batched(
                || w.approved(&large),
                |p| az.authorize(&w.token, &large, &p),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
    drop(server);
}

criterion_group!(benches, stores);
criterion_main!(benches);
