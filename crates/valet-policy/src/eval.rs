//! Deciding a transaction: judged for every step of its delegation chain and every
//! resource it names, it is allowed only if allowed at each.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use cedar_policy::{Entities, EntityUid};

use crate::answer::decide_request;
use crate::decision::{PolicyDecision, PolicyOutcome, PolicyReason};
use crate::entities::{EntityLookup, EntityProvider};
use crate::limits::PolicyLimits;
use crate::loaded::Loaded;
use crate::request::{
    agent_entity, build_request, context_fields, person_of, resources_of, step_principal,
};
use crate::store::PolicyStore;
use crate::transaction::{Step, Transaction};

impl PolicyStore {
    /// Decides a transaction against the policies in force, without entity data.
    ///
    /// Fails closed: an unknown action, a transaction field that does not fit the
    /// schema, or any error while evaluating a policy gives [`PolicyOutcome::Deny`] with
    /// the problem in `reasons`.
    pub fn evaluate(&self, tx: &Transaction<'_>) -> PolicyDecision {
        self.decide(tx, None, true)
    }

    /// Decides a transaction evaluating every policy in force, not only those indexed
    /// under its action. The decision is the same as [`evaluate`](Self::evaluate)'s; this
    /// exists to compare the two and to measure the index.
    pub fn evaluate_unindexed(&self, tx: &Transaction<'_>) -> PolicyDecision {
        self.decide(tx, None, false)
    }

    /// [`evaluate`](Self::evaluate) when `indexed`, else
    /// [`evaluate_unindexed`](Self::evaluate_unindexed).
    pub fn evaluate_with_index(&self, tx: &Transaction<'_>, indexed: bool) -> PolicyDecision {
        self.decide(tx, None, indexed)
    }

    /// Decides a transaction with the resource server's entity data: `entities` is asked
    /// once for the entities the request names (see [`EntityLookup`]), and what it gives
    /// is validated against the schema. An error, an answer after
    /// [`PolicyLimits::entity_timeout`](crate::PolicyLimits::entity_timeout), or entity
    /// data that does not fit the schema is a deny that says so.
    pub fn evaluate_with_entities(
        &self,
        tx: &Transaction<'_>,
        entities: &dyn EntityProvider,
        indexed: bool,
    ) -> PolicyDecision {
        self.decide(tx, Some(entities), indexed)
    }

