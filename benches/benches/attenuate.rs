//! Appending one attenuation block, offline, to a token of 1, 3 and 7 blocks
//! (`attenuate/onto/*`, unsigned, bearer); and, as Tenuo attenuates a warrant, a
//! delegation of a holder-bound 1-block token signed by its holder and bound to the next
//! holder's key (`attenuate/holder_signed_onto_1`).

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use valet_benches::{attenuation, fixture, holders, Fixture};

fn attenuate(c: &mut Criterion) {
    let fx = Fixture::new();
    let mut group = c.benchmark_group("attenuate");
    for blocks in [1usize, 3, 7] {
        let token = fx.token(blocks);
        group.bench_with_input(BenchmarkId::new("onto", blocks), &token, |b, t| {
            b.iter(|| fixture(t.attenuate(attenuation(blocks))))
        });
    }
    let keys = holders(2);
    if let [holder, next] = keys.as_slice() {
        let bound = fx.bound_token(std::slice::from_ref(holder));
        let next = next.public();
        group.bench_function("holder_signed_onto_1", |b| {
            b.iter(|| fixture(bound.attenuate_signed(attenuation(1).holder(next), holder)))
        });
    }
    group.finish();
}

criterion_group!(benches, attenuate);
criterion_main!(benches);
