//! First presentation (token bytes never seen before) against repeat presentation of the
//! same bytes: a 3-block token (`first`, `repeat`) and a 1-block token (`first_1_block`,
//! `repeat_1_block`), bearer, 100 policies. Then the same with holder-bound tokens and a
//! fresh proof of possession on every call (`*_with_proof`): the 1-block token bound to
//! its holder, and the 3-block token built as Tenuo's 3-deep chain is (the root bound to
//! the first holder, each delegation signed by the holder before it and bound to the
//! next), its proof by the last holder. The token bytes (for a first presentation) and
//! the proof are made in the setup, so only the verifier's work is timed.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use valet_benches::{
    authorizer, holders, presentation_with_proof, proof_authorizer, request, Fixture,
};

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

    // Holder-bound tokens, each call with a fresh proof (a fresh nonce).
    let az = proof_authorizer(&fx, 100);
    for blocks in [1usize, 3] {
        let keys = holders(blocks);
        let Some(last) = keys.last() else { continue };
        let token = fx.bound_token(&keys);
        let bytes = token.to_bytes().to_vec();
        let p = presentation_with_proof(last, &token);
        assert!(az
            .authorize_encoded(valet::Encoded::Bytes(&bytes), &req, &p)
            .allowed());
        let name = |kind: &str| match blocks {
            1 => format!("{kind}_1_block_with_proof"),
            n => format!("{kind}_{n}_blocks_with_proof"),
        };
        group.bench_function(name("first"), |b| {
            b.iter_batched(
                || {
                    let fresh = fx.bound_token(&keys);
                    let p = presentation_with_proof(last, &fresh);
                    (fresh.to_bytes().to_vec(), p)
                },
                |(fresh, p)| az.authorize_encoded(valet::Encoded::Bytes(&fresh), &req, &p),
                BatchSize::SmallInput,
            )
        });
        group.bench_function(name("repeat"), |b| {
            b.iter_batched(
                || presentation_with_proof(last, &token),
                |p| az.authorize_encoded(valet::Encoded::Bytes(&bytes), &req, &p),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, presentation);
criterion_main!(benches);
