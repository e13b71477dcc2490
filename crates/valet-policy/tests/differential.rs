#![allow(clippy::unwrap_used, reason = "tests fail by panicking")]
//! Valet decides as Cedar's own `Authorizer` does, on the author's namespaced model with
//! hierarchies on both sides and entity data.
//!
//! Random entity data, random policies and random one-step transactions over
//! `support/docs.cedarschema`: Valet's decision (through the index, with the entity data
//! given by an `EntityData` provider) is compared with Cedar's `is_authorized` under every
//! policy, on a Cedar request built here by hand from the transaction (the agent entity
//! with the attributes Valet fills and the groups the data gives it, the person
//! `Docs::User::"<subject>"`, the resource the identifier or the audience names, the
//! context as the schema types it, each date-time as Cedar reads its own text) and the
//! whole entity data. The outcomes and the determining policies must be the same, a Cedar
//! evaluation error must be a deny, and an allow where only `@approval` forbids stand in
//! the way must be a needs-approval.

mod support;

use std::cell::Cell;
use std::collections::HashSet;
use std::str::FromStr;

use cedar_policy::{
    Authorizer, Context, Decision, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request, RestrictedExpression, Schema,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use support::docs::{policy, policy_text, request, world, DocsRequest, World, SCHEMA};
use valet_policy::{EntityData, PolicyOutcome, PolicyStore, Transaction, APPROVAL_ANNOTATION};

fn entity(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(&format!("Docs::{ty}")).unwrap(),
        EntityId::new(id),
    )
}

/// The policies as Cedar holds them, each under its `@id`: all, and all but the approval
/// forbids.
fn cedar_policies(text: &str) -> (PolicySet, PolicySet) {
    let parsed = PolicySet::from_str(text).unwrap();
    let mut all = PolicySet::new();
    let mut without_approval = PolicySet::new();
    for p in parsed.policies() {
        let id = p.annotation("id").unwrap().to_owned();
        let p = p.new_id(PolicyId::new(id));
        if p.annotation(APPROVAL_ANNOTATION).is_none() {
            without_approval.add(p.clone()).unwrap();
        }
        all.add(p).unwrap();
    }
    (all, without_approval)
}

/// The Cedar request of a transaction, built from its parts.
fn cedar_request(schema: &Schema, r: &DocsRequest) -> Request {
    let (ty, id) = r.resource();
    Request::new(
        entity("Bot", r.agent()),
        entity("Action", r.action),
        entity(ty, &id),
        Context::from_pairs(r.cedar_context()).unwrap(),
        Some(schema),
    )
    .unwrap()
}

