//! Minting a root token (one Ed25519 signature plus encoding).

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use criterion::{criterion_group, criterion_main, Criterion};
use valet::Issuer;
use valet_benches::{fixture, now, Fixture};

fn mint(c: &mut Criterion) {
    let fx = Fixture::new();
    let issuer = Issuer::new(fx.root.clone());
    c.bench_function("mint/root", |b| {
        b.iter(|| fixture(issuer.mint_at(fx.grant(), now())))
    });
}

criterion_group!(benches, mint);
criterion_main!(benches);
