//! Deciding a transaction: judged for every step of its delegation chain and every
//! resource it names, it is allowed only if allowed at each.

use crate::answer::decide_request;
use crate::decision::{PolicyDecision, PolicyOutcome, PolicyReason};
use crate::request::{build_request, context_fields, resources_of};
use crate::store::PolicyStore;
use crate::transaction::{Step, Transaction};

impl PolicyStore {
    /// Decides a transaction against the policies in force.
    ///
    /// Fails closed: an unknown action, a transaction field that does not fit the
    /// schema, or any error while evaluating a policy gives [`PolicyOutcome::Deny`] with
    /// the problem in `reasons`.
    pub fn evaluate(&self, tx: &Transaction<'_>) -> PolicyDecision {
        self.evaluate_with_index(tx, true)
    }

    /// Decides a transaction evaluating every policy in force, not only those indexed
    /// under its action. The decision is the same as [`evaluate`](Self::evaluate)'s; this
    /// exists to compare the two and to measure the index.
    pub fn evaluate_unindexed(&self, tx: &Transaction<'_>) -> PolicyDecision {
        self.evaluate_with_index(tx, false)
    }

    /// [`evaluate`](Self::evaluate) when `indexed`, else
    /// [`evaluate_unindexed`](Self::evaluate_unindexed).
    pub fn evaluate_with_index(&self, tx: &Transaction<'_>, indexed: bool) -> PolicyDecision {
        let loaded = self.snapshot();
        let Some(spec) = loaded.actions.get(tx.action) else {
            return PolicyDecision::deny(vec![format!(
                "action `{}` is not in the schema: declare it in `schema.cedarschema` or call a declared action",
                tx.action
            )]);
        };
        let fields = match context_fields(spec, tx) {
            Ok(f) => f,
            Err(reasons) => return PolicyDecision::deny(reasons),
        };
        let limits = self.limits();
        let resources = match resources_of(tx, limits.max_resources) {
            Ok(r) => r,
            Err(problem) => return PolicyDecision::deny(vec![problem]),
        };
        // The acting agent first, then each earlier step that differs from the next one.
        let last = Step {
            block: usize::MAX,
            delegates: tx.chain.len(),
            scopes: tx.scopes,
        };
        let mut steps = vec![last];
        let mut next = last;
        for step in tx.earlier.iter().rev() {
            if step.delegates != next.delegates || step.scopes != next.scopes {
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
        let mut pending: Vec<(Step<'_>, &str, PolicyDecision)> = Vec::new();
        // The first request built is checked against the schema; the others differ from it
        // only in the principal's id and attribute values, the resource's id and the scopes,
        // whose types the schema fixes, so they are not checked again.
        let mut validate = true;
        for step in steps {
            for resource in &resources {
                let built = build_request(&loaded, spec, tx, &fields, step, resource, validate);
                validate = false;
                let decision = match built {
                    Ok((request, entities)) => {
                        decide_request(&loaded, &request, &entities, tx.action, indexed)
                    }
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

/// A step's decision with its reasons saying which step and resource it is about.
fn explain_step(
    mut decision: PolicyDecision,
    tx: &Transaction<'_>,
    step: Step<'_>,
    resource: &str,
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
    pending: Vec<(Step<'_>, &str, PolicyDecision)>,
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
