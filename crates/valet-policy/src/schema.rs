//! The per-action table of context field types, read once from the schema's JSON form.

use std::collections::{BTreeMap, HashMap};

use cedar_policy::EntityUid;
use serde_json::Value;

/// Context members that Valet fills itself; a transaction cannot carry them.
pub(crate) const RESERVED_CONTEXT: [&str; 2] = ["audience", "scopes"];

/// The type of one context member, among those a transaction field can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldType {
    Str,
    Long,
    Bool,
    Decimal,
    StrSet,
}

impl FieldType {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            FieldType::Str => "a string",
            FieldType::Long => "an integer",
            FieldType::Bool => "a boolean",
            FieldType::Decimal => "a decimal string like `50.00`",
            FieldType::StrSet => "an array of strings",
        }
    }
}

/// One member of an action's context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldSpec {
    pub(crate) ty: FieldType,
    pub(crate) required: bool,
}

/// What the store knows of one action.
#[derive(Clone, Debug)]
pub(crate) struct ActionSpec {
    pub(crate) uid: EntityUid,
    /// The RFC 9396 details `type` the action takes, from `@detail_type`.
    pub(crate) detail_type: Option<String>,
    /// Context members other than the reserved ones.
    pub(crate) fields: BTreeMap<String, FieldSpec>,
}

/// Reads the action table from the schema's JSON form (as produced by
/// `schema_str_to_json_with_resolved_types`). Problems are returned as messages.
pub(crate) fn action_table(json: &Value) -> Result<HashMap<String, ActionSpec>, Vec<String>> {
    let mut problems = Vec::new();
    let Some(namespaces) = json.as_object() else {
        return Err(vec!["the schema is not a JSON object".into()]);
    };
    for name in namespaces.keys().filter(|n| !n.is_empty()) {
        problems.push(format!(
            "namespace `{name}` is not supported: declare `Agent`, `Resource` and the actions at the top level"
        ));
    }
    let empty = Value::Object(serde_json::Map::new());
    let ns = namespaces.get("").unwrap_or(&empty);
    let common = ns.get("commonTypes").and_then(Value::as_object);
    let entity_types = ns.get("entityTypes").and_then(Value::as_object);
    for required in ["Agent", "Resource"] {
        if entity_types.is_none_or(|e| !e.contains_key(required)) {
            problems.push(format!(
                "the schema must declare the entity type `{required}`"
            ));
        }
    }
    if let Some(agent) = entity_types.and_then(|e| e.get("Agent")) {
        check_agent(agent, common, &mut problems);
    }
    let mut actions = HashMap::new();
    if let Some(decls) = ns.get("actions").and_then(Value::as_object) {
        for (name, decl) in decls {
            match action_spec(name, decl, common) {
                Ok(spec) => {
                    actions.insert(name.clone(), spec);
                }
                Err(mut p) => problems.append(&mut p),
            }
        }
    }
    if problems.is_empty() {
        Ok(actions)
    } else {
        Err(problems)
    }
}

/// The attributes Valet gives every `Agent`.
const AGENT_ATTRS: [(&str, FieldType); 4] = [
    ("subject", FieldType::Str),
    ("client", FieldType::Str),
    ("depth", FieldType::Long),
    ("chain", FieldType::StrSet),
];

fn check_agent(
    agent: &Value,
    common: Option<&serde_json::Map<String, Value>>,
    problems: &mut Vec<String>,
) {
    let Some(shape) = agent.get("shape") else {
        return;
    };
    let Some(attrs) = record_attributes(shape, common, 0) else {
        problems.push("the shape of `Agent` must be a record".into());
        return;
    };
    for (attr, decl) in attrs {
        let expected = AGENT_ATTRS
            .iter()
            .find(|(n, _)| *n == attr.as_str())
            .map(|(_, t)| *t);
        match (expected, field_type(decl, common, 0)) {
            (Some(e), Some(t)) if e == t => {}
            (Some(e), _) => problems.push(format!(
                "`Agent` attribute `{attr}` must be {}",
                e.describe()
            )),
            (None, _) => problems.push(format!(
                "`Agent` attribute `{attr}` is not one Valet provides: use `subject`, `client`, `depth` or `chain`"
            )),
        }
    }
}

