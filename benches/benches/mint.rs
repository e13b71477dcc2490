//! Minting a root token (one Ed25519 signature plus encoding): a bearer token
//! (`mint/root`) and one bound to its holder's key (`mint/holder_bound`), as Tenuo's
//! warrants are.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use criterion::{criterion_group, criterion_main, Criterion};
use valet::{Issuer, SigningKey};
use valet_benches::{fixture, now, Fixture};

fn mint(c: &mut Criterion) {
    let fx = Fixture::new();
    let issuer = Issuer::new(fx.root.clone());
    let holder = SigningKey::generate().public();
    let mut group = c.benchmark_group("mint");
    group.bench_function("root", |b| {
        b.iter(|| fixture(issuer.mint_at(fx.grant(), now())))
    });
    group.bench_function("holder_bound", |b| {
        b.iter(|| fixture(issuer.mint_at(fx.grant().holder(holder), now())))
    });
    group.finish();
}

criterion_group!(benches, mint);
criterion_main!(benches);
