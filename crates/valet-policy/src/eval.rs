//! Mapping a transaction to a Cedar request and deciding it.

use std::collections::{BTreeMap, HashMap, HashSet};

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityUid, Policy, PolicyId, PolicySet,
    Request, RestrictedExpression,
};
use serde::{Deserialize, Serialize};
use valet_token::details::{FieldValue, TransactionDetails};
use valet_token::Decimal;

use crate::annotations::{annotations_of, APPROVAL_ANNOTATION, REASON_ANNOTATION};
use crate::index::lookups;
use crate::loaded::Loaded;
use crate::schema::{ActionSpec, FieldType, RESERVED_CONTEXT};
use crate::store::PolicyStore;

/// The details fields that name the resource rather than describe the transaction.
pub const RESOURCE_FIELDS: [&str; 2] = ["identifier", "locations"];

/// One request to decide: who acts, for whom, doing what, where, with which token.
#[derive(Clone, Copy, Debug)]
pub struct Transaction<'a> {
    /// The acting agent: the last delegate in the chain, else the token's client.
    pub agent: &'a str,
    /// The person the agent acts for.
    pub subject: &'a str,
    /// The token's client id.
    pub client: &'a str,
    /// The delegates, in order (may be empty).
    pub chain: &'a [String],
    /// The tool or operation, e.g. `pay_invoice`.
    pub action: &'a str,
    /// The resource server URI the token was presented to.
    pub audience: &'a str,
    /// The token's effective scopes.
    pub scopes: &'a [String],
    /// The RFC 9396 transaction details sent with the request, if any.
    pub details: Option<&'a TransactionDetails>,
    /// The token as it stood after each of its earlier blocks, the authority block first
    /// (empty for a token of one block). The request must be allowed at every step as
    /// well as for the acting agent: a block appended by a delegate can never raise the
    /// outcome, through the policies as through the token. The `valet` Authorizer fills
    /// it from the verified token; a transaction built by hand with `earlier: &[]` is
    /// judged for the acting agent alone.
    pub earlier: &'a [Step<'a>],
}

/// What the policies see of a token after one of its blocks: the principal of that
/// step is the last delegate named by then (else the client), with `depth` and `chain`
/// counting the delegates named by then, and the scopes the token granted then.
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    /// The block (0 is the authority block).
    pub block: usize,
    /// How many of the transaction's `chain` were named by then.
    pub delegates: usize,
    /// The token's effective scopes then.
    pub scopes: &'a [String],
}

/// What the policies say about a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyOutcome {
    /// A permit applies and no forbid does.
    Allow,
    /// Refused.
    Deny,
    /// Only `@approval` forbids stand in the way: allowed once someone approves.
    NeedsApproval,
}

/// The effect of a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// A `permit` policy.
    Permit,
    /// A `forbid` policy.
    Forbid,
}

/// A policy that decided the outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeterminingPolicy {
    /// The policy id (its `@id`, or `<file stem>.<n>`).
    pub id: String,
    /// Permit or forbid.
    pub effect: Effect,
    /// The policy's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// The decision on one transaction. A deny is a value, not an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyDecision {
    /// Allow, deny or needs approval.
    pub outcome: PolicyOutcome,
    /// The policies that decided: the permits for an allow, the forbids for a deny, the
    /// approval forbids for a needs-approval.
    pub determining: Vec<DeterminingPolicy>,
    /// Whose approval is needed, for [`PolicyOutcome::NeedsApproval`].
    pub approval: Option<String>,
    /// Why, in words, each reason naming the policy it is about when it is about one.
    pub reasons: Vec<PolicyReason>,
}

/// One reason of a [`PolicyDecision`]: its words, and the id of the policy it is about
/// (a permit that allowed, a forbid that denied or asks for approval, a policy that could
/// not be evaluated), or `None` for a reason about the request itself (an action not in
/// the schema, a detail that does not fit it, no permit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyReason {
    /// The id of the policy the reason is about, if it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The explanation.
    pub message: String,
}

impl PolicyReason {
    /// A reason about no one policy.
    pub fn general(message: impl Into<String>) -> Self {
        PolicyReason {
            policy: None,
            message: message.into(),
        }
    }