fn action_spec(
    name: &str,
    decl: &Value,
    common: Option<&serde_json::Map<String, Value>>,
) -> Result<ActionSpec, Vec<String>> {
    let mut problems = Vec::new();
    let uid = match EntityUid::from_json(serde_json::json!({"type": "Action", "id": name})) {
        Ok(uid) => uid,
        Err(e) => return Err(vec![format!("action `{name}`: {e}")]),
    };
    let detail_type = decl
        .get("annotations")
        .and_then(|a| a.get("detail_type"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut fields = BTreeMap::new();
    let context = decl.get("appliesTo").and_then(|a| a.get("context"));
    if let Some(context) = context {
        match record_attributes(context, common, 0) {
            None => problems.push(format!("the context of action `{name}` must be a record")),
            Some(attrs) => {
                for (attr, adecl) in attrs {
                    let required = adecl
                        .get("required")
                        .and_then(Value::as_bool)
                        .unwrap_or(true);
                    let ty = field_type(adecl, common, 0);
                    if RESERVED_CONTEXT.contains(&attr.as_str()) {
                        let expected = if attr == "audience" {
                            FieldType::Str
                        } else {
                            FieldType::StrSet
                        };
                        if ty != Some(expected) || !required {
                            problems.push(format!(
                                "context attribute `{attr}` of action `{name}` must be a required {}",
                                if attr == "audience" { "`String`" } else { "`Set<String>`" }
                            ));
                        }
                        continue;
                    }
                    match ty {
                        Some(ty) => {
                            fields.insert(attr.clone(), FieldSpec { ty, required });
                        }
                        None => problems.push(format!(
                            "context attribute `{attr}` of action `{name}` has a type transaction fields cannot carry: use `String`, `Long`, `Bool`, `decimal` or `Set<String>`"
                        )),
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(ActionSpec {
            uid,
            detail_type,
            fields,
        })
    } else {
        Err(problems)
    }
}

/// How deep common type references are followed.
const MAX_TYPE_DEPTH: usize = 16;

fn resolve<'a>(
    decl: &'a Value,
    common: Option<&'a serde_json::Map<String, Value>>,
    depth: usize,
) -> Option<(&'a str, &'a Value)> {
    if depth > MAX_TYPE_DEPTH {
        return None;
    }
    let ty = decl.get("type").and_then(Value::as_str)?;
    let name = match ty {
        "EntityOrCommon" | "CommonType" => decl.get("name").and_then(Value::as_str)?,
        other => other,
    };
    if let Some(target) = common.and_then(|c| c.get(name)) {
        return resolve(target, common, depth.saturating_add(1));
    }
    Some((name, decl))
}

fn record_attributes<'a>(
    decl: &'a Value,
    common: Option<&'a serde_json::Map<String, Value>>,
    depth: usize,
) -> Option<&'a serde_json::Map<String, Value>> {
    let (name, decl) = resolve(decl, common, depth)?;
    if name != "Record" {
        return None;
    }
    match decl.get("attributes") {
        Some(a) => a.as_object(),
        None => None,
    }
}

fn field_type(
    decl: &Value,
    common: Option<&serde_json::Map<String, Value>>,
    depth: usize,
) -> Option<FieldType> {
    let (name, decl) = resolve(decl, common, depth)?;
    let name = name.strip_prefix("__cedar::").unwrap_or(name);
    match name {
        "String" => Some(FieldType::Str),
        "Long" => Some(FieldType::Long),
        "Boolean" | "Bool" => Some(FieldType::Bool),
        "decimal" => Some(FieldType::Decimal),
        "Extension" => match decl.get("name").and_then(Value::as_str) {
            Some("decimal") => Some(FieldType::Decimal),
            _ => None,
        },
        "Set" => match field_type(decl.get("element")?, common, depth.saturating_add(1)) {
            Some(FieldType::Str) => Some(FieldType::StrSet),
            _ => None,
        },
        _ => None,
    }
}
