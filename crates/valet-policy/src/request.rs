//! Mapping a transaction to Cedar requests: the context its details give (typed by the
//! schema), the resources it names, and the request and entities for each step and
//! resource.

use std::collections::{HashMap, HashSet};

use cedar_policy::{Context, Entities, Entity, EntityId, EntityUid, Request, RestrictedExpression};
use valet_token::details::FieldValue;
use valet_token::Decimal;

use crate::loaded::Loaded;
use crate::schema::{ActionSpec, FieldType, RESERVED_CONTEXT};
use crate::transaction::{Step, Transaction};

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
pub(crate) fn build_request(
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
    let agent_name = tx.step_agent(step);
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
pub(crate) fn resources_of<'a>(tx: &Transaction<'a>, max: usize) -> Result<Vec<&'a str>, String> {
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
