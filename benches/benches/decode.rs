//! Decoding the token bytes alone, no signature checked: `valet_token::Token::from_bytes`
//! (the envelope, every block's Datalog, the claims) beside biscuit-auth's own parse of
//! the same bytes (`biscuit_auth::UnverifiedBiscuit::from`). The tokens are those of the
//! first presentations with a proof: holder-bound, 1 block and 3 blocks (each delegation
//! signed by the holder before it).

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use valet_benches::{fixture, holders, Fixture};

fn decode(c: &mut Criterion) {
    let fx = Fixture::new();
    let mut group = c.benchmark_group("decode");
    for blocks in [1usize, 3] {
        let bytes = fx.bound_token(&holders(blocks)).to_bytes().to_vec();
        fixture(valet_token::Token::from_bytes(&bytes));
        fixture(biscuit_auth::UnverifiedBiscuit::from(&bytes));
        group.bench_with_input(BenchmarkId::new("valet", blocks), &bytes, |b, bytes| {
            b.iter(|| valet_token::Token::from_bytes(bytes))
        });
        group.bench_with_input(BenchmarkId::new("biscuit", blocks), &bytes, |b, bytes| {
            b.iter(|| biscuit_auth::UnverifiedBiscuit::from(bytes))
        });
    }
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