/// The whole entity data, the schema's actions, and the acting agent with the attributes
/// Valet fills and the groups the data gives it.
fn cedar_entities(schema: &Schema, world: &World, r: &DocsRequest) -> Entities {
    let agent = entity("Bot", r.agent());
    let data = Entities::from_json_value(world.to_json(), None).unwrap();
    let strings = |items: &[&str]| {
        RestrictedExpression::new_set(
            items
                .iter()
                .map(|s| RestrictedExpression::new_string((*s).to_owned())),
        )
    };
    let attrs = [
        (
            "person",
            RestrictedExpression::new_entity_uid(entity("User", r.subject)),
        ),
        (
            "subject",
            RestrictedExpression::new_string(r.subject.into()),
        ),
        ("client", RestrictedExpression::new_string(r.client.into())),
        (
            "depth",
            RestrictedExpression::new_long(r.chain.len().try_into().unwrap()),
        ),
        ("chain", strings(&r.chain)),
        ("verified", RestrictedExpression::new_bool(r.verified)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let groups: HashSet<EntityUid> = world
        .groups_of(r.agent())
        .into_iter()
        .map(|g| entity("BotGroup", g))
        .collect();
    let agent_entity = Entity::new(agent.clone(), attrs, groups).unwrap();
    let others = data.iter().filter(|e| e.uid() != agent).cloned();
    let actions = schema.action_entities().unwrap();
    Entities::from_entities(
        others.chain(actions.iter().cloned()).chain([agent_entity]),
        None,
    )
    .unwrap()
}

/// What Valet must decide, from Cedar's answers: Cedar's decision and reasons, a deny on
/// any evaluation error (keeping only the forbids among the reasons), and a needs-approval
/// when every reason of a deny is an approval forbid and Cedar allows without them.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    outcome: PolicyOutcome,
    determining: Vec<String>,
}

fn expected(
    request: &Request,
    entities: &Entities,
    all: &PolicySet,
    without_approval: &PolicySet,
) -> (Expected, bool) {
    let authorizer = Authorizer::new();
    let response = authorizer.is_authorized(request, all, entities);
    let mut reasons: Vec<&PolicyId> = response.diagnostics().reason().collect();
    reasons.sort_by_key(|id| id.to_string());
    let policy = |id: &PolicyId| all.policy(id).unwrap();
    let ids = |reasons: &[&PolicyId]| reasons.iter().map(|id| id.to_string()).collect();
    let errored = response.diagnostics().errors().next().is_some();
    if errored {
        let forbids: Vec<&PolicyId> = reasons
            .into_iter()
            .filter(|id| policy(id).effect() == cedar_policy::Effect::Forbid)
            .collect();
        let e = Expected {
            outcome: PolicyOutcome::Deny,
            determining: ids(&forbids),
        };
        return (e, true);
    }
    let outcome = match response.decision() {
        Decision::Allow => PolicyOutcome::Allow,
        Decision::Deny
            if !reasons.is_empty()
                && reasons
                    .iter()
                    .all(|id| policy(id).annotation(APPROVAL_ANNOTATION).is_some()) =>
        {
            let again = authorizer.is_authorized(request, without_approval, entities);
            if again.decision() == Decision::Allow && again.diagnostics().errors().next().is_none()
            {
                PolicyOutcome::NeedsApproval
            } else {
                PolicyOutcome::Deny
            }
        }
        Decision::Deny => PolicyOutcome::Deny,
    };
    let e = Expected {
        outcome,
        determining: ids(&reasons),
    };
    (e, false)
}

#[derive(Default)]
struct Tally {
    allow: Cell<u32>,
    deny: Cell<u32>,
    approval: Cell<u32>,
    errors: Cell<u32>,
}

impl Tally {
    fn count(&self, e: &Expected, errored: bool) {
        let cell = match e.outcome {
            _ if errored => &self.errors,
            PolicyOutcome::Allow => &self.allow,
            PolicyOutcome::Deny => &self.deny,
            PolicyOutcome::NeedsApproval => &self.approval,
        };
        cell.set(cell.get() + 1);
    }
}

#[test]
fn valet_decides_as_cedar_does() {
    let schema = Schema::from_cedarschema_str(SCHEMA).unwrap().0;
    let tally = Tally::default();
    let mut runner = TestRunner::new(Config {
        cases: 96,
        source_file: Some(file!()),
        ..Config::default()
    });
    let inputs = (
        world(),
        prop::collection::vec(policy(), 0..20),
        prop::collection::vec(request(), 1..12),
    );
    let result = runner.run(&inputs, |(world, policies, requests)| {
        let text = policy_text(&policies);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("schema.cedarschema"), SCHEMA).unwrap();
        std::fs::write(dir.path().join("random.cedar"), &text).unwrap();
        let store = PolicyStore::load(dir.path()).unwrap();
        let data = EntityData::from_json_value(world.to_json(), &store).unwrap();
        let (all, without_approval) = cedar_policies(&text);
        for r in &requests {
            let scopes = r.scopes();
            let chain = r.chain();
            let details = r.details();
            let tx = Transaction {
                agent: r.agent(),
                subject: r.subject,
                client: r.client,
                chain: &chain,
                action: r.action,
                audience: r.audience,
                scopes: &scopes,
                details: details.as_ref(),
                earlier: &[],
                verified: r.verified,
            };
            let valet = store.evaluate_with_entities(&tx, &data, true);
            // The same entities from a provider whose data Valet validates and whose
            // hierarchy it closes itself.
            prop_assert_eq!(
                &store.evaluate_with_entities(&tx, &Untrusted(&data), true),
                &valet,
                "{:?}",
                r
            );
            let request = cedar_request(&schema, r);
            let entities = cedar_entities(&schema, &world, r);
            let (want, errored) = expected(&request, &entities, &all, &without_approval);
            tally.count(&want, errored);
            let got = Expected {
                outcome: valet.outcome,
                determining: valet.determining.iter().map(|d| d.id.clone()).collect(),
            };
            prop_assert_eq!(
                got,
                want,
                "request {:?}\nValet: {:?}\nCedar request: {}",
                r,
                valet.reasons,
                request
            );
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (allow, deny, approval, errors) = (
        tally.allow.get(),
        tally.deny.get(),
        tally.approval.get(),
        tally.errors.get(),
    );
    let tally = format!("allow {allow}, deny {deny}, needs approval {approval}, errors {errors}");
    println!("{tally}");
    assert!(
        allow > 0 && deny > 0 && approval > 0 && errors > 0,
        "the generators must give every kind of decision: {tally}"
    );
}

/// A provider giving what an [`EntityData`] gives, but not saying it was validated: its
/// entities take the path every other provider's take.
struct Untrusted<'a>(&'a EntityData);

impl valet_policy::EntityProvider for Untrusted<'_> {
    fn entities(
        &self,
        lookup: &valet_policy::EntityLookup<'_>,
    ) -> Result<Vec<cedar_policy::Entity>, valet_policy::EntityError> {
        self.0.gather(lookup)
    }
}
