//! The token layer alone: signatures and every block's Datalog checks for one request
//! (no cache: every call is a first presentation).

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use valet_benches::{now, request, Fixture};
use valet_token::danger::DangerousVerifier;
use valet_token::{NoRevocations, Verifier};

fn verify(c: &mut Criterion) {
    let fx = Fixture::new();
    // The fixture's tokens are bearer tokens (the `danger` opt-in).
    let verifier = Verifier::new(fx.keys()).accept_bearer_tokens();
    let req = request();
    let mut group = c.benchmark_group("verify");
    for blocks in [1usize, 2, 4, 8] {
        let token = fx.token(blocks);
        assert!(verifier
            .verify(&token, &req, now(), &NoRevocations)
            .is_allowed());
        group.bench_with_input(BenchmarkId::new("blocks", blocks), &token, |b, t| {
            b.iter(|| verifier.verify(t, &req, now(), &NoRevocations))
        });
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
