//! Throughput: 512 repeat presentations on one thread against 512 on each of two threads
//! sharing one authorizer (3-block token, 100 policies). Two threads doing twice the work
//! in the same time is a 2x throughput.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use valet_benches::{authorizer, request, Fixture};

const PER_THREAD: usize = 512;

fn threads(c: &mut Criterion) {
    let fx = Fixture::new();
    let az = authorizer(&fx, 100);
    let req = request();
    let bytes = fx.token(3).to_bytes().to_vec();
    assert!(az
        .authorize_encoded(
            valet::Encoded::Bytes(&bytes),
            &req,
            &valet::Presentation::new()
        )
        .allowed());
    let mut group = c.benchmark_group("threads");
    for n in [1usize, 2] {
        group.bench_with_input(BenchmarkId::new("x512", n), &n, |b, &n| {
            b.iter(|| {
                std::thread::scope(|s| {
                    for _ in 0..n {
                        s.spawn(|| {
                            for _ in 0..PER_THREAD {
                                std::hint::black_box(az.authorize_encoded(
                                    valet::Encoded::Bytes(&bytes),
                                    &req,
                                    &valet::Presentation::new(),
                                ));
                            }
                        });
                    }
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, threads);
criterion_main!(benches);
