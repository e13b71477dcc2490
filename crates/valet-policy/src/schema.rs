//! What Valet reads of the author's schema, once, from its JSON form: which entity type
//! is the acting agent and which the person (`@valet("agent")`, `@valet("person")`),
//! which agent attributes Valet fills, and per action the resource types it takes and the
//! type of every context member.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use cedar_policy::{EntityTypeName, EntityUid};
use serde_json::{Map, Value};

/// Context members that Valet fills itself; a transaction cannot carry them.
pub(crate) const RESERVED_CONTEXT: [&str; 2] = ["audience", "scopes"];

/// The annotation naming the agent and person entity types.
pub const VALET_ANNOTATION: &str = "valet";

/// A Cedar type, as the schema declares it for a context member or an attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum CedarType {
    String,
    Long,
    Bool,
    Decimal,
    Datetime,
    Duration,
    IpAddr,
    Set(Box<CedarType>),
    Record(BTreeMap<String, Member>),
    Entity(EntityTypeName),
}

impl CedarType {
    /// What a JSON value of this type looks like, for messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            CedarType::String => "a string".into(),
            CedarType::Long => "an integer".into(),
            CedarType::Bool => "a boolean".into(),
            CedarType::Decimal => "a decimal string like `50.00`".into(),
            CedarType::Datetime => {
                "an RFC 3339 date-time string like `2026-12-01T09:30:00Z`".into()
            }
            CedarType::Duration => "a Cedar duration string like `1h30m`".into(),
            CedarType::IpAddr => "an IP address or CIDR string like `10.0.0.0/8`".into(),
            CedarType::Set(element) => format!("an array of {}", element.describe_plural()),
            CedarType::Record(_) => "a JSON object".into(),
            CedarType::Entity(ty) => {
                format!("an entity reference `{{\"__entity\": {{\"type\": \"{ty}\", \"id\": \"...\"}}}}`")
            }
        }
    }

    fn describe_plural(&self) -> String {
        match self {
            CedarType::String => "strings".into(),
            CedarType::Long => "integers".into(),
            CedarType::Bool => "booleans".into(),
            CedarType::Decimal => "decimal strings".into(),
            CedarType::Datetime => "RFC 3339 date-time strings".into(),
            CedarType::Duration => "duration strings".into(),
            CedarType::IpAddr => "IP address strings".into(),
            CedarType::Set(_) => "arrays".into(),
            CedarType::Record(_) => "JSON objects".into(),
            CedarType::Entity(ty) => format!("`{ty}` entity references"),
        }
    }
}

/// One member of a record type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) ty: CedarType,
    pub(crate) required: bool,
}

/// The agent attributes Valet can fill, and the type each must be declared with.
pub(crate) const AGENT_ATTRIBUTES: [&str; 6] =
    ["person", "subject", "client", "depth", "chain", "verified"];

/// Which agent attributes the schema declares (Valet fills exactly those).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AgentAttributes {
    pub(crate) person: bool,
    pub(crate) subject: bool,
    pub(crate) client: bool,
    pub(crate) depth: bool,
    pub(crate) chain: bool,
    pub(crate) verified: bool,
}

/// The author's model, as Valet maps a transaction onto it.
#[derive(Clone, Debug)]
pub(crate) struct Model {
    /// The entity type annotated `@valet("agent")`.
    pub(crate) agent: EntityTypeName,
    /// The entity type annotated `@valet("person")`, if any.
    pub(crate) person: Option<EntityTypeName>,
    /// The agent attributes the schema declares.
    pub(crate) attributes: AgentAttributes,
    /// The entity types an agent may be in (its `memberOfTypes`).
    pub(crate) agent_parents: Vec<EntityTypeName>,
}

/// What the store knows of one action.
#[derive(Clone, Debug)]
pub(crate) struct ActionSpec {
    pub(crate) uid: EntityUid,
    /// The RFC 9396 details `type` the action takes, from `@detail_type`.
    pub(crate) detail_type: Option<String>,
    /// Whether the action's `principal` types include the agent type.
    pub(crate) takes_agent: bool,
    /// The resource types of the action's `appliesTo`.
    pub(crate) resource_types: Vec<EntityTypeName>,
    /// Context members other than the reserved ones.
    pub(crate) fields: BTreeMap<String, Member>,
}

