//! Tenuo, the closest peer, measured in the same run: mint a warrant, attenuate it, and
//! verify-and-authorize a root warrant and a 3-deep chain with constraints comparable to
//! the Valet benchmark token (a tool, an amount range and a recipient allowlist, plus a
//! currency), with the holder's proof-of-possession signature.
//!
//! A Tenuo proof of possession is signed over a 30-second time window, and the verifier
//! tries the current window first, then the ones before and after, one signature check
//! each. A proof signed once before the run would fall into an earlier window as the run
//! goes on and cost one or more failed checks per call; so, as for Valet's proofs, each
//! call gets a proof signed in criterion's setup (`iter_batched`), untimed.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use std::collections::HashMap;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use tenuo::constraints::{ConstraintSet, ConstraintValue, Exact, OneOf, Range};
use tenuo::crypto::SigningKey;
use tenuo::planes::Authorizer;
use tenuo::warrant::Warrant;
use valet_benches::fixture;

fn constraints(max: f64, recipients: &[&str]) -> ConstraintSet {
    ConstraintSet::from_iter(vec![
        (
            "amount".to_string(),
            fixture(Range::new(Some(0.0), Some(max))).into(),
        ),
        (
            "recipient".to_string(),
            OneOf::new(recipients.iter().copied()).into(),
        ),
        ("currency".to_string(), Exact::new("USD").into()),
    ])
}

fn args() -> HashMap<String, ConstraintValue> {
    HashMap::from([
        ("amount".to_string(), ConstraintValue::Float(50.0)),
        (
            "recipient".to_string(),
            ConstraintValue::String("alice@example.com".into()),
        ),
        (
            "currency".to_string(),
            ConstraintValue::String("USD".into()),
        ),
    ])
}

const ALL: [&str; 3] = ["alice@example.com", "bob@example.com", "carol@example.com"];

fn tenuo(c: &mut Criterion) {
    let keys: Vec<SigningKey> = (0..4).map(|_| SigningKey::generate()).collect();
    let [k0, k1, k2, k3] = [0, 1, 2, 3].map(|i| fixture(keys.get(i).ok_or("no key")));
    let mint = || {
        Warrant::builder()
            .capability("pay_invoice", constraints(1000.0, &ALL))
            .ttl(Duration::from_secs(600))
            .holder(k1.public_key())
            .build(k0)
    };
    let root = fixture(mint());
    let child = |parent: &Warrant, signer: &SigningKey, holder: &SigningKey, max: f64| {
        parent
            .attenuate()
            .capability(
                "pay_invoice",
                constraints(max, &["alice@example.com", "bob@example.com"]),
            )
            .holder(holder.public_key())
            .build(signer)
    };
    let mid = fixture(child(&root, k1, k2, 990.0));
    let leaf = fixture(child(&mid, k2, k3, 980.0));
    let authorizer = fixture(Authorizer::builder().trusted_root(k0.public_key()).build());
    let args = args();
    let root_pop = fixture(root.sign(k1, "pay_invoice", &args));
    let leaf_pop = fixture(leaf.sign(k3, "pay_invoice", &args));
    let root_chain = [root.clone()];
    let chain_leaf = leaf.clone();
    let chain = [root.clone(), mid, leaf];
    fixture(authorizer.check_chain(&root_chain, "pay_invoice", &args, Some(&root_pop), &[]));
    fixture(authorizer.check_chain(&chain, "pay_invoice", &args, Some(&leaf_pop), &[]));
    assert!(authorizer
        .check_chain(&root_chain, "delete_file", &args, Some(&root_pop), &[])
        .is_err());

    let mut group = c.benchmark_group("tenuo");
    group.bench_function("mint", |b| b.iter(|| fixture(mint())));
    group.bench_function("attenuate", |b| b.iter(|| child(&root, k1, k2, 990.0)));
    let root_pop = || fixture(root.sign(k1, "pay_invoice", &args));
    let leaf_pop = || fixture(chain_leaf.sign(k3, "pay_invoice", &args));
    group.bench_function("authorize_root", |b| {
        b.iter_batched(
            root_pop,
            |pop| authorizer.check_chain(&root_chain, "pay_invoice", &args, Some(&pop), &[]),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("authorize_chain_3", |b| {
        b.iter_batched(
            leaf_pop,
            |pop| authorizer.check_chain(&chain, "pay_invoice", &args, Some(&pop), &[]),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("deny_wrong_tool", |b| {
        b.iter_batched(
            root_pop,
            |pop| authorizer.check_chain(&root_chain, "delete_file", &args, Some(&pop), &[]),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, tenuo);
criterion_main!(benches);
