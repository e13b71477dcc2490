//! First presentation (token bytes never seen before) against repeat presentation of the
//! same bytes: a 3-block token (`first`, `repeat`) and a 1-block token (`first_1_block`,
//! `repeat_1_block`), 100 policies.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use valet_benches::{authorizer, request, Fixture};

fn presentation(c: &mut Criterion) {
    let fx = Fixture::new();
    let az = authorizer(&fx, 100);
    let req = request();
    let token = fx.token(3);
    let bytes = token.to_bytes().to_vec();
    assert!(az
        .authorize_encoded(
            valet::Encoded::Bytes(&bytes),
            &req,
            &valet::Presentation::new()
        )
        .allowed());
    let mut group = c.benchmark_group("presentation");
    group.bench_function("first", |b| {
        b.iter_batched(
            || fx.token(3).to_bytes().to_vec(),
            |fresh| {
                az.authorize_encoded(
                    valet::Encoded::Bytes(&fresh),
                    &req,
                    &valet::Presentation::new(),
                )
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("repeat", |b| {
        b.iter(|| {
            az.authorize_encoded(
                valet::Encoded::Bytes(&bytes),
                &req,
                &valet::Presentation::new(),
            )
        })
    });
    let root = fx.token(1).to_bytes().to_vec();
    assert!(az
        .authorize_encoded(
            valet::Encoded::Bytes(&root),
            &req,
            &valet::Presentation::new()
        )
        .allowed());
    group.bench_function("first_1_block", |b| {
        b.iter_batched(
            || fx.token(1).to_bytes().to_vec(),
            |fresh| {
                az.authorize_encoded(
                    valet::Encoded::Bytes(&fresh),
                    &req,
                    &valet::Presentation::new(),
                )
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("repeat_1_block", |b| {
        b.iter(|| {
            az.authorize_encoded(
                valet::Encoded::Bytes(&root),
                &req,
                &valet::Presentation::new(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, presentation);
criterion_main!(benches);
