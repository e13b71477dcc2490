//! The policy index, built at load time: per schema action, the policies whose scope can
//! match it, each stored in one bucket chosen by what else the policy needs of a request
//! (the agent it names, the resource it names, or a context string it starts by
//! comparing). A request is evaluated against the buckets that can apply to it only.

use std::collections::{HashMap, HashSet};

use cedar_policy::{
    ActionConstraint, Context, Entity, EntityTypeName, EntityUid, EvalResult, Policy, PolicySet,
    PrincipalConstraint, Request, ResourceConstraint,
};
use serde_json::Value;

use crate::annotations::APPROVAL_ANNOTATION;
use crate::schema::ActionSpec;

/// The policies of one action: those whose action scope names it, one of its groups, or
/// no action at all. Any other policy is false for this action without being evaluated
/// further (Cedar evaluates the scope first, and a scope never errors), so deciding with
/// these gives the same answer as deciding with every policy.
///
/// Within an action, each policy is stored in exactly one bucket, the first of these that
/// fits it:
/// - `by_agent`: its principal scope is `principal == Agent::"x"`. It can only match
///   agent `x` (a request's principal is that one agent).
/// - `by_resource`: its resource scope is `resource == Resource::"r"`. It can only match
///   a request on resource `r`.
/// - `by_context`: its first condition is a `when` whose leftmost conjunct is
///   `context.<attr> == "<text>"` (either operand order). Cedar evaluates the scope, then
///   the conditions in order, and `&&` left to right with short-circuit, so when the
///   request's context has `<attr>` as a string other than `<text>`, the policy is false
///   without any error and need not be evaluated. When the context lacks `<attr>` or it
///   is not a string, every policy keyed on `<attr>` is evaluated (each may error, and an
///   error is a deny).
/// - `shared`: any other policy.
///
/// A request is evaluated against the buckets [`ActionPolicies::select`] gives, and their
/// answers are merged as Cedar would decide their union (see `eval::Answer`).
#[derive(Default)]
pub(crate) struct ActionPolicies {
    /// The policies that can match any request of this action.
    pub(crate) shared: PolicyBucket,
    /// For an agent some policy names: only the policies naming it.
    pub(crate) by_agent: HashMap<String, PolicyBucket>,
    /// For a resource some policy names: only the policies naming it (and no agent).
    pub(crate) by_resource: HashMap<EntityUid, PolicyBucket>,
    /// Per context attribute, the policies that start by comparing it with a string,
    /// by that string. Sorted by attribute.
    pub(crate) by_context: Vec<ContextIndex>,
}

/// The policies whose first condition starts with `context.<attr> == "..."`, by the
/// string they compare it with.
pub(crate) struct ContextIndex {
    pub(crate) attr: String,
    pub(crate) by_value: HashMap<String, PolicyBucket>,
}

/// Some policies to evaluate together, and the same without the approval forbids.
#[derive(Default)]
pub(crate) struct PolicyBucket {
    pub(crate) policies: PolicySet,
    pub(crate) without_approval: PolicySet,
}

impl PolicyBucket {
    fn add(&mut self, p: &Policy) -> Result<(), String> {
        self.policies
            .add(p.clone())
            .map_err(|e| format!("cannot index policy `{}`: {e}", p.id()))?;
        if p.annotation(APPROVAL_ANNOTATION).is_none() {
            self.without_approval
                .add(p.clone())
                .map_err(|e| format!("cannot index policy `{}`: {e}", p.id()))?;
        }
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }
}

/// What a request must carry, besides its action, for a policy to be worth evaluating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// The principal is this agent.
    Agent(String),
    /// The resource is this resource.
    Resource(EntityUid),
    /// `context.<attr>` is not a string other than `value`.
    Context { attr: String, value: String },
    /// Nothing: the policy is evaluated for every request of its actions.
    None,
}

