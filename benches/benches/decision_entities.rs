//! What entity data adds to a whole decision: `Authorizer::authorize` on the author's model
//! (the bundled `Acme` schema with teams that nest, the model policies, 100 policies), the
//! request of the policy bench's model transaction (`agent-2` reads
//! `/finance/reports/q3.xlsx` for alice) made by a holder-bound 3-block token, each
//! delegation signed by the holder before it, with a fresh proof of possession on every
//! call. `without_data` judges it with no entity data, `provider_10_entities` with an
//! `EntityData` provider that gives ten entities with parents. The token was seen before
//! the timing starts (its chain is verified once and cached, as for any repeat
//! presentation); the proof's signature check, its replay-cache entry, every block's
//! Datalog and the policies over the three steps are timed. Signing the proof is the
//! agent's cost and is left out.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use cedar_policy::Entity;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use valet::{Decision, EntityData, EntityError, EntityLookup, EntityProvider};
use valet_benches::decision_model::{model_request, ModelToken};
use valet_benches::{model_entities, model_store};

/// A provider that counts what the entity data gives, to check the fixture's shape before
/// measuring (the measured authorizer is given the entity data itself).
struct Counted {
    inner: Arc<EntityData>,
    given: AtomicUsize,
}

impl EntityProvider for Counted {
    fn entities(&self, lookup: &EntityLookup<'_>) -> Result<Vec<Entity>, EntityError> {
        let given = self.inner.entities(lookup)?;
        self.given.store(given.len(), Ordering::Relaxed);
        Ok(given)
    }
}

/// The permits that hold only through the entity data's hierarchies: `agent-2` in the
/// `assistants` fleet, alice in `finance` in `company` and the file under `/`.
const THROUGH_THE_DATA: [&str; 2] = ["model-assistants-read", "model-company-files"];

fn determined_by(d: &Decision, id: &str) -> bool {
    d.determining_policies().iter().any(|p| p.id == id)
}

fn decision_entities(c: &mut Criterion) {
    let model = ModelToken::new();
    let token = model.token();
    let req = model_request();
    let store = Arc::new(model_store(100));
    let data = Arc::new(model_entities(&store));
    let without = model.authorizer(store.clone(), None);
    let with = model.authorizer(store.clone(), Some(data.clone()));

    let counted = Arc::new(Counted {
        inner: data,
        given: AtomicUsize::new(0),
    });
    let check = model.authorizer(store, Some(counted.clone()));
    let d = check.authorize(token, &req, &model.presentation(&req));
    assert!(d.allowed(), "{:?}", d.reasons());
    assert_eq!(counted.given.load(Ordering::Relaxed), 10);

    // Each measured authorizer sees the token once here, so every timed call is a repeat
    // presentation of it.
    let d = with.authorize(token, &req, &model.presentation(&req));
    assert!(d.allowed(), "{:?}", d.reasons());
    // The entity data is read, and the delegations verified as signed: the permits
    // through the fleet and the teams (the second also needs `principal.verified`) decide.
    for id in THROUGH_THE_DATA {
        assert!(determined_by(&d, id), "{:?}", d.determining_policies());
    }
    let d = without.authorize(token, &req, &model.presentation(&req));
    assert!(d.allowed(), "{:?}", d.reasons());
    for id in THROUGH_THE_DATA {
        assert!(!determined_by(&d, id), "{:?}", d.determining_policies());
    }

    let mut group = c.benchmark_group("decision_entities");
    group.bench_function("without_data", |b| {
        b.iter_batched_ref(
            || model.presentation(&req),
            |p| without.authorize(token, &req, p),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("provider_10_entities", |b| {
        b.iter_batched_ref(
            || model.presentation(&req),
            |p| with.authorize(token, &req, p),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, decision_entities);
criterion_main!(benches);