/// Where a problem of the schema is, for its `file:line:column`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Anchor {
    /// The declaration of this entity type (its name without namespace).
    Entity(String),
    /// The declaration of this action.
    Action(String),
    /// The start of the schema.
    Start,
}

/// One problem of the schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) anchor: Anchor,
    pub(crate) message: String,
}

/// The model and the action table of a schema.
#[derive(Clone, Debug)]
pub(crate) struct SchemaModel {
    pub(crate) model: Model,
    pub(crate) actions: HashMap<String, ActionSpec>,
}

/// Common types of every namespace, by qualified name.
struct Common<'a>(HashMap<String, &'a Value>);

fn qualify(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}::{name}")
    }
}

/// Reads the model and the action table from the schema's JSON form (as produced by
/// `schema_str_to_json_with_resolved_types`).
pub(crate) fn read_schema(json: &Value) -> Result<SchemaModel, Vec<Problem>> {
    let mut problems = Vec::new();
    let Some(namespaces) = json.as_object() else {
        return Err(vec![Problem {
            anchor: Anchor::Start,
            message: "the schema is not a JSON object".into(),
        }]);
    };
    let mut common = Common(HashMap::new());
    for (ns, decl) in namespaces {
        if let Some(types) = decl.get("commonTypes").and_then(Value::as_object) {
            for (name, ty) in types {
                common.0.insert(qualify(ns, name), ty);
            }
        }
    }

    // The agent and person types.
    let mut agents: Vec<(String, &Value)> = Vec::new();
    let mut persons: Vec<(String, &Value)> = Vec::new();
    for (ns, decl) in namespaces {
        let Some(types) = decl.get("entityTypes").and_then(Value::as_object) else {
            continue;
        };
        for (name, ty) in types {
            let Some(role) = ty.get("annotations").and_then(|a| a.get(VALET_ANNOTATION)) else {
                continue;
            };
            match role.as_str() {
                Some("agent") => agents.push((qualify(ns, name), ty)),
                Some("person") => persons.push((qualify(ns, name), ty)),
                _ => problems.push(Problem {
                    anchor: Anchor::Entity(name.clone()),
                    message: format!(
                        "entity type `{}`: `@valet` takes \"agent\" or \"person\", found {role}",
                        qualify(ns, name)
                    ),
                }),
            }
        }
    }
    let agent = match agents.as_slice() {
        [one] => Some(one.clone()),
        [] => {
            let hint = if namespaces
                .get("")
                .and_then(|d| d.get("entityTypes"))
                .and_then(|e| e.get("Agent"))
                .is_some()
            {
                Anchor::Entity("Agent".into())
            } else {
                Anchor::Start
            };
            problems.push(Problem {
                anchor: hint,
                message: "no entity type is annotated `@valet(\"agent\")`: annotate the entity type of the acting agent, e.g. `@valet(\"agent\") entity Agent { subject: String };`".into(),
            });
            None
        }
        [_, second, ..] => {
            problems.push(Problem {
                anchor: Anchor::Entity(short(&second.0)),
                message: format!(
                    "more than one entity type is annotated `@valet(\"agent\")` ({}): annotate only the acting agent's type",
                    agents.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                ),
            });
            None
        }
    };
    let person = match persons.as_slice() {
        [] => None,
        [one] => Some(one.0.clone()),
        [_, second, ..] => {
            problems.push(Problem {
                anchor: Anchor::Entity(short(&second.0)),
                message: format!(
                    "more than one entity type is annotated `@valet(\"person\")` ({}): annotate only the type of the person agents act for",
                    persons.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ")
                ),
            });
            None
        }
    };
    if let (Some((a, _)), Some(p)) = (&agent, &person) {
        if a == p {
            problems.push(Problem {
                anchor: Anchor::Entity(short(a)),
                message: format!("`{a}` cannot be both the agent and the person"),
            });
        }
    }
    let agent_type = agent.as_ref().and_then(|(name, _)| match type_name(name) {
        Ok(t) => Some(t),
        Err(p) => {
            problems.push(p);
            None
        }
    });
    let person_type = person.as_ref().and_then(|name| match type_name(name) {
        Ok(t) => Some(t),
        Err(p) => {
            problems.push(p);
            None
        }
    });
    let mut attributes = AgentAttributes::default();
    let mut agent_parents = Vec::new();
    if let Some((name, decl)) = &agent {
        attributes = agent_attributes(name, decl, person.as_deref(), &common, &mut problems);
        for parent in decl
            .get("memberOfTypes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            match type_name(parent) {
                Ok(t) => agent_parents.push(t),
                Err(p) => problems.push(p),
            }
        }
    }

    // The actions, named by id whatever their namespace.
    let mut actions: HashMap<String, ActionSpec> = HashMap::new();
    let mut action_ns: HashMap<String, String> = HashMap::new();
    for (ns, decl) in namespaces {
        let Some(decls) = decl.get("actions").and_then(Value::as_object) else {
            continue;
        };
        for (name, adecl) in decls {
            if let Some(first) = action_ns.get(name) {
                problems.push(Problem {
                    anchor: Anchor::Action(name.clone()),
                    message: format!(
                        "action `{name}` is declared in namespace `{first}` and in `{ns}`: requests name an action by its id, so give each action its own id"
                    ),
                });
                continue;
            }
            action_ns.insert(name.clone(), ns.clone());
            match action_spec(
                ns,
                name,
                adecl,
                agent.as_ref().map(|(n, _)| n.as_str()),
                &common,
            ) {
                Ok(spec) => {
                    actions.insert(name.clone(), spec);
                }
                Err(mut p) => problems.append(&mut p),
            }
        }
    }
    match (problems.is_empty(), agent_type) {
        (true, Some(agent)) => Ok(SchemaModel {
            model: Model {
                agent,
                person: person_type,
                attributes,
                agent_parents,
            },
            actions,
        }),
        _ => Err(problems),
    }
}