impl Key {
    /// The key of a policy: the agent its principal scope names with `==`, else the
    /// resource its resource scope names with `==`, else the context equality its first
    /// condition starts with.
    pub(crate) fn of(p: &Policy, agent_type: &EntityTypeName) -> Key {
        if let PrincipalConstraint::Eq(uid) = p.principal_constraint() {
            if uid.type_name() == agent_type {
                return Key::Agent(uid.id().unescaped().to_owned());
            }
        }
        if let ResourceConstraint::Eq(uid) = p.resource_constraint() {
            return Key::Resource(uid);
        }
        if p.has_non_scope_constraint() {
            if let Ok(json) = p.to_json() {
                if let Some((attr, value)) = leading_context_equality(&json) {
                    return Key::Context { attr, value };
                }
            }
        }
        Key::None
    }
}

/// The `(attr, text)` of a policy (in Cedar's JSON policy format) whose first condition is
/// a `when` whose leftmost top-level conjunct is `context.<attr> == "<text>"` or
/// `"<text>" == context.<attr>`.
pub(crate) fn leading_context_equality(policy: &Value) -> Option<(String, String)> {
    let first = policy.get("conditions")?.as_array()?.first()?;
    if first.get("kind")?.as_str()? != "when" {
        return None;
    }
    // `a && b && c` is `(a && b) && c`, and `a && (b && c)` starts with `a` as well: the
    // leftmost operand of a chain of `&&` is the first one evaluated.
    let mut expr = first.get("body")?;
    while let Some(and) = only(expr, "&&") {
        expr = and.get("left")?;
    }
    let eq = only(expr, "==")?;
    let (left, right) = (eq.get("left")?, eq.get("right")?);
    match (context_attr(left), string_literal(right)) {
        (Some(attr), Some(text)) => Some((attr.to_owned(), text.to_owned())),
        _ => {
            let attr = context_attr(right)?;
            let text = string_literal(left)?;
            Some((attr.to_owned(), text.to_owned()))
        }
    }
}

/// The operand object of a JSON expression `{"<op>": {...}}` with this one key.
fn only<'v>(expr: &'v Value, op: &str) -> Option<&'v Value> {
    let obj = expr.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    obj.get(op)
}

/// `<attr>` of the JSON expression `context.<attr>`.
fn context_attr(expr: &Value) -> Option<&str> {
    let get = only(expr, ".")?;
    let var = only(get.get("left")?, "Var")?;
    if var.as_str()? != "context" {
        return None;
    }
    get.get("attr")?.as_str()
}

/// The text of a JSON string literal expression.
fn string_literal(expr: &Value) -> Option<&str> {
    only(expr, "Value")?.as_str()
}

impl ActionPolicies {
    fn add(&mut self, p: &Policy, key: &Key) -> Result<(), String> {
        let bucket = match key {
            Key::Agent(agent) => self.by_agent.entry(agent.clone()).or_default(),
            Key::Resource(resource) => self.by_resource.entry(resource.clone()).or_default(),
            Key::Context { attr, value } => {
                let at = match self.by_context.binary_search_by(|c| c.attr.cmp(attr)) {
                    Ok(at) => at,
                    Err(at) => {
                        self.by_context.insert(
                            at,
                            ContextIndex {
                                attr: attr.clone(),
                                by_value: HashMap::new(),
                            },
                        );
                        at
                    }
                };
                let Some(index) = self.by_context.get_mut(at) else {
                    return Err(format!("cannot index policy `{}`", p.id()));
                };
                index.by_value.entry(value.clone()).or_default()
            }
            Key::None => &mut self.shared,
        };
        bucket.add(p)
    }

    /// The buckets that can apply to a request: the shared one, the agent's, the
    /// resource's, and per indexed context attribute, the bucket of the request's string
    /// (or every bucket of that attribute when the context lacks it or it is not a
    /// string). Empty buckets are left out.
    ///
    /// `principal` and `resource` are the request's, with the types the policies were
    /// keyed with; each is `None` when the request does not say it, and then every bucket
    /// of that kind is given.
    pub(crate) fn select(
        &self,
        principal: Lookup<'_>,
        resource: Option<&EntityUid>,
        context: Option<&Context>,
    ) -> Vec<&PolicyBucket> {
        let mut out = Vec::with_capacity(3 + self.by_context.len());
        if !self.shared.is_empty() {
            out.push(&self.shared);
        }
        principal.collect(&self.by_agent, &mut out);
        match resource {
            Some(uid) => out.extend(self.by_resource.get(uid)),
            None => out.extend(self.by_resource.values()),
        }
        for index in &self.by_context {
            match context.and_then(|c| c.get(&index.attr)) {
                Some(EvalResult::String(s)) => out.extend(index.by_value.get(&s)),
                _ => out.extend(index.by_value.values()),
            }
        }
        out
    }
}

