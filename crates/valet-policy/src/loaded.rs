//! One generation of the policies: the schema and policy files parsed, strictly validated
//! and indexed, ready for requests.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    Effect as CedarEffect, Entities, Entity, EntityId, EntityUid, Policy, PolicyId, PolicySet,
    Schema, ValidationMode, Validator,
};

use crate::annotations::{APPROVAL_ANNOTATION, ID_ANNOTATION};
use crate::error::{diagnostic_of, Diagnostic, PolicyError, Severity};
use crate::index::{index_by_action, ActionPolicies};
use crate::schema::{anchor_offset, read_schema, ActionSpec, Model};

/// Where a policy came from.
#[derive(Clone, Debug)]
pub(crate) struct PolicySource {
    pub(crate) file: PathBuf,
    pub(crate) text: Arc<str>,
}

/// One loaded, validated generation of the policies.
pub(crate) struct Loaded {
    /// Which load of the policies this is, unique in the process: entity data validated
    /// against this schema says so with it ([`Validated`](crate::entities::Validated)).
    pub(crate) generation: u64,
    pub(crate) schema: Schema,
    /// Every policy.
    pub(crate) policies: PolicySet,
    /// Every policy but the approval forbids.
    pub(crate) without_approval: PolicySet,
    pub(crate) actions: HashMap<String, ActionSpec>,
    /// The entities every decision's store starts from: the schema's action entities when
    /// a request needs them (see [`needed_by_requests`]), else none, with room for
    /// [`ROOM`] more (see [`with_room`]).
    pub(crate) action_entities: Entities,
    /// The agent and person types, and the agent attributes Valet fills.
    pub(crate) model: Model,
    pub(crate) warnings: Vec<Diagnostic>,
    /// Per schema action, the policies whose scope can match it, keyed by what else they
    /// need of a request (built at load time, see [`ActionPolicies`]).
    pub(crate) by_action: HashMap<String, ActionPolicies>,
}

/// Whether requests need the schema's action entities in their entities.
///
/// Cedar reads an entity from the request's entities only for `in` (its ancestors),
/// `has`, `hasTag`, and attribute or tag access. For an action entity with no parent,
/// attribute or tag, being absent changes none of these: `A in B` is `A == B` whether `A`
/// is present without ancestors or absent; `has` and `hasTag` are false either way; and
/// attribute or tag access on an action is refused by strict validation when the schema
/// gives actions none, so no loaded policy contains it. So when no action entity has a
/// parent, an attribute or a tag (no action groups), leaving them out decides every
/// request the same, and spares copying them and computing their transitive closure on
/// every request.
fn needed_by_requests(action_entities: &[Entity]) -> bool {
    action_entities.iter().any(|e| {
        e.attrs().next().is_some() || e.tags().next().is_some() || {
            let (_, _, parents) = e.clone().into_inner();
            !parents.is_empty()
        }
    })
}

/// How many entities a decision's store holds beyond its base without growing.
const ROOM: usize = 28;

/// `store` with room for [`ROOM`] more entities: a hash map keeps its capacity when
/// entities are removed and when cloned, so every decision's store, cloned from this one,
/// takes a request's entities without rehashing (with Cedar's SipHash) what it holds as it
/// grows. The same entities as `store` (the room is made by adding placeholder entities
/// and removing them), or `store` itself if that fails.
fn with_room(store: Entities) -> Entities {
    let Ok(room) = cedar_policy::EntityTypeName::from_str("ValetRoom") else {
        return store;
    };
    let uids: Vec<EntityUid> = (0..ROOM)
        .map(|i| EntityUid::from_type_name_and_id(room.clone(), EntityId::new(i.to_string())))
        .collect();
    let placeholders = uids
        .iter()
        .map(|u| Entity::new_no_attrs(u.clone(), HashSet::new()));
    let Ok(grown) = store.clone().add_entities(placeholders, None) else {
        return store;
    };
    grown.remove_entities(uids).unwrap_or(store)
}