/// A qualified name without its namespace.
fn short(name: &str) -> String {
    name.rsplit("::").next().unwrap_or(name).to_owned()
}

fn type_name(name: &str) -> Result<EntityTypeName, Problem> {
    EntityTypeName::from_str(name).map_err(|e| Problem {
        anchor: Anchor::Entity(short(name)),
        message: format!("cannot name entity type `{name}`: {e}"),
    })
}

fn agent_attributes(
    agent: &str,
    decl: &Value,
    person: Option<&str>,
    common: &Common<'_>,
    problems: &mut Vec<Problem>,
) -> AgentAttributes {
    let mut found = AgentAttributes::default();
    let Some(shape) = decl.get("shape") else {
        return found;
    };
    let anchor = || Anchor::Entity(short(agent));
    let Some(attrs) = record_attributes(shape, common, 0) else {
        problems.push(Problem {
            anchor: anchor(),
            message: format!("the shape of `{agent}` must be a record"),
        });
        return found;
    };
    for (attr, adecl) in attrs {
        let ty = cedar_type(adecl, common, 0);
        let (expected, slot) = match attr.as_str() {
            "person" => match person {
                Some(p) => match EntityTypeName::from_str(p) {
                    Ok(t) => (CedarType::Entity(t), &mut found.person),
                    Err(_) => continue,
                },
                None => {
                    problems.push(Problem {
                        anchor: anchor(),
                        message: format!(
                            "`{agent}` attribute `person` needs a person type: annotate the entity type of the people agents act for with `@valet(\"person\")`"
                        ),
                    });
                    continue;
                }
            },
            "subject" => (CedarType::String, &mut found.subject),
            "client" => (CedarType::String, &mut found.client),
            "depth" => (CedarType::Long, &mut found.depth),
            "chain" => (
                CedarType::Set(Box::new(CedarType::String)),
                &mut found.chain,
            ),
            "verified" => (CedarType::Bool, &mut found.verified),
            _ => {
                problems.push(Problem {
                    anchor: anchor(),
                    message: format!(
                        "`{agent}` attribute `{attr}` is not one Valet fills: declare only {} (entity data may give the agent parents, not attributes)",
                        AGENT_ATTRIBUTES.map(|a| format!("`{a}`")).join(", ")
                    ),
                });
                continue;
            }
        };
        match ty {
            Ok(t) if t == expected => *slot = true,
            _ => problems.push(Problem {
                anchor: anchor(),
                message: format!(
                    "`{agent}` attribute `{attr}` must be declared as `{}`",
                    schema_text(&expected)
                ),
            }),
        }
    }
    found
}