/// How a request's principal or resource is looked up in the index.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Lookup<'a> {
    /// This id, of the type the index was keyed with.
    Id(&'a str),
    /// Of another type: no keyed policy can match.
    OtherType,
    /// Not known: every keyed policy may match.
    Unknown,
}

impl<'a> Lookup<'a> {
    /// The lookup for a request's entity of this type.
    pub(crate) fn of(uid: Option<&'a EntityUid>, ty: &EntityTypeName) -> Lookup<'a> {
        match uid {
            Some(uid) if uid.type_name() == ty => Lookup::Id(uid.id().unescaped()),
            Some(_) => Lookup::OtherType,
            None => Lookup::Unknown,
        }
    }

    fn collect<'b>(
        self,
        buckets: &'b HashMap<String, PolicyBucket>,
        out: &mut Vec<&'b PolicyBucket>,
    ) {
        match self {
            Lookup::Id(id) => out.extend(buckets.get(id)),
            Lookup::OtherType => {}
            Lookup::Unknown => out.extend(buckets.values()),
        }
    }
}

/// The ids a request's principal and resource are looked up with.
pub(crate) fn lookups<'r>(
    request: &'r Request,
    agent_type: &EntityTypeName,
) -> (Lookup<'r>, Option<&'r EntityUid>) {
    (
        Lookup::of(request.principal(), agent_type),
        request.resource(),
    )
}

/// Sorts the policies by the actions their scope can match, then by their [`Key`].
pub(crate) fn index_by_action(
    actions: &HashMap<String, ActionSpec>,
    action_entities: &[Entity],
    all: &PolicySet,
    agent_type: &EntityTypeName,
) -> Result<HashMap<String, ActionPolicies>, String> {
    // Each action's ancestors (its groups), closed transitively.
    let parents: HashMap<EntityUid, Vec<EntityUid>> = action_entities
        .iter()
        .map(|e| {
            let (uid, _, parents) = e.clone().into_inner();
            (uid, parents.into_iter().collect())
        })
        .collect();
    // Each policy's key, computed once (reading a condition goes through its JSON form).
    let keyed: Vec<(&Policy, Key)> = all
        .policies()
        .map(|p| (p, Key::of(p, agent_type)))
        .collect();
    let mut index = HashMap::with_capacity(actions.len());
    for (name, spec) in actions {
        let mut ancestors: HashSet<&EntityUid> = HashSet::new();
        let mut todo: Vec<&EntityUid> = parents.get(&spec.uid).into_iter().flatten().collect();
        while let Some(uid) = todo.pop() {
            if ancestors.insert(uid) {
                todo.extend(parents.get(uid).into_iter().flatten());
            }
        }
        let mut policies = ActionPolicies::default();
        for (p, key) in &keyed {
            let applies = match p.action_constraint() {
                ActionConstraint::Any => true,
                ActionConstraint::Eq(uid) => uid == spec.uid,
                ActionConstraint::In(uids) => {
                    uids.iter().any(|u| *u == spec.uid || ancestors.contains(u))
                }
            };
            if applies {
                policies.add(p, key)?;
            }
        }
        index.insert(name.clone(), policies);
    }
    Ok(index)
}