/// Parses and validates a schema and policy files already read.
pub(crate) fn load_sources(
    schema_path: &Path,
    schema_text: &str,
    sources: &[PolicySource],
) -> Result<Loaded, PolicyError> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();

    // The schema.
    let schema = match Schema::from_cedarschema_str(schema_text) {
        Ok((schema, schema_warnings)) => {
            for w in schema_warnings {
                warnings.push(diagnostic_of(
                    schema_path,
                    schema_text,
                    &w,
                    Severity::Warning,
                ));
            }
            Some(schema)
        }
        Err(e) => {
            errors.push(diagnostic_of(schema_path, schema_text, &e, Severity::Error));
            None
        }
    };
    let mut actions = HashMap::new();
    let mut model = None;
    if schema.is_some() {
        match cedar_policy::schema_str_to_json_with_resolved_types(schema_text) {
            Ok((json, _)) => match read_schema(&json) {
                Ok(read) => {
                    actions = read.actions;
                    model = Some(read.model);
                }
                Err(problems) => {
                    for p in problems {
                        errors.push(Diagnostic::at_offset(
                            schema_path,
                            schema_text,
                            anchor_offset(schema_text, &p.anchor),
                            Severity::Error,
                            p.message,
                        ));
                    }
                }
            },
            Err(e) => errors.push(diagnostic_of(schema_path, schema_text, &e, Severity::Error)),
        }
    }

    // The policies, each file on its own so positions are the file's.
    let mut all = PolicySet::new();
    let mut origin: HashMap<PolicyId, usize> = HashMap::new();
    for (index, source) in sources.iter().enumerate() {
        let file = source.file.as_path();
        let text = &*source.text;
        let set = match PolicySet::from_str(text) {
            Ok(set) => set,
            Err(errs) => {
                for e in errs.iter() {
                    errors.push(diagnostic_of(file, text, e, Severity::Error));
                }
                continue;
            }
        };
        if set.templates().next().is_some() {
            errors.push(Diagnostic::at_offset(
                file,
                text,
                text.find("?principal")
                    .or_else(|| text.find("?resource"))
                    .unwrap_or(0),
                Severity::Error,
                "templates are not supported: write static policies",
            ));
        }
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut numbered: Vec<(usize, &Policy)> = set
            .policies()
            .enumerate()
            .map(|(i, p)| {
                let n = p
                    .id()
                    .to_string()
                    .strip_prefix("policy")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(i);
                (n, p)
            })
            .collect();
        numbered.sort_by_key(|(n, _)| *n);
        for (n, policy) in numbered {
            let id = match policy.annotation(ID_ANNOTATION) {
                Some(id) => id.to_owned(),
                None => format!("{stem}.{n}"),
            };
            let at_id = || {
                text.find(&format!("\"{id}\""))
                    .and_then(|i| text.get(..i)?.rfind('@'))
                    .unwrap_or(0)
            };
            if id.is_empty() {
                errors.push(Diagnostic::at_offset(
                    file,
                    text,
                    at_id(),
                    Severity::Error,
                    "a policy's `@id` must not be empty",
                ));
                continue;
            }
            if policy.annotation(APPROVAL_ANNOTATION).is_some()
                && policy.effect() != CedarEffect::Forbid
            {
                errors.push(Diagnostic::at_offset(
                    file,
                    text,
                    text.find("@approval").unwrap_or(0),
                    Severity::Error,
                    format!("policy `{id}`: `@approval` goes on `forbid` policies only: make it a `forbid` or remove the annotation"),
                ));
            }
            let renamed = policy.new_id(PolicyId::new(&id));
            if let Some(first) = origin.get(renamed.id()) {
                let first_file = sources
                    .get(*first)
                    .map(|s| s.file.display().to_string())
                    .unwrap_or_default();
                errors.push(Diagnostic::at_offset(
                    file,
                    text,
                    at_id(),
                    Severity::Error,
                    format!("duplicate policy id `{id}`, already used in `{first_file}`: give each policy its own `@id`"),
                ));
                continue;
            }
            origin.insert(renamed.id().clone(), index);
            if let Err(e) = all.add(renamed) {
                errors.push(Diagnostic::at_offset(
                    file,
                    text,
                    at_id(),
                    Severity::Error,
                    format!("cannot add policy `{id}`: {e}"),
                ));
            }
        }
    }

    let Some(schema) = schema else {
        return Err(PolicyError::Diagnostics(errors));
    };
    if !errors.is_empty() {
        return Err(PolicyError::Diagnostics(errors));
    }

    // Strict validation of every policy against the schema.
    let locate = |id: &PolicyId| -> (PathBuf, Arc<str>) {
        match origin.get(id).and_then(|i| sources.get(*i)) {
            Some(s) => (s.file.clone(), Arc::clone(&s.text)),
            None => (PathBuf::new(), Arc::from("")),
        }
    };
    let validator = Validator::new(schema.clone());
    let result = validator.validate(&all, ValidationMode::Strict);
    for e in result.validation_errors() {
        let (file, text) = locate(e.policy_id());
        errors.push(diagnostic_of(&file, &text, e, Severity::Error));
    }
    for w in result.validation_warnings() {
        let (file, text) = locate(w.policy_id());
        warnings.push(diagnostic_of(&file, &text, w, Severity::Warning));
    }
    if !errors.is_empty() {
        return Err(PolicyError::Diagnostics(errors));
    }

    let mut without_approval = PolicySet::new();
    for p in all.policies() {
        if p.annotation(APPROVAL_ANNOTATION).is_none() {
            if let Err(e) = without_approval.add(p.clone()) {
                errors.push(Diagnostic {
                    file: PathBuf::new(),
                    line: 1,
                    column: 1,
                    severity: Severity::Error,
                    message: format!("cannot add policy `{}`: {e}", p.id()),
                });
            }
        }
    }
    let action_store = match schema.action_entities() {
        Ok(entities) => entities,
        Err(e) => {
            errors.push(Diagnostic::at_offset(
                schema_path,
                schema_text,
                0,
                Severity::Error,
                format!("cannot build the action entities: {e}"),
            ));
            Entities::empty()
        }
    };
    let action_entities: Vec<Entity> = action_store.iter().cloned().collect();
    let Some(model) = model else {
        return Err(PolicyError::Diagnostics(errors));
    };
    let by_action = match index_by_action(&actions, &action_entities, &all, &model.agent) {
        Ok(index) => index,
        Err(message) => {
            errors.push(Diagnostic {
                file: PathBuf::new(),
                line: 1,
                column: 1,
                severity: Severity::Error,
                message,
            });
            HashMap::new()
        }
    };
    if !errors.is_empty() {
        return Err(PolicyError::Diagnostics(errors));
    }
    static GENERATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    Ok(Loaded {
        generation: GENERATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        by_action,
        schema,
        policies: all,
        without_approval,
        actions,
        action_entities: with_room(if needed_by_requests(&action_entities) {
            action_store
        } else {
            Entities::empty()
        }),
        model,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail by panicking")]

    use cedar_policy::ActionConstraint;

    use super::*;
    use crate::index::PolicyBucket;
    use crate::load::SCHEMA_FILE;

    const SCHEMA: &str = include_str!("../tests/support/flat.cedarschema");

    const POLICIES: &str = r#"
@id("permit-pay")
permit (principal, action == Action::"pay_invoice", resource);
@id("forbid-deep")
forbid (principal, action, resource) when { principal.depth > 3 };
@id("approve-big")
@approval("the owner approves")
forbid (principal, action == Action::"pay_invoice", resource)
when { context.amount.greaterThan(decimal("500.00")) };
@id("in-group")
permit (principal in Agent::"team", action in [Action::"read_file", Action::"pay_invoice"], resource);
@id("a-permit")
permit (principal == Agent::"a", action, resource);
@id("a-forbid")
forbid (principal == Agent::"a", action == Action::"pay_invoice", resource);
@id("a-approval")
@approval("the owner approves")
forbid (principal == Agent::"a", action == Action::"read_file", resource);
@id("b-permit")
permit (principal == Agent::"b", action == Action::"pay_invoice", resource);
@id("a-res")
forbid (principal == Agent::"a", action, resource == Resource::"r1");
@id("res-1")
forbid (principal, action, resource == Resource::"r1");
@id("res-2")
@approval("the owner approves")
forbid (principal, action == Action::"pay_invoice", resource == Resource::"r2")
when { context.recipient == "eve@example.com" };
@id("recipient-eve")
forbid (principal, action in [Action::"pay_invoice", Action::"send_email"], resource)
when { context.recipient == "eve@example.com" && principal.depth > 1 };
@id("recipient-mallory")
@approval("the owner approves")
forbid (principal is Agent, action == Action::"pay_invoice", resource)
when { "mallory@example.com" == context.recipient };
@id("currency")
forbid (principal, action == Action::"pay_invoice", resource)
when { (context.currency == "EUR" && context.amount.greaterThan(decimal("5.00"))) && true }
unless { principal.depth == 0 };
@id("audience")
forbid (principal, action, resource) when { context.audience == "https://evil.example" };
@id("not-leftmost")
forbid (principal, action == Action::"pay_invoice", resource)
when { principal.depth > 2 && context.recipient == "eve@example.com" };
@id("unless-first")
forbid (principal, action == Action::"pay_invoice", resource)
unless { principal.depth < 2 } when { context.recipient == "eve@example.com" };
"#;

    /// The ids of the policies whose scope can match `action`, however they are indexed.
    fn applying(loaded: &Loaded, action: &str) -> Vec<String> {
        let uid = &loaded.actions.get(action).unwrap().uid;
        let mut ids: Vec<String> = loaded
            .policies
            .policies()
            .filter(|p| match p.action_constraint() {
                ActionConstraint::Any => true,
                ActionConstraint::Eq(u) => u == *uid,
                ActionConstraint::In(us) => us.contains(uid),
            })
            .map(|p| p.id().to_string())
            .collect();
        ids.sort();
        ids
    }

    fn ids(b: &PolicyBucket) -> Vec<String> {
        let mut ids: Vec<String> = b.policies.policies().map(|p| p.id().to_string()).collect();
        ids.sort();
        ids
    }

    /// Each policy of an action is stored once: in the shared bucket, or in the bucket of
    /// the one agent, resource or context string it is keyed by, never copied into another
    /// bucket of the same action.
    #[test]
    fn each_policy_is_stored_in_one_bucket_of_its_action() {
        let sources = [PolicySource {
            file: PathBuf::from("p.cedar"),
            text: Arc::from(POLICIES),
        }];
        let loaded = load_sources(Path::new(SCHEMA_FILE), SCHEMA, &sources).unwrap();
        assert!(!loaded.by_action.is_empty());
        for (action, index) in &loaded.by_action {
            let buckets = std::iter::once(&index.shared)
                .chain(index.by_agent.values())
                .chain(index.by_resource.values())
                .chain(index.by_context.iter().flat_map(|c| c.by_value.values()));
            let mut stored: Vec<String> = Vec::new();
            let mut stored_without_approval = 0;
            for bucket in buckets {
                stored.extend(bucket.policies.policies().map(|p| p.id().to_string()));
                stored_without_approval += bucket.without_approval.policies().count();
            }
            stored.sort();
            assert_eq!(stored, applying(&loaded, action), "action `{action}`");
            let approvals = stored
                .iter()
                .filter(|id| {
                    loaded
                        .policies
                        .policy(&PolicyId::new(id.as_str()))
                        .unwrap()
                        .annotation(APPROVAL_ANNOTATION)
                        .is_some()
                })
                .count();
            assert_eq!(stored_without_approval, stored.len() - approvals);
        }
        let r1: cedar_policy::EntityUid = r#"Resource::"r1""#.parse().unwrap();
        let r2: cedar_policy::EntityUid = r#"Resource::"r2""#.parse().unwrap();
        let pay = loaded.by_action.get("pay_invoice").unwrap();
        assert_eq!(
            ids(&pay.shared),
            [
                "approve-big",
                "forbid-deep",
                "in-group",
                "not-leftmost",
                "permit-pay",
                "unless-first"
            ]
        );
        assert_eq!(
            ids(pay.by_agent.get("a").unwrap()),
            ["a-forbid", "a-permit", "a-res"]
        );
        assert_eq!(ids(pay.by_agent.get("b").unwrap()), ["b-permit"]);
        assert!(!pay.by_agent.contains_key("team"));
        assert_eq!(pay.by_agent.len(), 2);
        assert_eq!(ids(pay.by_resource.get(&r1).unwrap()), ["res-1"]);
        assert_eq!(ids(pay.by_resource.get(&r2).unwrap()), ["res-2"]);
        assert_eq!(pay.by_resource.len(), 2);
        let attrs: Vec<&str> = pay.by_context.iter().map(|c| c.attr.as_str()).collect();
        assert_eq!(attrs, ["audience", "currency", "recipient"]);
        let context = |attr: &str, value: &str| {
            let index = pay.by_context.iter().find(|c| c.attr == attr).unwrap();
            ids(index.by_value.get(value).unwrap())
        };
        assert_eq!(context("audience", "https://evil.example"), ["audience"]);
        assert_eq!(context("currency", "EUR"), ["currency"]);
        assert_eq!(context("recipient", "eve@example.com"), ["recipient-eve"]);
        assert_eq!(
            context("recipient", "mallory@example.com"),
            ["recipient-mallory"]
        );
        let read = loaded.by_action.get("read_file").unwrap();
        assert_eq!(ids(&read.shared), ["forbid-deep", "in-group"]);
        assert_eq!(
            ids(read.by_agent.get("a").unwrap()),
            ["a-approval", "a-permit", "a-res"]
        );
        assert_eq!(ids(read.by_resource.get(&r1).unwrap()), ["res-1"]);
        assert_eq!(read.by_context.len(), 1);
    }
}
