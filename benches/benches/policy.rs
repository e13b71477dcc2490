//! The policy layer alone: one transaction against 10, 100 and 1000 policies; then, on the
//! author's own model (the bundled `Acme` schema with teams that nest), a request of a
//! three-step delegation chain against 100 and 1000 policies, and the same request with
//! and without entity data.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use std::sync::atomic::{AtomicUsize, Ordering};

use cedar_policy::Entity;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use valet_benches::{
    model_entities, model_store, model_transaction, payment, policy_store, ModelRequest, AUDIENCE,
};
use valet_policy::{
    EntityError, EntityLookup, EntityProvider, PolicyOutcome, PolicyStore, Transaction,
};

fn policy(c: &mut Criterion) {
    let details = payment();
    let chain = vec!["agent-1".to_owned(), "agent-2".to_owned()];
    let scopes = vec!["files:read".to_owned(), "payments:write".to_owned()];
    let tx = Transaction {
        agent: "agent-2",
        subject: "alice@example.com",
        client: "https://orchestrator.example/client",
        chain: &chain,
        action: "pay_invoice",
        audience: AUDIENCE,
        scopes: &scopes,
        details: Some(&details),
        earlier: &[],
        verified: true,
    };
    let mut group = c.benchmark_group("policy");
    for n in [10usize, 100, 1000] {
        let store = policy_store(n);
        assert!(store.evaluate(&tx).is_allow());
        group.bench_with_input(BenchmarkId::new("policies", n), &store, |b, s| {
            b.iter(|| s.evaluate(&tx))
        });
    }
    group.finish();
}

/// The model request (three steps, each judged) against 100 and 1000 policies, without
/// entity data: what the index saves as the policies grow.
fn model(c: &mut Criterion) {
    let parts = ModelRequest::new();
    let earlier = parts.earlier();
    let tx = model_transaction(&parts, &earlier);
    let mut group = c.benchmark_group("policy_model");
    for n in [100usize, 1000] {
        let store = model_store(n);
        let d = store.evaluate(&tx);
        assert!(d.is_allow(), "{d:?}");
        group.bench_with_input(BenchmarkId::new("policies", n), &store, |b, s| {
            b.iter(|| s.evaluate(&tx))
        });
    }
    group.finish();
}

/// A provider that counts what the entity data gives, to check the fixture's shape before
/// measuring (the measured calls ask the entity data directly).
struct Counted<'a> {
    inner: &'a dyn EntityProvider,
    given: AtomicUsize,
}

impl EntityProvider for Counted<'_> {
    fn entities(&self, lookup: &EntityLookup<'_>) -> Result<Vec<Entity>, EntityError> {
        let given = self.inner.entities(lookup)?;
        self.given.store(given.len(), Ordering::Relaxed);
        Ok(given)
    }
}

/// The model request with 100 policies, without entity data and with an [`EntityData`]
/// provider that gives ten entities with parents (the delegates in a fleet, the person in
/// a team in a parent team, the file in a hierarchy of folders).
///
/// [`EntityData`]: valet_policy::EntityData
fn entities(c: &mut Criterion) {
    let parts = ModelRequest::new();
    let earlier = parts.earlier();
    let tx = model_transaction(&parts, &earlier);
    let store: PolicyStore = model_store(100);
    let data = model_entities(&store);
    let counted = Counted {
        inner: &data,
        given: AtomicUsize::new(0),
    };
    let with = store.evaluate_with_entities(&tx, &counted, true);
    assert_eq!(with.outcome, PolicyOutcome::Allow, "{with:?}");
    assert_eq!(counted.given.load(Ordering::Relaxed), 10);
    // The entity data is read: the permits through the fleet and the teams decide too.
    for id in ["model-assistants-read", "model-company-files"] {
        assert!(with.determining.iter().any(|p| p.id == id), "{with:?}");
    }
    let without = store.evaluate(&tx);
    assert_eq!(without.outcome, PolicyOutcome::Allow, "{without:?}");

    let mut group = c.benchmark_group("policy_entities");
    group.bench_function("without_data", |b| b.iter(|| store.evaluate(&tx)));
    group.bench_function("provider_10_entities", |b| {
        b.iter(|| store.evaluate_with_entities(&tx, &data, true))
    });
    group.finish();
}

criterion_group!(benches, policy, model, entities);
criterion_main!(benches);