/// A type as the Cedar schema syntax writes it.
fn schema_text(ty: &CedarType) -> String {
    match ty {
        CedarType::String => "String".into(),
        CedarType::Long => "Long".into(),
        CedarType::Bool => "Bool".into(),
        CedarType::Decimal => "decimal".into(),
        CedarType::Datetime => "datetime".into(),
        CedarType::Duration => "duration".into(),
        CedarType::IpAddr => "ipaddr".into(),
        CedarType::Set(e) => format!("Set<{}>", schema_text(e)),
        CedarType::Record(_) => "{ ... }".into(),
        CedarType::Entity(t) => t.to_string(),
    }
}

fn action_spec(
    ns: &str,
    name: &str,
    decl: &Value,
    agent: Option<&str>,
    common: &Common<'_>,
) -> Result<ActionSpec, Vec<Problem>> {
    let mut problems = Vec::new();
    let anchor = || Anchor::Action(name.to_owned());
    let uid = match EntityUid::from_json(
        serde_json::json!({"type": qualify(ns, "Action"), "id": name}),
    ) {
        Ok(uid) => uid,
        Err(e) => {
            return Err(vec![Problem {
                anchor: anchor(),
                message: format!("action `{name}`: {e}"),
            }])
        }
    };
    let detail_type = decl
        .get("annotations")
        .and_then(|a| a.get("detail_type"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let applies = decl.get("appliesTo");
    let names = |key: &str| -> Vec<String> {
        applies
            .and_then(|a| a.get(key))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let takes_agent = agent.is_some_and(|a| names("principalTypes").iter().any(|p| p == a));
    let mut resource_types = Vec::new();
    for r in names("resourceTypes") {
        match EntityTypeName::from_str(&r) {
            Ok(t) => resource_types.push(t),
            Err(e) => problems.push(Problem {
                anchor: anchor(),
                message: format!("action `{name}`: cannot name resource type `{r}`: {e}"),
            }),
        }
    }
    let mut fields = BTreeMap::new();
    if let Some(context) = applies.and_then(|a| a.get("context")) {
        match record_attributes(context, common, 0) {
            None => problems.push(Problem {
                anchor: anchor(),
                message: format!("the context of action `{name}` must be a record"),
            }),
            Some(attrs) => {
                for (attr, adecl) in attrs {
                    let required = adecl
                        .get("required")
                        .and_then(Value::as_bool)
                        .unwrap_or(true);
                    let ty = cedar_type(adecl, common, 0);
                    if RESERVED_CONTEXT.contains(&attr.as_str()) {
                        let expected = if attr == "audience" {
                            CedarType::String
                        } else {
                            CedarType::Set(Box::new(CedarType::String))
                        };
                        if ty.as_ref() != Ok(&expected) || !required {
                            problems.push(Problem {
                                anchor: anchor(),
                                message: format!(
                                    "context attribute `{attr}` of action `{name}` must be a required `{}`: Valet sets it from the token",
                                    schema_text(&expected)
                                ),
                            });
                        }
                        continue;
                    }
                    match ty {
                        Ok(ty) => {
                            fields.insert(attr.clone(), Member { ty, required });
                        }
                        Err(why) => problems.push(Problem {
                            anchor: anchor(),
                            message: format!(
                                "context attribute `{attr}` of action `{name}`: {why}"
                            ),
                        }),
                    }
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(ActionSpec {
            uid,
            detail_type,
            takes_agent,
            resource_types,
            fields,
        })
    } else {
        Err(problems)
    }
}

/// How deep type references and nested types are followed.
const MAX_TYPE_DEPTH: usize = 32;

/// The declaration a type refers to, common type references followed.
fn resolve<'a>(decl: &'a Value, common: &Common<'a>, depth: usize) -> Option<(&'a str, &'a Value)> {
    if depth > MAX_TYPE_DEPTH {
        return None;
    }
    let ty = decl.get("type").and_then(Value::as_str)?;
    let name = match ty {
        "EntityOrCommon" | "CommonType" => decl.get("name").and_then(Value::as_str)?,
        other => other,
    };
    if let Some(target) = common.0.get(name) {
        return resolve(target, common, depth.saturating_add(1));
    }
    Some((name, decl))
}

fn record_attributes<'a>(
    decl: &'a Value,
    common: &Common<'a>,
    depth: usize,
) -> Option<&'a Map<String, Value>> {
    let (name, decl) = resolve(decl, common, depth)?;
    if name != "Record" {
        return None;
    }
    match decl.get("attributes") {
        Some(a) => a.as_object(),
        None => None,
    }
}

/// The Cedar type a declaration gives, or why it cannot be read.
fn cedar_type(decl: &Value, common: &Common<'_>, depth: usize) -> Result<CedarType, String> {
    let too_deep = || format!("its type nests more than {MAX_TYPE_DEPTH} levels deep");
    let (name, decl) = resolve(decl, common, depth).ok_or_else(too_deep)?;
    let deeper = depth.saturating_add(1);
    let name = name.strip_prefix("__cedar::").unwrap_or(name);
    let extension = |ext: &str| match ext {
        "decimal" => Ok(CedarType::Decimal),
        "datetime" => Ok(CedarType::Datetime),
        "duration" => Ok(CedarType::Duration),
        "ipaddr" => Ok(CedarType::IpAddr),
        other => Err(format!("extension type `{other}` is not one Valet knows")),
    };
    match name {
        "String" => Ok(CedarType::String),
        "Long" => Ok(CedarType::Long),
        "Boolean" | "Bool" => Ok(CedarType::Bool),
        "decimal" | "datetime" | "duration" | "ipaddr" => extension(name),
        "Extension" => extension(decl.get("name").and_then(Value::as_str).unwrap_or("")),
        "Set" => {
            let element = decl
                .get("element")
                .ok_or_else(|| "a set type without its element type".to_owned())?;
            Ok(CedarType::Set(Box::new(cedar_type(
                element, common, deeper,
            )?)))
        }
        "Record" => {
            let attrs = decl
                .get("attributes")
                .and_then(Value::as_object)
                .ok_or_else(|| "a record type without attributes".to_owned())?;
            let mut members = BTreeMap::new();
            for (attr, adecl) in attrs {
                let required = adecl
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(true);
                let ty = cedar_type(adecl, common, deeper)
                    .map_err(|why| format!("member `{attr}`: {why}"))?;
                members.insert(attr.clone(), Member { ty, required });
            }
            Ok(CedarType::Record(members))
        }
        "Entity" => {
            let entity = decl.get("name").and_then(Value::as_str).unwrap_or(name);
            EntityTypeName::from_str(entity)
                .map(CedarType::Entity)
                .map_err(|e| format!("cannot name entity type `{entity}`: {e}"))
        }
        // A resolved entity type name.
        other => EntityTypeName::from_str(other)
            .map(CedarType::Entity)
            .map_err(|_| format!("type `{other}` is not one Valet can read")),
    }
}

/// Where in the schema text a problem is.
pub(crate) fn anchor_offset(text: &str, anchor: &Anchor) -> usize {
    match anchor {
        Anchor::Start => 0,
        Anchor::Entity(name) => declaration(text, "entity ", name).unwrap_or(0),
        Anchor::Action(name) => declaration(text, "action ", name)
            .or_else(|| text.find(&format!("\"{name}\"")))
            .unwrap_or(0),
    }
}

/// The offset of the declaration (`entity A, B ...` or `action a, "b" ...`) naming
/// `name`: the keyword followed, before the next `{`, `;` or `appliesTo`, by a word equal to
/// `name`. Annotations written just before it are included, so the position is where the
/// author starts reading the declaration.
fn declaration(text: &str, keyword: &str, name: &str) -> Option<usize> {
    text.match_indices(keyword)
        .map(|(i, _)| i)
        .filter(|&i| {
            i == 0
                || text
                    .get(..i)
                    .and_then(|t| t.chars().next_back())
                    .is_some_and(|c| c.is_whitespace() || c == ';' || c == '{' || c == ')')
        })
        .find(|&i| {
            let rest = text.get(i.saturating_add(keyword.len())..).unwrap_or("");
            let end = rest
                .find(['{', ';'])
                .into_iter()
                .chain(rest.find("appliesTo"))
                .chain(rest.find(" in "))
                .min()
                .unwrap_or(rest.len());
            rest.get(..end).is_some_and(|names| {
                names
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|w| w == name)
            })
        })
}