    /// A reason about the policy `id`.
    pub fn about(id: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyReason {
            policy: Some(id.into()),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for PolicyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl PolicyDecision {
    pub(crate) fn deny(reasons: Vec<String>) -> Self {
        let reasons = reasons.into_iter().map(PolicyReason::general).collect();
        PolicyDecision {
            outcome: PolicyOutcome::Deny,
            determining: Vec::new(),
            approval: None,
            reasons,
        }
    }

    /// Whether the outcome is [`PolicyOutcome::Allow`].
    pub fn is_allow(&self) -> bool {
        self.outcome == PolicyOutcome::Allow
    }
}

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

/// The agent of a step: the last delegate named by then, else the client.
fn step_agent<'a>(tx: &Transaction<'a>, step: Step<'_>) -> &'a str {
    if step.block == usize::MAX {
        // The acting agent's own step.
        return tx.agent;
    }
    match step.delegates.checked_sub(1).and_then(|i| tx.chain.get(i)) {
        Some(name) => name,
        None => tx.client,
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
    let agent = step_agent(tx, step);
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
            let (principal, resource) = lookups(request, &loaded.agent_type, &loaded.resource_type);
            let buckets = index.select(principal, resource, request.context());
            let all: Vec<&PolicySet> = buckets.iter().map(|b| &b.policies).collect();
            let without_approval: Vec<&PolicySet> =
                buckets.iter().map(|b| &b.without_approval).collect();
            decide_with(&all, &without_approval, request, entities, action)
        }
        None => decide(loaded, request, entities, action),
    }
}

/// The context members a transaction's details give (typed by the schema), or the
/// reasons they do not fit.
fn context_fields(
    spec: &ActionSpec,
    tx: &Transaction<'_>,
) -> Result<Vec<(String, RestrictedExpression)>, Vec<String>> {
    let mut problems = Vec::new();
    let mut pairs: Vec<(String, RestrictedExpression)> =
        Vec::with_capacity(spec.fields.len().saturating_add(2));
    pairs.push((
        "audience".into(),
        RestrictedExpression::new_string(tx.audience.to_owned()),
    ));
    if let Some(details) = tx.details {
        if let Some(expected) = &spec.detail_type {
            if details.kind() != expected {
                problems.push(format!(
                    "transaction type `{}` does not fit action `{}`: send details of type `{expected}`",
                    details.kind(),
                    tx.action
                ));
            }
        }
        for (name, value) in details.fields() {
            if RESOURCE_FIELDS.contains(&name.as_str()) {
                continue;
            }
            if RESERVED_CONTEXT.contains(&name.as_str()) {
                problems.push(format!(
                    "transaction field `{name}` is reserved: Valet sets it from the token, remove it from the details"
                ));
                continue;
            }
            let Some(field) = spec.fields.get(name) else {
                problems.push(format!(
                    "transaction field `{name}` is unknown to action `{}`: remove it or declare it in the action's context",
                    tx.action
                ));
                continue;
            };
            match convert(name, value, field.ty) {
                Ok(expr) => pairs.push((name.clone(), expr)),
                Err(p) => problems.push(p),
            }
        }
    }
    for (name, field) in &spec.fields {
        let given = tx.details.is_some_and(|d| d.get(name).is_some());
        if field.required && !given {
            problems.push(format!(
                "transaction field `{name}` is missing: action `{}` needs it as {}",
                tx.action,
                field.ty.describe()
            ));
        }
    }
    if problems.is_empty() {
        Ok(pairs)
    } else {
        Err(problems)
    }
}

/// The Cedar request and entities for one step of a transaction on one resource, or the
/// reasons they cannot be built.
fn build_request(
    loaded: &Loaded,
    spec: &ActionSpec,
    tx: &Transaction<'_>,
    fields: &[(String, RestrictedExpression)],
    step: Step<'_>,
    resource_id: &str,
    validate: bool,
) -> Result<(Request, Entities), Vec<String>> {
    let mut pairs = Vec::with_capacity(fields.len().saturating_add(1));
    pairs.extend(fields.iter().cloned());
    pairs.push(("scopes".into(), string_set(step.scopes)));
    let context = Context::from_pairs(pairs).map_err(|e| vec![format!("context: {e}")])?;
    let agent_name = step_agent(tx, step);
    let chain = tx.chain.get(..step.delegates).unwrap_or(tx.chain);
    let principal =
        EntityUid::from_type_name_and_id(loaded.agent_type.clone(), EntityId::new(agent_name));
    let resource =
        EntityUid::from_type_name_and_id(loaded.resource_type.clone(), EntityId::new(resource_id));
    let depth = i64::try_from(chain.len()).unwrap_or(i64::MAX);
    let attrs = HashMap::from([
        (
            "subject".to_owned(),
            RestrictedExpression::new_string(tx.subject.to_owned()),
        ),
        (
            "client".to_owned(),
            RestrictedExpression::new_string(tx.client.to_owned()),
        ),
        ("depth".to_owned(), RestrictedExpression::new_long(depth)),
        ("chain".to_owned(), string_set(chain)),
    ]);
    let agent = Entity::new(principal.clone(), attrs, HashSet::new())
        .map_err(|e| vec![format!("principal `{agent_name}`: {e}")])?;
    let resource_entity = Entity::new_no_attrs(resource.clone(), HashSet::new());
    let entities = match &loaded.action_entities {
        // Action groups: `in` needs the actions' ancestors. The actions' closure is
        // computed once at load; cloning shares the entities.
        Some(actions) => actions.clone().add_entities([agent, resource_entity], None),
        // No action has a group, attribute or tag: requests decide the same without the
        // action entities (see `loaded::needed_by_requests`).
        None => Entities::from_entities([agent, resource_entity], None),
    }
    .map_err(|e| vec![format!("entities: {e}")])?;
    let request = Request::new(
        principal,
        spec.uid.clone(),
        resource,
        context,
        validate.then_some(&loaded.schema),
    )
    .map_err(|e| vec![format!("request does not fit the schema: {e}")])?;
    Ok((request, entities))
}

fn string_set(items: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(
        items
            .iter()
            .map(|s| RestrictedExpression::new_string(s.clone())),
    )
}

/// The resources a transaction acts on, each judged: the details' `identifier` and every
/// entry of its `locations`, else the audience.
fn resources_of<'a>(tx: &Transaction<'a>, max: usize) -> Result<Vec<&'a str>, String> {
    let mut resources: Vec<&'a str> = Vec::new();
    let mut seen: HashSet<&'a str> = HashSet::new();
    let mut add = |resource: &'a str| {
        if seen.insert(resource) {
            resources.push(resource);
        }
        seen.len() <= max
    };
    let too_many = || {
        format!(
            "the request names more than {max} resources (its `identifier` and `locations`, each judged): split it into several requests"
        )
    };
    if let Some(details) = tx.details {
        match details.get("identifier") {
            Some(FieldValue::Str(id)) => {
                add(id.as_str());
            }
            Some(other) => {
                return Err(format!(
                    "transaction field `identifier` must be a string, found {}",
                    other.kind()
                ))
            }
            None => {}
        }
        match details.get("locations") {
            Some(FieldValue::List(l)) => {
                for location in l {
                    if !add(location) {
                        return Err(too_many());
                    }
                }
            }
            Some(other) => {
                return Err(format!(
                    "transaction field `locations` must be an array of strings, found {}",
                    other.kind()
                ))
            }
            None => {}
        }
    }
    if resources.is_empty() {
        resources.push(tx.audience);
    }
    Ok(resources)
}

