//! The added cost of holder binding per decision: `authorize` with a bearer token against
//! `authorize` with a holder-bound token and a fresh proof (its signature check
//! and replay-cache entry), same run, 100 policies. Signing the proof is the agent's cost
//! and is left out of the timing.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use valet::danger::DangerousAuthorizerBuilder;
use valet::{Authorizer, FixedClock, HolderOptions, HolderProof, Issuer, Presentation, SigningKey};
use valet_benches::{now, policy_store, request, Fixture};

fn holder(c: &mut Criterion) {
    let fx = Fixture::new();
    let req = request();
    let agent = SigningKey::generate();
    // Bearer tokens honoured (the `danger` opt-in), to compare both in one authorizer.
    let az = Authorizer::builder(fx.keys(), policy_store(100))
        .accept_bearer_tokens()
        .clock(Arc::new(FixedClock::new(now())))
        // The clock stands still, so no nonce expires during the run.
        .holder_options(HolderOptions {
            replay_capacity: 2_000_000,
            replay_per_agent: 2_000_000,
            ..HolderOptions::default()
        })
        .build();
    let bearer = fx.mint();
    let bound = Issuer::new(fx.root.clone())
        .mint_at(fx.grant().holder(agent.public()), now())
        .unwrap_or_else(|e| panic_free(&e));
    let proof = || Presentation::new().proof(sign(&agent, &bound, &req));
    assert!(az
        .authorize(&bearer, &req, &valet::Presentation::new())
        .allowed());
    assert!(az.authorize(&bound, &req, &proof()).allowed());
    let mut group = c.benchmark_group("holder");
    group.bench_function("bearer", |b| {
        b.iter(|| az.authorize(&bearer, &req, &valet::Presentation::new()))
    });
    group.bench_function("bound_with_proof", |b| {
        b.iter_batched(
            proof,
            |p| az.authorize(&bound, &req, &p),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("proof_signing_by_the_agent", |b| {
        b.iter(|| sign(&agent, &bound, &req))
    });
    group.finish();
}

fn sign(agent: &SigningKey, token: &valet::Token, req: &valet::Request) -> HolderProof {
    HolderProof::sign(agent, token, req, now()).unwrap_or_else(|e| panic_free(&e))
}

fn panic_free<T>(e: &dyn std::fmt::Display) -> T {
    eprintln!("benchmark setup failed: {e}");
    std::process::exit(1)
}

criterion_group!(benches, holder);
criterion_main!(benches);
