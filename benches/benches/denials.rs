//! Denials the token's own claims decide (wrong audience, expired, revoked id): no
//! signature is checked. A 3-block token, 100 policies.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use valet::danger::DangerousAuthorizerBuilder;
use valet::{
    Audience, Authorizer, FixedClock, MemoryRevocations, PolicyStore, Request, RevocationStore,
};
use valet_benches::{authorizer, fixture, now, payment, policy_dir, request, Fixture};

fn denials(c: &mut Criterion) {
    let fx = Fixture::new();
    let token = fx.token(3);
    let dir = policy_dir(100);
    let store = Arc::new(fixture(PolicyStore::load(dir.path())));
    let mut group = c.benchmark_group("deny");

    let az = authorizer(&fx, 100);
    let elsewhere = Request::new(
        fixture(Audience::parse("https://evil.example")),
        "pay_invoice",
    )
    .details(payment());
    assert!(!az
        .authorize(&token, &elsewhere, &valet::Presentation::new())
        .allowed());
    group.bench_function("audience", |b| {
        b.iter(|| az.authorize(&token, &elsewhere, &valet::Presentation::new()))
    });

    let late = Authorizer::builder(fx.keys(), Arc::clone(&store))
        .accept_bearer_tokens()
        .clock(Arc::new(FixedClock::new(now() + Duration::from_secs(3600))))
        .build();
    let req = request();
    assert!(!late
        .authorize(&token, &req, &valet::Presentation::new())
        .allowed());
    group.bench_function("expired", |b| {
        b.iter(|| late.authorize(&token, &req, &valet::Presentation::new()))
    });

    let revocations = Arc::new(MemoryRevocations::new());
    if let Some(id) = token.revocation_ids().get(1) {
        fixture(revocations.revoke(id.clone()));
    }
    let revoked = Authorizer::builder(fx.keys(), Arc::clone(&store))
        .accept_bearer_tokens()
        .clock(Arc::new(FixedClock::new(now())))
        .revocations(revocations)
        .build();
    assert!(!revoked
        .authorize(&token, &req, &valet::Presentation::new())
        .allowed());
    group.bench_function("revoked", |b| {
        b.iter(|| revoked.authorize(&token, &req, &valet::Presentation::new()))
    });
    group.finish();
}

criterion_group!(benches, denials);
criterion_main!(benches);