    fn decide(
        &self,
        tx: &Transaction<'_>,
        provider: Option<&dyn EntityProvider>,
        indexed: bool,
    ) -> PolicyDecision {
        let loaded = self.snapshot();
        let Some(spec) = loaded.actions.get(tx.action) else {
            return PolicyDecision::deny(vec![format!(
                "action `{}` is not in the schema: declare it in `schema.cedarschema` or call a declared action",
                tx.action
            )]);
        };
        if !spec.takes_agent {
            return PolicyDecision::deny(vec![format!(
                "action `{}` does not take agents (`{}`) as its principal: add `{}` to the action's `principal` types in the schema",
                tx.action, loaded.model.agent, loaded.model.agent
            )]);
        }
        let fields = match context_fields(spec, tx) {
            Ok(f) => f,
            Err(reasons) => return PolicyDecision::deny(reasons),
        };
        let limits = self.limits();
        let resources = match resources_of(tx, spec, limits.max_resources) {
            Ok(r) => r,
            Err(problem) => return PolicyDecision::deny(vec![problem]),
        };
        // The acting agent first, then each earlier step that differs from the next one.
        let last = Step {
            block: usize::MAX,
            delegates: tx.chain.len(),
            scopes: tx.scopes,
            verified: tx.verified,
        };
        let mut steps = vec![last];
        let mut next = last;
        for step in tx.earlier.iter().rev() {
            if step.delegates != next.delegates
                || step.scopes != next.scopes
                || step.verified != next.verified
            {
                steps.push(*step);
            }
            next = *step;
        }
        let evaluations = steps.len().saturating_mul(resources.len());
        if evaluations > limits.max_evaluations {
            return PolicyDecision::deny(vec![format!(
                "judging this request takes {evaluations} policy evaluations ({} steps of its delegation chain, {} resources), more than the limit of {}: name fewer resources, or present a token with a shorter chain",
                steps.len(),
                resources.len(),
                limits.max_evaluations
            )]);
        }
        let principals: Vec<EntityUid> = steps
            .iter()
            .map(|step| step_principal(&loaded, tx, *step))
            .collect();
        let data = match provider {
            None => StepEntities::without_data(&loaded),
            Some(provider) => {
                let person = person_of(&loaded, tx);
                let lookup = EntityLookup {
                    agents: &principals,
                    person: person.as_ref(),
                    resources: &resources,
                    deadline: Instant::now() + limits.entity_timeout,
                };
                match StepEntities::from_provider(&loaded, provider, &lookup, limits) {
                    Ok(data) => data,
                    Err(problem) => return PolicyDecision::deny(vec![problem]),
                }
            }
        };
        let mut pending: Vec<(Step<'_>, &EntityUid, PolicyDecision)> = Vec::new();
        // The first request built is checked against the schema; the others differ from it
        // only in the principal's id and attribute values, the resource's id and the scopes,
        // whose types the schema fixes, so they are not checked again.
        let mut validate = true;
        for (step, principal) in steps.into_iter().zip(principals) {
            let entities = match data.for_step(&loaded, tx, step, principal.clone()) {
                Ok(e) => e,
                Err(problem) => return PolicyDecision::deny(vec![problem]),
            };
            for resource in &resources {
                let built = build_request(
                    &loaded,
                    spec,
                    &fields,
                    step,
                    principal.clone(),
                    resource,
                    validate,
                );
                validate = false;
                let decision = match built {
                    Ok(request) => decide_request(&loaded, &request, &entities, tx.action, indexed),
                    Err(reasons) => PolicyDecision::deny(reasons),
                };
                if decision.outcome == PolicyOutcome::Deny {
                    return explain_step(decision, tx, step, resource, resources.len());
                }
                pending.push((step, resource, decision));
            }
        }
        merge_allowed(pending, tx, resources.len())
    }
}

/// The entities of a decision: what the entity data gave, validated, and per agent the
/// parents it gave.
struct StepEntities {
    base: Entities,
    parents: HashMap<EntityUid, HashSet<EntityUid>>,
    /// Whether some entity of the base is in an agent: its closure then needs the
    /// agent's parents, so adding the agent recomputes it.
    under_agents: bool,
}

impl StepEntities {
    fn without_data(loaded: &Loaded) -> StepEntities {
        StepEntities {
            base: loaded.action_entities.clone(),
            parents: HashMap::new(),
            under_agents: false,
        }
    }

    fn from_provider(
        loaded: &Loaded,
        provider: &dyn EntityProvider,
        lookup: &EntityLookup<'_>,
        limits: PolicyLimits,
    ) -> Result<StepEntities, String> {
        let started = Instant::now();
        // Entity data that a built-in provider validated against this very schema when it
        // was read is read directly: not validated again, and not copied.
        let validated = provider
            .validated()
            .filter(|v| v.0.generation == loaded.generation);
        let given = match &validated {
            Some(v) => Given::Shared(
                v.0.gather_shared(lookup)
                    .map_err(|e| format!("the entity data could not be read: {e}"))?,
            ),
            None => Given::Owned(
                provider
                    .entities(lookup)
                    .map_err(|e| format!("the entity data could not be read: {e}"))?,
            ),
        };
        let took = started.elapsed();
        if took > limits.entity_timeout {
            return Err(format!(
                "the entity data took {} ms to answer, more than its limit of {} ms: the request is refused rather than judged without it",
                took.as_millis(),
                limits.entity_timeout.as_millis()
            ));
        }
        if given.len() > limits.max_entities {
            return Err(format!(
                "the entity data gave {} entities for one request, more than the limit of {}: give only what the request names, with their ancestors",
                given.len(),
                limits.max_entities
            ));
        }
        let given = match given {
            Given::Shared(shared) => return Self::from_shared(loaded, lookup, shared),
            Given::Owned(owned) => owned,
        };
        let mut parents: HashMap<EntityUid, HashSet<EntityUid>> = HashMap::new();
        let mut others = Vec::with_capacity(given.len());
        for entity in given {
            let uid = entity.uid();
            if uid.type_name() == &loaded.model.agent {
                if !lookup.agents.contains(&uid) {
                    // Not an agent of this request: its attributes are Valet's to fill,
                    // and this request fills none for it.
                    continue;
                }
                if entity.attrs().next().is_some() || entity.tags().next().is_some() {
                    return Err(format!(
                        "the entity data gives agent `{uid}` attributes, but an agent's attributes are filled by Valet from the token: give agents parents only"
                    ));
                }
                let (_, _, p) = entity.into_inner();
                // The agent's attributes fit the schema by construction (their types are
                // checked at load, and every declared one is filled): only its parents
                // are the entity data's, and each must be of a type the agent may be in.
                for parent in &p {
                    if !loaded.model.agent_parents.contains(parent.type_name()) {
                        return Err(format!(
                            "the entity data puts agent `{uid}` in `{parent}`, but the schema does not let `{}` be in a `{}`: add it to the agent type's `in [...]` or change the data",
                            loaded.model.agent,
                            parent.type_name()
                        ));
                    }
                }
                parents.entry(uid).or_default().extend(p);
                continue;
            }
            if uid.type_name().basename() == "Action" {
                return Err(format!(
                    "the entity data gives `{uid}`, an action: actions and their groups come from the schema"
                ));
            }
            others.push(entity);
        }
        let under_agents = others.iter().any(|e| {
            AsRef::<cedar_policy_core::ast::Entity>::as_ref(e)
                .ancestors()
                .any(|a| EntityUid::from(a.clone()).type_name() == &loaded.model.agent)
        });
        let base = loaded.action_entities.clone();
        let base = base
            .add_entities(others, Some(&loaded.schema))
            .map_err(|e| {
                format!(
                    "the entity data does not fit the schema: {}",
                    crate::error::full_message(&e)
                )
            })?;
        Ok(StepEntities {
            base,
            parents,
            under_agents,
        })
    }

