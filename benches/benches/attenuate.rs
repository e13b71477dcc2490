//! Appending one attenuation block, offline, to a token of 1, 3 and 7 blocks.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use valet_benches::{attenuation, fixture, Fixture};

fn attenuate(c: &mut Criterion) {
    let fx = Fixture::new();
    let mut group = c.benchmark_group("attenuate");
    for blocks in [1usize, 3, 7] {
        let token = fx.token(blocks);
        group.bench_with_input(BenchmarkId::new("onto", blocks), &token, |b, t| {
            b.iter(|| fixture(t.attenuate(attenuation(blocks))))
        });
    }
    group.finish();
}

criterion_group!(benches, attenuate);
criterion_main!(benches);
