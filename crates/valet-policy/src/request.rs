//! Mapping a transaction onto the author's model: the context its details give (typed by
//! the schema), the resources it names, the agent of each step with the attributes Valet
//! fills, and the Cedar request for each step and resource.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{Context, Entity, EntityUid, Request, RestrictedExpression};
use valet_token::details::FieldValue;

use crate::loaded::Loaded;
use crate::schema::{ActionSpec, RESERVED_CONTEXT};
use crate::transaction::{Step, Transaction};
use crate::value::{entity_uid, to_cedar};

/// The details fields that name the resource rather than describe the transaction.
pub const RESOURCE_FIELDS: [&str; 2] = ["identifier", "locations"];

/// The context members a transaction's details give (typed by the schema), or the
/// reasons they do not fit.
pub(crate) fn context_fields(
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
            match to_cedar(name, value, &field.ty) {
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

/// The principal of a step: the step's agent as an entity of the agent type.
pub(crate) fn step_principal(loaded: &Loaded, tx: &Transaction<'_>, step: Step<'_>) -> EntityUid {
    entity_uid(&loaded.model.agent, tx.step_agent(step))
}

/// The person the transaction is for, when the schema has a person type.
pub(crate) fn person_of(loaded: &Loaded, tx: &Transaction<'_>) -> Option<EntityUid> {
    loaded
        .model
        .person
        .as_ref()
        .map(|ty| entity_uid(ty, tx.subject))
}

/// The agent entity of a step: the attributes Valet fills (those the schema declares) and
/// the parents the entity data gives it.
pub(crate) fn agent_entity(
    loaded: &Loaded,
    tx: &Transaction<'_>,
    step: Step<'_>,
    principal: EntityUid,
    parents: HashSet<EntityUid>,
) -> Result<Entity, String> {
    let declared = loaded.model.attributes;
    let chain = tx.chain.get(..step.delegates).unwrap_or(tx.chain);
    let mut attrs: HashMap<String, RestrictedExpression> = HashMap::with_capacity(6);
    if declared.person {
        if let Some(person) = person_of(loaded, tx) {
            attrs.insert(
                "person".into(),
                RestrictedExpression::new_entity_uid(person),
            );
        }
    }
    if declared.subject {
        attrs.insert(
            "subject".into(),
            RestrictedExpression::new_string(tx.subject.to_owned()),
        );
    }
    if declared.client {
        attrs.insert(
            "client".into(),
            RestrictedExpression::new_string(tx.client.to_owned()),
        );
    }
    if declared.depth {
        let depth = i64::try_from(chain.len()).unwrap_or(i64::MAX);
        attrs.insert("depth".into(), RestrictedExpression::new_long(depth));
    }
    if declared.chain {
        attrs.insert("chain".into(), string_set(chain));
    }
    if declared.verified {
        attrs.insert(
            "verified".into(),
            RestrictedExpression::new_bool(step.verified),
        );
    }
    Entity::new(principal, attrs, parents)
        .map_err(|e| format!("agent `{}`: {e}", tx.step_agent(step)))
}

/// The Cedar request of one step on one resource, or why it cannot be built.
pub(crate) fn build_request(
    loaded: &Loaded,
    spec: &ActionSpec,
    fields: &[(String, RestrictedExpression)],
    step: Step<'_>,
    principal: EntityUid,
    resource: &EntityUid,
    validate: bool,
) -> Result<Request, Vec<String>> {
    let mut pairs = Vec::with_capacity(fields.len().saturating_add(1));
    pairs.extend(fields.iter().cloned());
    pairs.push(("scopes".into(), string_set(step.scopes)));
    let context = Context::from_pairs(pairs)
        .map_err(|e| vec![format!("the transaction details cannot be read: {e}")])?;
    Request::new(
        principal,
        spec.uid.clone(),
        resource.clone(),
        context,
        validate.then_some(&loaded.schema),
    )
    .map_err(|e| vec![format!("request does not fit the schema: {e}")])
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
///
/// When the action takes one resource type, each is an id of that type (or that type's
/// `Type::"id"`); when it takes several, each must be written `Type::"id"` with one of
/// them, and a request without an `identifier` is refused.
pub(crate) fn resources_of(
    tx: &Transaction<'_>,
    spec: &ActionSpec,
    max: usize,
) -> Result<Vec<EntityUid>, String> {
    let mut names: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let too_many = || {
        format!(
            "the request names more than {max} resources (its `identifier` and `locations`, each judged): split it into several requests"
        )
    };
    if let Some(details) = tx.details {
        match details.get("identifier") {
            Some(FieldValue::Str(id)) => {
                seen.insert(id);
                names.push(id);
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
                    if seen.insert(location) {
                        names.push(location);
                    }
                    if names.len() > max {
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
    let types = &spec.resource_types;
    let listed = || {
        types
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let named = !names.is_empty();
    if !named {
        names.push(tx.audience);
    }
    let mut resources = Vec::with_capacity(names.len());
    for name in names {
        let uid = match types.as_slice() {
            [] => {
                return Err(format!(
                    "action `{}` applies to no resource type: add one to its `resource` in the schema",
                    tx.action
                ))
            }
            // Parsing `Type::"id"` costs a parser run: only a name that starts with the
            // type and `::"` can be one.
            [only] => match name
                .strip_prefix(only.to_string().as_str())
                .filter(|rest| rest.starts_with("::\""))
                .and_then(|_| EntityUid::from_str(name).ok())
            {
                Some(uid) if uid.type_name() == only => uid,
                _ => entity_uid(only, name),
            },
            _ if !named => {
                return Err(format!(
                    "action `{}` takes several resource types ({}): name the resource in the details' `identifier`, like `{}::\"id\"`",
                    tx.action,
                    listed(),
                    types.first().map(ToString::to_string).unwrap_or_default()
                ))
            }
            _ => match EntityUid::from_str(name) {
                Ok(uid) if types.contains(uid.type_name()) => uid,
                Ok(uid) => {
                    return Err(format!(
                        "resource `{name}` is a `{}`, which action `{}` does not take: name one of {}",
                        uid.type_name(),
                        tx.action,
                        listed()
                    ))
                }
                Err(_) => {
                    return Err(format!(
                        "resource `{name}` does not say its type, and action `{}` takes several ({}): write it like `{}::\"{}\"`",
                        tx.action,
                        listed(),
                        types.first().map(ToString::to_string).unwrap_or_default(),
                        name.escape_default()
                    ))
                }
            },
        };
        resources.push(uid);
    }
    Ok(resources)
}