#[cfg(test)]
#[path = "../tests/support/random_policies.rs"]
mod random_policies;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use std::path::{Path, PathBuf};
    use std::str::FromStr;
    use std::sync::Arc;

    use cedar_policy::{Entities, EntityId, RestrictedExpression};
    use proptest::prelude::*;

    use super::random_policies::{
        field, policy, policy_text, Field, ACTIONS, AGENTS, AMOUNTS, REQUEST_AGENTS,
        REQUEST_AUDIENCES, REQUEST_CURRENCIES, REQUEST_RECIPIENTS, REQUEST_RESOURCES, SCOPES,
    };
    use super::*;
    use crate::answer::decide_request;
    use crate::load::SCHEMA_FILE;
    use crate::loaded::{load_sources, Loaded, PolicySource};

    fn key(text: &str) -> Key {
        let p = Policy::from_str(text).unwrap();
        Key::of(&p, &EntityTypeName::from_str("Agent").unwrap())
    }

    fn ctx(attr: &str, value: &str) -> Key {
        Key::Context {
            attr: attr.into(),
            value: value.into(),
        }
    }

    #[test]
    fn keys_of_policies() {
        let p = "permit (principal, action, resource)";
        assert_eq!(key(&format!("{p};")), Key::None);
        assert_eq!(
            key("permit (principal == Agent::\"a\", action, resource == Resource::\"r\") when { context.x == \"v\" };"),
            Key::Agent("a".into())
        );
        assert_eq!(
            key("permit (principal == Other::\"a\", action, resource == Resource::\"r\");"),
            Key::Resource(r#"Resource::"r""#.parse().unwrap())
        );
        assert_eq!(
            key(
                "permit (principal, action, resource == Other::\"r\") when { context.x == \"v\" };"
            ),
            Key::Resource(r#"Other::"r""#.parse().unwrap())
        );
        for cond in [
            r#"when { context.x == "v" }"#,
            r#"when { "v" == context.x }"#,
            r#"when { context["x"] == "v" }"#,
            r#"when { context.x == "v" && 1 * 2 == 2 }"#,
            r#"when { context.x == "v" && context.y && context.z }"#,
            r#"when { (context.x == "v" && context.y) && context.z } unless { context.w }"#,
            r#"when { context.x == "v" && (context.y || context.z) }"#,
            r#"when { (context.x == "v") }"#,
            r#"when { context.x == "v" } when { context.y }"#,
        ] {
            assert_eq!(key(&format!("{p} {cond};")), ctx("x", "v"), "{cond}");
        }
        assert_eq!(
            key(&format!(r#"{p} when {{ context.x == "a \"quoted\" é" }};"#)),
            ctx("x", "a \"quoted\" é")
        );
        for cond in [
            r#"when { context.y && context.x == "v" }"#,
            r#"when { context.x == "v" || context.y }"#,
            r#"when { !(context.x == "v") }"#,
            r#"when { context.x != "v" }"#,
            r#"unless { context.x == "v" }"#,
            r#"unless { context.y } when { context.x == "v" }"#,
            r#"when { context.y } when { context.x == "v" }"#,
            r#"when { context.x == principal.name }"#,
            r#"when { context.x == 3 }"#,
            r#"when { context.x == context.y }"#,
            r#"when { context.x.y == "v" }"#,
            r#"when { principal.x == "v" }"#,
            r#"when { if context.x == "v" then true else false }"#,
            r#"when { context.x like "v" }"#,
        ] {
            assert_eq!(key(&format!("{p} {cond};")), Key::None, "{cond}");
        }
    }

    const SCHEMA: &str = include_str!("../tests/support/flat.cedarschema");

    /// A request built straight as Cedar's, without the schema: its context may lack any
    /// member or hold one of another type, which the transaction mapping never lets
    /// through, and its principal or resource may be of another type.
    #[derive(Clone, Debug)]
    struct RawRequest {
        action: &'static str,
        principal: (bool, &'static str),
        resource: (bool, &'static str),
        chain: Vec<&'static str>,
        scopes: Option<Vec<&'static str>>,
        audience: Field,
        recipient: Field,
        currency: Field,
        amount: Option<&'static str>,
    }

    fn raw_request() -> impl Strategy<Value = RawRequest> {
        (
            (
                prop::sample::select(ACTIONS.to_vec()),
                (
                    prop::bool::weighted(0.9),
                    prop::sample::select(REQUEST_AGENTS.to_vec()),
                ),
                (
                    prop::bool::weighted(0.9),
                    prop::sample::select(REQUEST_RESOURCES.to_vec()),
                ),
                prop::sample::subsequence(AGENTS.to_vec(), 0..=3),
                prop::option::weighted(0.9, prop::sample::subsequence(SCOPES.to_vec(), 0..=3)),
            ),
            (
                field(&REQUEST_AUDIENCES),
                field(&REQUEST_RECIPIENTS),
                field(&REQUEST_CURRENCIES),
                prop::option::of(prop::sample::select(AMOUNTS.to_vec())),
            ),
        )
            .prop_map(
                |(
                    (action, principal, resource, chain, scopes),
                    (audience, recipient, currency, amount),
                )| {
                    RawRequest {
                        action,
                        principal,
                        resource,
                        chain,
                        scopes,
                        audience,
                        recipient,
                        currency,
                        amount,
                    }
                },
            )
    }

    fn build(loaded: &Loaded, r: &RawRequest) -> (Request, Entities) {
        let uid = |(ours, id): (bool, &str), ty: &str| {
            let ty = if ours { ty } else { "Other" };
            EntityUid::from_type_name_and_id(
                EntityTypeName::from_str(ty).unwrap(),
                EntityId::new(id),
            )
        };
        let mut pairs: Vec<(String, RestrictedExpression)> = Vec::new();
        for (name, value) in [
            ("audience", r.audience),
            ("recipient", r.recipient),
            ("currency", r.currency),
        ] {
            match value {
                Field::Str(s) => {
                    pairs.push((name.into(), RestrictedExpression::new_string(s.into())))
                }
                Field::Absent => {}
                Field::Long => pairs.push((name.into(), RestrictedExpression::new_long(7))),
            }
        }
        let strings = |items: &[&str]| {
            RestrictedExpression::new_set(
                items
                    .iter()
                    .map(|s| RestrictedExpression::new_string((*s).into())),
            )
        };
        if let Some(scopes) = &r.scopes {
            pairs.push(("scopes".into(), strings(scopes)));
        }
        if let Some(amount) = r.amount {
            pairs.push(("amount".into(), RestrictedExpression::new_decimal(amount)));
        }
        let principal = uid(r.principal, "Agent");
        let resource = uid(r.resource, "Resource");
        let agent = Entity::new(
            principal.clone(),
            HashMap::from([
                (
                    "subject".to_owned(),
                    RestrictedExpression::new_string("alice@example.com".into()),
                ),
                (
                    "client".to_owned(),
                    RestrictedExpression::new_string("client".into()),
                ),
                (
                    "depth".to_owned(),
                    RestrictedExpression::new_long(r.chain.len() as i64),
                ),
                ("chain".to_owned(), strings(&r.chain)),
            ]),
            HashSet::new(),
        )
        .unwrap();
        let entities = Entities::from_entities(
            [
                agent,
                Entity::new_no_attrs(resource.clone(), HashSet::new()),
            ],
            None,
        )
        .unwrap();
        let action = loaded.actions.get(r.action).unwrap().uid.clone();
        let context = Context::from_pairs(pairs).unwrap();
        (
            Request::new(principal, action, resource, context, None).unwrap(),
            entities,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Requests the transaction mapping never builds (members missing or of another
        /// type, entities of other types) are decided the same with the index as without.
        #[test]
        fn indexed_and_unindexed_decisions_are_identical_on_any_request(
            policies in prop::collection::vec(policy(), 0..24),
            requests in prop::collection::vec(raw_request(), 1..12),
        ) {
            let sources = [PolicySource {
                file: PathBuf::from("random.cedar"),
                text: Arc::from(policy_text(&policies)),
            }];
            let loaded = load_sources(Path::new(SCHEMA_FILE), SCHEMA, &sources).unwrap();
            for r in &requests {
                let (request, entities) = build(&loaded, r);
                prop_assert_eq!(
                    decide_request(&loaded, &request, &entities, r.action, true),
                    decide_request(&loaded, &request, &entities, r.action, false),
                    "{:?}", r
                );
            }
        }
    }
}