    /// The entities of a decision from entity data validated against the schema in force,
    /// shared: each entity holds every one of its ancestors already.
    fn from_shared(
        loaded: &Loaded,
        lookup: &EntityLookup<'_>,
        shared: Vec<Arc<cedar_policy_core::ast::Entity>>,
    ) -> Result<StepEntities, String> {
        let mut parents: HashMap<EntityUid, HashSet<EntityUid>> = HashMap::new();
        let mut others = Vec::with_capacity(shared.len());
        for entity in shared {
            let uid = EntityUid::from(entity.uid().clone());
            if uid.type_name() == &loaded.model.agent {
                if lookup.agents.contains(&uid) {
                    parents
                        .entry(uid)
                        .or_default()
                        .extend(entity.ancestors().cloned().map(EntityUid::from));
                }
                continue;
            }
            if uid.type_name().basename() == "Action" {
                continue;
            }
            others.push(entity);
        }
        let base = loaded.action_entities.clone();
        let base = closed_shared(&base, others)
            .map_err(|e| format!("the entity data cannot be used: {e}"))?;
        // Read with its agents, the data's closure holds their parents already.
        Ok(StepEntities {
            base,
            parents,
            under_agents: false,
        })
    }

    /// The entities of one step: the base and the step's agent (whose parents were
    /// checked when the entity data was read).
    fn for_step(
        &self,
        loaded: &Loaded,
        tx: &Transaction<'_>,
        step: Step<'_>,
        principal: EntityUid,
    ) -> Result<Entities, String> {
        // The agent's parents with every ancestor of theirs: the base's hierarchy is closed,
        // so the agent's is too once it holds them all.
        let mut ancestors = self.parents.get(&principal).cloned().unwrap_or_default();
        let mut above: Vec<EntityUid> = Vec::new();
        for parent in &ancestors {
            above.extend(self.base.ancestors(parent).into_iter().flatten().cloned());
        }
        ancestors.extend(above);
        let agent = agent_entity(loaded, tx, step, principal, ancestors)?;
        if self.under_agents {
            return self.base.clone().add_entities([agent], None).map_err(|e| {
                format!(
                    "the agent `{}` cannot be judged: {}",
                    tx.step_agent(step),
                    crate::error::full_message(&e)
                )
            });
        }
        closed(&self.base, [agent])
            .map_err(|e| format!("the agent `{}` cannot be judged: {e}", tx.step_agent(step)))
    }
}

/// `base` with `entities` added, each holding every one of its ancestors (the hierarchy
/// closed already), without computing the closure again: cedar-policy's `add_entities`
/// recomputes it for the whole store, which for a decision's few entities costs more than
/// judging them.
fn closed(
    base: &Entities,
    entities: impl IntoIterator<Item = cedar_policy::Entity>,
) -> Result<Entities, String> {
    closed_shared(
        base,
        entities
            .into_iter()
            .map(|e| Arc::new(AsRef::<cedar_policy_core::ast::Entity>::as_ref(&e).clone())),
    )
}

/// [`closed`] with entities already shared.
fn closed_shared(
    base: &Entities,
    entities: impl IntoIterator<Item = Arc<cedar_policy_core::ast::Entity>>,
) -> Result<Entities, String> {
    use cedar_policy_core::entities::{NoEntitiesSchema, TCComputation};
    // Added three at a time: `add_entities` keeps the ids it adds in a set of its own,
    // which holds three without growing (each growth hashes the set's ids again).
    let add = |core: cedar_policy_core::entities::Entities,
               chunk: &mut Vec<Arc<cedar_policy_core::ast::Entity>>| {
        core.add_entities(
            chunk.drain(..),
            None::<&NoEntitiesSchema>,
            TCComputation::AssumeAlreadyComputed,
            cedar_policy_core::extensions::Extensions::all_available(),
        )
        .map_err(|e| crate::error::full_message(&e))
    };
    let mut core: cedar_policy_core::entities::Entities = base.as_ref().clone();
    let mut chunk = Vec::with_capacity(3);
    for entity in entities {
        chunk.push(entity);
        if chunk.len() == 3 {
            core = add(core, &mut chunk)?;
        }
    }
    if !chunk.is_empty() {
        core = add(core, &mut chunk)?;
    }
    Ok(Entities::from(core))
}

/// What a provider gave: shared entities of validated data, or entities of its own.
enum Given {
    Shared(Vec<Arc<cedar_policy_core::ast::Entity>>),
    Owned(Vec<cedar_policy::Entity>),
}

impl Given {
    fn len(&self) -> usize {
        match self {
            Given::Shared(v) => v.len(),
            Given::Owned(v) => v.len(),
        }
    }
}

/// A step's decision with its reasons saying which step and resource it is about.
fn explain_step(
    mut decision: PolicyDecision,
    tx: &Transaction<'_>,
    step: Step<'_>,
    resource: &EntityUid,
    resources: usize,
) -> PolicyDecision {
    let earlier = step.block != usize::MAX;
    let agent = tx.step_agent(step);
    let approval = decision.outcome == PolicyOutcome::NeedsApproval;
    for PolicyReason {
        message: reason, ..
    } in &mut decision.reasons
    {
        if resources > 1 {
            *reason = format!("for resource `{resource}`: {reason}");
        }
        if !earlier || decision.outcome == PolicyOutcome::Allow {
            continue;
        }
        *reason = match (agent != tx.agent, approval) {
            (true, false) => format!(
                "`{agent}`, who delegated to `{}`, is not allowed this request, and a delegate is never allowed more than its delegator: {reason}",
                tx.agent
            ),
            (true, true) => format!(
                "`{agent}`, who delegated to `{}`, needs approval for this request, and so does its delegate: {reason}",
                tx.agent
            ),
            (false, false) => format!(
                "the token as of block {} is not allowed this request, and a narrower copy is never allowed more: {reason}",
                step.block
            ),
            (false, true) => format!(
                "the token as of block {} needs approval for this request, and so does a narrower copy: {reason}",
                step.block
            ),
        };
    }
    decision
}

/// The outcome of decisions none of which is a deny: needs approval when any needs it
/// (with every approval asked for), else the acting agent's allow.
fn merge_allowed(
    pending: Vec<(Step<'_>, &EntityUid, PolicyDecision)>,
    tx: &Transaction<'_>,
    resources: usize,
) -> PolicyDecision {
    let approval = pending
        .iter()
        .any(|(_, _, d)| d.outcome == PolicyOutcome::NeedsApproval);
    let mut merged: Option<PolicyDecision> = None;
    for (step, resource, decision) in pending {
        let keep = if approval {
            decision.outcome == PolicyOutcome::NeedsApproval
        } else {
            step.block == usize::MAX
        };
        if !keep {
            continue;
        }
        let decision = explain_step(decision, tx, step, resource, resources);
        let Some(m) = merged.as_mut() else {
            merged = Some(decision);
            continue;
        };
        for p in decision.determining {
            if !m.determining.iter().any(|d| d.id == p.id) {
                m.determining.push(p);
            }
        }
        for r in decision.reasons {
            if !m.reasons.contains(&r) {
                m.reasons.push(r);
            }
        }
        if let Some(text) = decision.approval {
            match &mut m.approval {
                Some(all) if !all.split("; ").any(|t| t == text) => {
                    all.push_str("; ");
                    all.push_str(&text);
                }
                Some(_) => {}
                None => m.approval = Some(text),
            }
        }
    }
    merged.unwrap_or_else(|| {
        PolicyDecision::deny(vec![
            "the request could not be judged: no step of the chain was decided".into(),
        ])
    })
}