/// One transaction field as the Cedar value of the type the schema gives it.
fn convert(name: &str, value: &FieldValue, ty: FieldType) -> Result<RestrictedExpression, String> {
    let wrong = || {
        format!(
            "transaction field `{name}` must be {}, found {}",
            ty.describe(),
            value.kind()
        )
    };
    match (ty, value) {
        (FieldType::Str, FieldValue::Str(s)) => Ok(RestrictedExpression::new_string(s.clone())),
        (FieldType::Long, FieldValue::Long(n)) => Ok(RestrictedExpression::new_long(*n)),
        (FieldType::Bool, FieldValue::Bool(b)) => Ok(RestrictedExpression::new_bool(*b)),
        (FieldType::StrSet, FieldValue::List(items)) => Ok(string_set(items)),
        (FieldType::Decimal, FieldValue::Str(s)) => match s.parse::<Decimal>() {
            Ok(d) => Ok(RestrictedExpression::new_decimal(d.to_string())),
            Err(e) => Err(format!("transaction field `{name}`: {e}")),
        },
        (FieldType::Decimal, FieldValue::Long(_)) => match value.as_decimal() {
            Some(d) => Ok(RestrictedExpression::new_decimal(d.to_string())),
            None => Err(format!(
                "transaction field `{name}`: `{}` is too large for a decimal amount",
                match value {
                    FieldValue::Long(n) => n.to_string(),
                    _ => String::new(),
                }
            )),
        },
        _ => Err(wrong()),
    }
}

fn determining(policy: &Policy) -> DeterminingPolicy {
    DeterminingPolicy {
        id: policy.id().to_string(),
        effect: match policy.effect() {
            cedar_policy::Effect::Permit => Effect::Permit,
            cedar_policy::Effect::Forbid => Effect::Forbid,
        },
        annotations: annotations_of(policy),
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
    let mut found: Vec<DeterminingPolicy> = answer.reasons.iter().map(|p| determining(p)).collect();
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
