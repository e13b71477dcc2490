//! `Authorizer::authorize` from Rust, on the same token, request and policies as
//! `bench/bench_authorize.py`, to compare the binding's overhead:
//! `cargo bench -p valet-py --bench authorize`.

#![expect(
    clippy::unwrap_used,
    reason = "a benchmark fails loudly on a broken setup"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{criterion_main, Criterion};
use valet::danger::{BearerMinting, DangerousAuthorizerBuilder};
use valet::{
    Attenuation, Audience, AuthorizationDetail, Authorizer, FixedClock, Issuer, KeyId, KeySet,
    PolicyStore, Request, RootKeyPair, Scope, TokenBuilder, TransactionDetails,
};

/// The instant every run is judged at (the Python benchmark uses the same).
const NOW: u64 = 1_800_000_000;

fn authorize(c: &mut Criterion) {
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    let root = RootKeyPair::generate(KeyId(1));
    let pay = Audience::parse("https://pay.example.com").unwrap();
    let token = Issuer::new(root.clone())
        .mint_at(
            TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
                .audience(pay.clone())
                .scope(Scope::parse("payments:write").unwrap())
                .expires_in(Duration::from_secs(600))
                .detail(
                    AuthorizationDetail::new("payment")
                        .actions(["pay_invoice"])
                        .max("amount", "1000.00".parse().unwrap())
                        .one_of("currency", ["USD"]),
                )
                // A bearer token, as the Python benchmark measures: no proof per call.
                .bearer(),
            now,
        )
        .unwrap();
    let child = token
        .attenuate(
            Attenuation::new()
                .delegate("invoice-agent")
                .max("payment", "amount", "50.00".parse().unwrap())
                .one_of("payment", "recipient", ["alice@example.com"])
                .expires_in(Duration::from_secs(300))
                .now(now),
        )
        .unwrap();
    let policies =
        PolicyStore::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies")).unwrap();
    let authorizer = Authorizer::builder(KeySet::new().with(root.public()), policies)
        .accept_bearer_tokens()
        .clock(Arc::new(FixedClock::new(now)))
        .build();
    let request = Request::new(pay, "pay_invoice").details(
        TransactionDetails::new("payment")
            .with("amount", "50.00")
            .with("currency", "USD")
            .with("recipient", "alice@example.com"),
    );
    assert!(authorizer
        .authorize(&child, &request, &valet::Presentation::new())
        .allowed());
    c.bench_function("authorize attenuated payment (rust)", |b| {
        b.iter(|| {
            black_box(authorizer.authorize(
                black_box(&child),
                black_box(&request),
                &valet::Presentation::new(),
            ))
        })
    });
}

mod group {
    criterion::criterion_group!(benches, super::authorize);
}
criterion_main!(group::benches);
