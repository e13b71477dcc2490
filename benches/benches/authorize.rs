//! End to end: `Authorizer::authorize` for tokens of 1, 3 and 8 blocks against 10, 100
//! and 1000 policies.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use valet_benches::{authorizer, request, Fixture};

fn authorize(c: &mut Criterion) {
    let fx = Fixture::new();
    let req = request();
    let mut group = c.benchmark_group("authorize");
    for n in [10usize, 100, 1000] {
        let az = authorizer(&fx, n);
        for blocks in [1usize, 3, 8] {
            let token = fx.token(blocks);
            assert!(az
                .authorize(&token, &req, &valet::Presentation::new())
                .allowed());
            group.bench_with_input(
                BenchmarkId::new(format!("blocks_{blocks}"), format!("policies_{n}")),
                &token,
                |b, t| b.iter(|| az.authorize(t, &req, &valet::Presentation::new())),
            );
        }
    }
    group.finish();
}

criterion_group!(benches, authorize);
criterion_main!(benches);
