//! Deciding one built Cedar request: Cedar's answer under the policies that can apply,
//! with the `@approval` step-up and failing closed on any evaluation error.

use cedar_policy::{Authorizer, Entities, Policy, PolicyId, PolicySet, Request};

use crate::annotations::{APPROVAL_ANNOTATION, REASON_ANNOTATION};
use crate::decision::{DeterminingPolicy, Effect, PolicyDecision, PolicyOutcome, PolicyReason};
use crate::index::lookups;
use crate::loaded::Loaded;

/// Decides a built request for `action` (a schema action): against the policies the index
/// selects for it when `indexed`, else against every policy.
pub(crate) fn decide_request(
    loaded: &Loaded,
    request: &Request,
    entities: &Entities,
    action: &str,
    indexed: bool,
) -> PolicyDecision {
    match loaded.by_action.get(action).filter(|_| indexed) {
        Some(index) => {
            let (principal, resource) = lookups(request, &loaded.model.agent);
            let buckets = index.select(principal, resource, request.context());
            let all: Vec<&PolicySet> = buckets.iter().map(|b| &b.policies).collect();
            let without_approval: Vec<&PolicySet> =
                buckets.iter().map(|b| &b.without_approval).collect();
            decide_with(&all, &without_approval, request, entities, action)
        }
        None => decide(loaded, request, entities, action),
    }
}

/// Decides a built request: Cedar's answer with the full set, then, when only approval
/// forbids deny it, the answer without them.
pub(crate) fn decide(
    loaded: &Loaded,
    request: &Request,
    entities: &Entities,
    action: &str,
) -> PolicyDecision {
    decide_with(
        &[&loaded.policies],
        &[&loaded.without_approval],
        request,
        entities,
        action,
    )
}

/// Cedar's answer to a request under the union of some disjoint policy sets, merged from
/// its answer under each set.
///
/// Cedar allows when some permit is satisfied and no forbid is, and reports as reasons
/// the satisfied forbids when there are any, else the satisfied permits. So the reasons
/// of one set are its satisfied forbids, or (when it has none) its satisfied permits;
/// under the union, the reasons are every set's satisfied forbids when any set has one,
/// else every set's satisfied permits. The errors are every set's errors: Cedar evaluates
/// each policy on its own, whatever set it is in.
struct Answer<'p> {
    allow: bool,
    /// The policies Cedar gives as reasons.
    reasons: Vec<&'p Policy>,
    /// Each error with the id of the policy that could not be evaluated.
    errors: Vec<(String, String)>,
}

impl<'p> Answer<'p> {
    fn of(
        authorizer: &Authorizer,
        sets: &[&'p PolicySet],
        request: &Request,
        entities: &Entities,
    ) -> Answer<'p> {
        let mut forbids = Vec::new();
        let mut permits = Vec::new();
        let mut errors = Vec::new();
        for set in sets {
            if set.is_empty() {
                // No policy: no reason and no error.
                continue;
            }
            let response = authorizer.is_authorized(request, set, entities);
            errors.extend(response.diagnostics().errors().map(|e| {
                let policy = match e {
                    cedar_policy::AuthorizationError::PolicyEvaluationError(p) => p.policy_id(),
                };
                (policy.to_string(), e.to_string())
            }));
            for policy in response
                .diagnostics()
                .reason()
                .filter_map(|id: &PolicyId| set.policy(id))
            {
                match policy.effect() {
                    cedar_policy::Effect::Forbid => forbids.push(policy),
                    cedar_policy::Effect::Permit => permits.push(policy),
                }
            }
        }
        let allow = forbids.is_empty() && !permits.is_empty();
        let reasons = if forbids.is_empty() { permits } else { forbids };
        Answer {
            allow,
            reasons,
            errors,
        }
    }
}

/// [`decide`] with the union of these disjoint policy sets, and of these without the
/// approval forbids.
fn decide_with(
    all: &[&PolicySet],
    without_approval: &[&PolicySet],
    request: &Request,
    entities: &Entities,
    action: &str,
) -> PolicyDecision {
    let authorizer = Authorizer::new();
    let answer = Answer::of(&authorizer, all, request, entities);
    let mut found: Vec<DeterminingPolicy> = answer
        .reasons
        .iter()
        .map(|p| DeterminingPolicy::of(p))
        .collect();
    found.sort_by(|a, b| a.id.cmp(&b.id));

    if !answer.errors.is_empty() {
        // Cedar skips a policy that errors; an erroring forbid must not let a permit
        // through, so any error is a deny.
        let mut reasons: Vec<PolicyReason> = answer
            .errors
            .into_iter()
            .map(|(policy, e)| PolicyReason {
                policy: Some(policy),
                message: format!(
                    "{e}: the request is denied because a policy could not be evaluated"
                ),
            })
            .collect();
        reasons.sort_by(|a, b| a.message.cmp(&b.message));
        return PolicyDecision {
            outcome: PolicyOutcome::Deny,
            determining: found
                .into_iter()
                .filter(|d| d.effect == Effect::Forbid)
                .collect(),
            approval: None,
            reasons,
        };
    }

    if answer.allow {
        let reasons = found
            .iter()
            .map(|d| PolicyReason::about(&d.id, format!("permitted by `{}`", d.id)))
            .collect();
        return PolicyDecision {
            outcome: PolicyOutcome::Allow,
            determining: found,
            approval: None,
            reasons,
        };
    }

    let no_permit = || {
        format!(
            "no policy permits `{action}` for this request: check the token's scopes or add a permit policy"
        )
    };
    if found.is_empty() {
        return PolicyDecision::deny(vec![no_permit()]);
    }

    let all_approval = found
        .iter()
        .all(|d| d.annotations.contains_key(APPROVAL_ANNOTATION));
    if all_approval {
        let again = Answer::of(&authorizer, without_approval, request, entities);
        if again.allow && again.errors.is_empty() {
            let texts: Vec<&str> = found
                .iter()
                .filter_map(|d| d.annotations.get(APPROVAL_ANNOTATION))
                .map(String::as_str)
                .collect();
            let approval = texts.join("; ");
            let reasons = found
                .iter()
                .map(|d| {
                    PolicyReason::about(
                        &d.id,
                        format!(
                            "`{}` needs approval: {}",
                            d.id,
                            d.annotations
                                .get(APPROVAL_ANNOTATION)
                                .map_or("", String::as_str)
                        ),
                    )
                })
                .collect();
            return PolicyDecision {
                outcome: PolicyOutcome::NeedsApproval,
                determining: found,
                approval: Some(approval),
                reasons,
            };
        }
        let mut reasons = vec![PolicyReason::general(no_permit())];
        reasons.extend(forbid_reasons(&found));
        return PolicyDecision {
            outcome: PolicyOutcome::Deny,
            determining: found,
            approval: None,
            reasons,
        };
    }

    PolicyDecision {
        outcome: PolicyOutcome::Deny,
        reasons: forbid_reasons(&found),
        determining: found,
        approval: None,
    }
}

fn forbid_reasons(found: &[DeterminingPolicy]) -> Vec<PolicyReason> {
    found
        .iter()
        .map(|d| {
            let why = d
                .annotations
                .get(REASON_ANNOTATION)
                .or_else(|| d.annotations.get(APPROVAL_ANNOTATION));
            let message = match why {
                Some(why) => format!("forbidden by `{}`: {why}", d.id),
                None => format!("forbidden by `{}`", d.id),
            };
            PolicyReason::about(&d.id, message)
        })
        .collect()
}
