//! Random entity data, policies and transactions over the namespaced model of
//! `docs.cedarschema`, shared by the differential test (`tests/differential.rs`) and the
//! index test (`tests/index.rs`).
//!
//! The entity data nests teams in teams, users in teams, folders in folders and documents
//! in folders, and puts bots in groups, always acyclic; some users, bots and documents
//! are left out, so policies reading them error. Policies are permits and forbids (some
//! `@approval`) with `==`, `in` and `is` scopes and conditions over the person's teams,
//! the owners, the folders, the agent attributes Valet fills and every context member;
//! each is well typed for every action its scope takes, and some start with the context
//! equality the index keys. Transactions name a document or a folder (a plain id or
//! `Type::"id"`), or leave the audience as the resource.

#![allow(
    dead_code,
    reason = "shared by two test targets, each using part of it"
)]

use cedar_policy::RestrictedExpression;
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use serde_json::{json, Map, Value};
use valet_token::details::FieldValue;
use valet_token::TransactionDetails;

/// The schema.
pub const SCHEMA: &str = include_str!("docs.cedarschema");

pub const TEAMS: [&str; 4] = ["t0", "t1", "t2", "t3"];
pub const USERS: [&str; 4] = ["u0", "u1", "u2", "u3"];
/// The subjects requests are for: the users, and one the data never has.
pub const SUBJECTS: [&str; 5] = ["u0", "u1", "u2", "u3", "u9"];
pub const GROUPS: [&str; 2] = ["g0", "g1"];
/// The bots of the data (one id needs escaping in Cedar text).
pub const BOTS: [&str; 3] = ["b0", "b1", "b\"2"];
/// The agents requests come from: the bots, and one the data never has.
pub const AGENTS: [&str; 4] = ["b0", "b1", "b\"2", "b3"];
pub const FOLDERS: [&str; 4] = ["f0", "f1", "f2", "f3"];
/// The documents of the data (one id is not ASCII).
pub const DOCUMENTS: [&str; 4] = ["d0", "d1", "d2", "dé 3"];
pub const SCOPES: [&str; 3] = ["docs:read", "docs:write", "docs:share"];
pub const AUDIENCES: [&str; 3] = ["https://docs.example", "f0", "d1"];
pub const PURPOSES: [&str; 3] = ["audit", "review", "report"];
pub const RECIPIENTS: [&str; 3] = ["u0", "u1", "eve"];
pub const TAGS: [&str; 3] = ["a", "b", "x"];
pub const SENSITIVITIES: [&str; 2] = ["low", "high"];

/// The actions of the schema and the context members each takes besides `audience` and
/// `scopes`.
pub const ACTIONS: [(&str, &[&str]); 4] = [
    (
        "read",
        &["purpose", "at", "pages", "urgent", "labels", "trip"],
    ),
    ("edit", &["purpose", "at", "size"]),
    ("share", &["purpose", "at", "recipient", "until"]),
    ("list", &[]),
];

/// The resource types each action takes: documents, folders.
fn resource_types(action: &str) -> (bool, bool) {
    match action {
        "read" => (true, false),
        "list" => (false, true),
        _ => (true, true),
    }
}

/// `text` as a Cedar string literal.
pub fn lit(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `Docs::<ty>::"<id>"` in Cedar text.
pub fn uid(ty: &str, id: &str) -> String {
    format!("Docs::{ty}::{}", lit(id))
}

// ---------------------------------------------------------------------------------------
// Entity data

/// One user of the data.
#[derive(Clone, Debug)]
pub struct UserData {
    pub teams: Vec<usize>,
    pub level: i64,
    pub email: Option<&'static str>,
}

/// One folder of the data.
#[derive(Clone, Debug)]
pub struct FolderData {
    /// Earlier folders only, so the hierarchy is acyclic.
    pub parents: Vec<usize>,
    pub owner: Option<&'static str>,
}

/// One document of the data.
#[derive(Clone, Debug)]
pub struct DocumentData {
    pub folders: Vec<usize>,
    /// A subject, perhaps one the data does not have.
    pub owner: &'static str,
    pub sensitivity: &'static str,
    pub tags: Vec<&'static str>,
}

/// The resource server's entities.
#[derive(Clone, Debug)]
pub struct World {
    /// Each team's parents, earlier teams only.
    pub teams: Vec<Vec<usize>>,
    /// `None`: the user is not in the data.
    pub users: Vec<Option<UserData>>,
    /// Each bot's groups; `None`: the bot is not in the data.
    pub bots: Vec<Option<Vec<usize>>>,
    pub folders: Vec<FolderData>,
    /// `None`: the document is not in the data.
    pub documents: Vec<Option<DocumentData>>,
}

/// Some of the indices below `i`.
fn earlier(i: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::sample::subsequence((0..i).collect::<Vec<_>>(), 0..=i.min(2))
}

pub fn world() -> impl Strategy<Value = World> {
    let teams: Vec<_> = (0..TEAMS.len()).map(earlier).collect();
    let user = (
        prop::sample::subsequence((0..TEAMS.len()).collect::<Vec<_>>(), 0..=2),
        0i64..4,
        prop::option::of(prop::sample::select(vec![
            "someone@example.com",
            "someone@elsewhere.example",
        ])),
    )
        .prop_map(|(teams, level, email)| UserData {
            teams,
            level,
            email,
        });
    let users = prop::collection::vec(prop::option::weighted(0.85, user), USERS.len());
    let groups = prop::sample::subsequence((0..GROUPS.len()).collect::<Vec<_>>(), 0..=2);
    let bots = prop::collection::vec(prop::option::weighted(0.8, groups), BOTS.len());
    let folders: Vec<_> = (0..FOLDERS.len())
        .map(|i| {
            (
                earlier(i),
                prop::option::of(prop::sample::select(SUBJECTS.to_vec())),
            )
                .prop_map(|(parents, owner)| FolderData { parents, owner })
        })
        .collect();
    let document = (
        prop::sample::subsequence((0..FOLDERS.len()).collect::<Vec<_>>(), 0..=2),
        prop::sample::select(SUBJECTS.to_vec()),
        prop::sample::select(SENSITIVITIES.to_vec()),
        prop::sample::subsequence(TAGS.to_vec(), 0..=2),
    )
        .prop_map(|(folders, owner, sensitivity, tags)| DocumentData {
            folders,
            owner,
            sensitivity,
            tags,
        });
    let documents = prop::collection::vec(prop::option::weighted(0.85, document), DOCUMENTS.len());
    (teams, users, bots, folders, documents).prop_map(|(teams, users, bots, folders, documents)| {
        World {
            teams,
            users,
            bots,
            folders,
            documents,
        }
    })
}

fn entity_json(ty: &str, id: &str) -> Value {
    json!({ "type": format!("Docs::{ty}"), "id": id })
}

fn refs(ty: &str, names: &[&str], indices: &[usize]) -> Vec<Value> {
    indices
        .iter()
        .filter_map(|i| names.get(*i))
        .map(|id| entity_json(ty, id))
        .collect()
}

impl World {
    /// The entities in Cedar's JSON entity format.
    pub fn to_json(&self) -> Value {
        let mut out = Vec::new();
        for (id, parents) in TEAMS.iter().zip(&self.teams) {
            out.push(json!({
                "uid": entity_json("Team", id),
                "attrs": {},
                "parents": refs("Team", &TEAMS, parents),
            }));
        }
        for (id, user) in USERS.iter().zip(&self.users) {
            let Some(user) = user else { continue };
            let mut attrs = Map::new();
            attrs.insert("level".into(), json!(user.level));
            if let Some(email) = user.email {
                attrs.insert("email".into(), json!(email));
            }
            out.push(json!({
                "uid": entity_json("User", id),
                "attrs": attrs,
                "parents": refs("Team", &TEAMS, &user.teams),
            }));
        }
        for id in GROUPS {
            out.push(json!({ "uid": entity_json("BotGroup", id), "attrs": {}, "parents": [] }));
        }
        for (id, groups) in BOTS.iter().zip(&self.bots) {
            let Some(groups) = groups else { continue };
            out.push(json!({
                "uid": entity_json("Bot", id),
                "attrs": {},
                "parents": refs("BotGroup", &GROUPS, groups),
            }));
        }
        for (id, folder) in FOLDERS.iter().zip(&self.folders) {
            let mut attrs = Map::new();
            if let Some(owner) = folder.owner {
                attrs.insert(
                    "owner".into(),
                    json!({ "__entity": entity_json("User", owner) }),
                );
            }
            out.push(json!({
                "uid": entity_json("Folder", id),
                "attrs": attrs,
                "parents": refs("Folder", &FOLDERS, &folder.parents),
            }));
        }
        for (id, document) in DOCUMENTS.iter().zip(&self.documents) {
            let Some(d) = document else { continue };
            out.push(json!({
                "uid": entity_json("Document", id),
                "attrs": {
                    "owner": { "__entity": entity_json("User", d.owner) },
                    "sensitivity": d.sensitivity,
                    "tags": d.tags,
                },
                "parents": refs("Folder", &FOLDERS, &d.folders),
            }));
        }
        Value::Array(out)
    }

    /// The groups the data puts a bot in.
    pub fn groups_of(&self, bot: &str) -> Vec<&'static str> {
        BOTS.iter()
            .zip(&self.bots)
            .find(|(id, _)| **id == bot)
            .and_then(|(_, groups)| groups.as_ref())
            .map(|groups| {
                groups
                    .iter()
                    .filter_map(|i| GROUPS.get(*i).copied())
                    .collect()
            })
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------
// Policies

/// What a policy's scope lets through: the actions, and the resource types.
#[derive(Clone, Debug)]
struct Env {
    actions: Vec<&'static str>,
    documents: bool,
    folders: bool,
}

impl Env {
    /// Whether every action of the scope has this context member.
    fn has(&self, member: &str) -> bool {
        self.actions.iter().all(|a| {
            ACTIONS
                .iter()
                .any(|(name, members)| name == a && members.contains(&member))
        })
    }

    fn only_documents(&self) -> bool {
        self.documents && !self.folders
    }
}

/// The action scopes, with the actions each takes.
const ACTION_SCOPES: [(&str, &[&str]); 8] = [
    ("action", &["read", "edit", "share", "list"]),
    ("action == Docs::Action::\"read\"", &["read"]),
    ("action == Docs::Action::\"edit\"", &["edit"]),
    ("action == Docs::Action::\"share\"", &["share"]),
    ("action == Docs::Action::\"list\"", &["list"]),
    ("action in Docs::Action::\"writes\"", &["edit", "share"]),
    (
        "action in [Docs::Action::\"read\", Docs::Action::\"edit\"]",
        &["read", "edit"],
    ),
    (
        "action in [Docs::Action::\"list\", Docs::Action::\"share\"]",
        &["list", "share"],
    ),
];

/// One random policy.
#[derive(Clone, Debug)]
pub struct DocsPolicy {
    pub permit: bool,
    /// On a forbid: an `@approval` step-up.
    pub approval: bool,
    pub principal: String,
    pub action: &'static str,
    pub resource: String,
    pub conditions: String,
}

fn select<T: Clone + std::fmt::Debug + 'static>(items: &[T]) -> BoxedStrategy<T> {
    prop::sample::select(items.to_vec()).boxed()
}

fn principal_scope() -> BoxedStrategy<String> {
    let bot = || select(&BOTS).prop_map(|b| uid("Bot", b));
    let group = || select(&GROUPS).prop_map(|g| uid("BotGroup", g));
    prop_oneof![
        6 => Just("principal".to_owned()),
        3 => bot().prop_map(|b| format!("principal == {b}")),
        2 => group().prop_map(|g| format!("principal in {g}")),
        1 => bot().prop_map(|b| format!("principal in {b}")),
        1 => Just("principal is Docs::Bot".to_owned()),
        1 => group().prop_map(|g| format!("principal is Docs::Bot in {g}")),
    ]
    .boxed()
}

/// A resource scope for these resource types, and what it lets through.
fn resource_scope(actions: &'static [&'static str]) -> BoxedStrategy<(String, Env)> {
    let (documents, folders) = actions.iter().fold((false, false), |(d, f), a| {
        let (ad, af) = resource_types(a);
        (d || ad, f || af)
    });
    let env = move |documents, folders| Env {
        actions: actions.to_vec(),
        documents,
        folders,
    };
    let mut options: Vec<(u32, BoxedStrategy<(String, Env)>)> = vec![
        (
            4,
            Just(("resource".to_owned(), env(documents, folders))).boxed(),
        ),
        (
            2,
            select(&FOLDERS)
                .prop_map(move |f| {
                    (
                        format!("resource in {}", uid("Folder", f)),
                        env(documents, folders),
                    )
                })
                .boxed(),
        ),
    ];
    if documents {
        options.push((
            2,
            select(&DOCUMENTS)
                .prop_map(move |d| {
                    (
                        format!("resource == {}", uid("Document", d)),
                        env(true, false),
                    )
                })
                .boxed(),
        ));
        options.push((
            1,
            select(&FOLDERS)
                .prop_map(move |f| {
                    (
                        format!("resource is Docs::Document in {}", uid("Folder", f)),
                        env(true, false),
                    )
                })
                .boxed(),
        ));
        if folders {
            options.push((
                1,
                Just(("resource is Docs::Document".to_owned(), env(true, false))).boxed(),
            ));
        }
    }
    if folders {
        options.push((
            2,
            select(&FOLDERS)
                .prop_map(move |f| {
                    (
                        format!("resource == {}", uid("Folder", f)),
                        env(false, true),
                    )
                })
                .boxed(),
        ));
        if documents {
            options.push((
                1,
                Just(("resource is Docs::Folder".to_owned(), env(false, true))).boxed(),
            ));
        }
    }
    Union::new_weighted(options).boxed()
}

/// Overflows, so errors, when the chain has two delegates or more.
pub const OVERFLOW: &str = "principal.depth * 4611686018427387904 > 0";

/// The conditions well typed under `env`, some of which error for some requests.
fn atoms(env: &Env) -> Vec<BoxedStrategy<String>> {
    let team = || select(&TEAMS).prop_map(|t| uid("Team", t));
    let mut out: Vec<BoxedStrategy<String>> = vec![
        team()
            .prop_map(|t| format!("principal.person in {t}"))
            .boxed(),
        select(&SUBJECTS)
            .prop_map(|u| format!("principal.person == {}", uid("User", u)))
            .boxed(),
        // Errors when the person is not in the data.
        (0i64..4)
            .prop_map(|n| format!("principal.person.level > {n}"))
            .boxed(),
        Just(
            "(principal.person has email && principal.person.email like \"*@example.com\")"
                .to_owned(),
        )
        .boxed(),
        (0i64..3)
            .prop_map(|n| format!("principal.depth > {n}"))
            .boxed(),
        Just(OVERFLOW.to_owned()).boxed(),
        select(&AGENTS)
            .prop_map(|b| format!("principal.chain.contains({})", lit(b)))
            .boxed(),
        Just("principal.verified".to_owned()).boxed(),
        select(&SUBJECTS)
            .prop_map(|u| format!("principal.subject == {}", lit(u)))
            .boxed(),
        select(&AGENTS)
            .prop_map(|b| format!("principal.client == {}", lit(b)))
            .boxed(),
        select(&GROUPS)
            .prop_map(|g| format!("principal in {}", uid("BotGroup", g)))
            .boxed(),
        select(&BOTS)
            .prop_map(|b| format!("principal == {}", uid("Bot", b)))
            .boxed(),
        select(&SCOPES)
            .prop_map(|s| format!("context.scopes.contains({})", lit(s)))
            .boxed(),
        select(&AUDIENCES)
            .prop_map(|a| format!("context.audience == {}", lit(a)))
            .boxed(),
        select(&FOLDERS)
            .prop_map(|f| format!("resource in {}", uid("Folder", f)))
            .boxed(),
        Just("(resource has owner && resource.owner == principal.person)".to_owned()).boxed(),
        team()
            .prop_map(|t| format!("(resource has owner && resource.owner in {t})"))
            .boxed(),
    ];
    if env.only_documents() {
        out.extend([
            Just("resource.owner == principal.person".to_owned()).boxed(),
            team()
                .prop_map(|t| format!("resource.owner in {t}"))
                .boxed(),
            select(&SENSITIVITIES)
                .prop_map(|s| format!("resource.sensitivity == {}", lit(s)))
                .boxed(),
            select(&TAGS)
                .prop_map(|t| format!("resource.tags.contains({})", lit(t)))
                .boxed(),
            // Errors when the owner or the person is not in the data.
            Just("resource.owner.level >= principal.person.level".to_owned()).boxed(),
            select(&DOCUMENTS)
                .prop_map(|d| format!("resource == {}", uid("Document", d)))
                .boxed(),
        ]);
    }
    if env.documents && env.folders {
        out.extend([
            Just("resource is Docs::Folder".to_owned()).boxed(),
            Just("resource is Docs::Document".to_owned()).boxed(),
        ]);
    }
    if env.has("purpose") {
        out.extend([
            select(&PURPOSES)
                .prop_map(|p| format!("context.purpose == {}", lit(p)))
                .boxed(),
            Just("context.purpose like \"re*\"".to_owned()).boxed(),
        ]);
    }
    if env.has("at") {
        out.extend([
            select(&[
                "2026-07-01",
                "2026-03-01T12:00:00Z",
                "2026-03-01T12:00:00.500+0100",
            ])
            .prop_map(|t| format!("context.at < datetime(\"{t}\")"))
            .boxed(),
            Just("context.at.toTime() < duration(\"12h\")".to_owned()).boxed(),
            Just(
                "context.at.durationSince(datetime(\"2026-01-01\")) > duration(\"90d\")".to_owned(),
            )
            .boxed(),
            Just("context.at.toDate() == datetime(\"2026-06-15\")".to_owned()).boxed(),
        ]);
    }
    if env.has("pages") {
        out.extend([
            (0i64..8)
                .prop_map(|n| format!("context.pages > {n}"))
                .boxed(),
            // Errors when the request has more than one page.
            Just("context.pages * 4611686018427387904 > 4".to_owned()).boxed(),
            Just("context.pages + principal.depth < 4".to_owned()).boxed(),
        ]);
    }
    if env.has("urgent") {
        out.extend([
            Just("(context has urgent && context.urgent)".to_owned()).boxed(),
            Just("context has urgent".to_owned()).boxed(),
        ]);
    }
    if env.has("labels") {
        out.push(
            select(&TAGS)
                .prop_map(|t| {
                    format!(
                        "(context has labels && context.labels.contains({}))",
                        lit(t)
                    )
                })
                .boxed(),
        );
        if env.only_documents() {
            out.push(
                Just(
                    "(context has labels && resource.tags.containsAny(context.labels))".to_owned(),
                )
                .boxed(),
            );
        }
    }
    if env.has("trip") {
        out.push(Just("(context has trip && context.trip.nights > 2)".to_owned()).boxed());
    }
    if env.has("size") {
        out.push(Just("(context has size && context.size > 100)".to_owned()).boxed());
    }
    if env.has("recipient") {
        out.extend([
            select(&RECIPIENTS)
                .prop_map(|r| format!("context.recipient == {}", lit(r)))
                .boxed(),
            Just("context.recipient == principal.subject".to_owned()).boxed(),
        ]);
    }
    if env.has("until") {
        out.push(Just("(context has until && context.until > context.at)".to_owned()).boxed());
    }
    if env.actions.contains(&"read") && env.actions.len() > 1 {
        out.push(Just("action == Docs::Action::\"read\"".to_owned()).boxed());
    }
    if env.actions.contains(&"edit") && env.actions.len() > 1 {
        out.push(Just("action in Docs::Action::\"writes\"".to_owned()).boxed());
    }
    out
}

/// A condition: atoms joined by `&&`, `||` and `!`.
fn expr(env: &Env) -> BoxedStrategy<String> {
    Union::new(atoms(env))
        .boxed()
        .prop_recursive(2, 6, 2, |inner| {
            prop_oneof![
                2 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} && {b})")),
                2 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} || {b})")),
                1 => inner.prop_map(|a| format!("!({a})")),
            ]
        })
        .boxed()
}

/// A context string equality the index keys, either operand first.
fn keyed_equality(env: &Env) -> BoxedStrategy<String> {
    let mut options: Vec<BoxedStrategy<(&'static str, &'static str)>> =
        vec![select(&AUDIENCES).prop_map(|a| ("audience", a)).boxed()];
    if env.has("purpose") {
        options.push(select(&PURPOSES).prop_map(|p| ("purpose", p)).boxed());
    }
    if env.has("recipient") {
        options.push(select(&RECIPIENTS).prop_map(|r| ("recipient", r)).boxed());
    }
    (Union::new(options), any::<bool>())
        .prop_map(|((member, text), flipped)| {
            if flipped {
                format!("{} == context.{member}", lit(text))
            } else {
                format!("context.{member} == {}", lit(text))
            }
        })
        .boxed()
}

/// The `when` and `unless` clauses of a policy: none, plain ones, or ones starting with
/// a keyed context equality (and the same equality where it is not keyed).
fn conditions(env: &Env) -> BoxedStrategy<String> {
    let e = || expr(env);
    let eq = || keyed_equality(env);
    prop_oneof![
        2 => Just(String::new()),
        3 => e().prop_map(|x| format!("when {{ {x} }}")),
        1 => e().prop_map(|x| format!("unless {{ {x} }}")),
        1 => eq().prop_map(|q| format!("when {{ {q} }}")),
        2 => (eq(), e()).prop_map(|(q, x)| format!("when {{ {q} && {x} }}")),
        1 => (eq(), e(), e()).prop_map(|(q, x, y)| format!("when {{ {q} && {x} }} unless {{ {y} }}")),
        1 => (e(), eq()).prop_map(|(x, q)| format!("when {{ {x} && {q} }}")),
        1 => (e(), eq()).prop_map(|(x, q)| format!("unless {{ {x} }} when {{ {q} }}")),
        1 => (e(), e()).prop_map(|(x, y)| format!("when {{ {x} }} unless {{ {y} }}")),
    ]
    .boxed()
}

/// One policy, well typed for every action its scope takes.
pub fn policy() -> impl Strategy<Value = DocsPolicy> {
    (
        select(&ACTION_SCOPES),
        principal_scope(),
        prop::bool::weighted(0.65),
        prop::bool::weighted(0.5),
    )
        .prop_flat_map(|((action, actions), principal, permit, approval)| {
            resource_scope(actions).prop_flat_map(move |(resource, env)| {
                let principal = principal.clone();
                conditions(&env).prop_map(move |conditions| DocsPolicy {
                    permit,
                    approval: approval && !permit,
                    principal: principal.clone(),
                    action,
                    resource: resource.clone(),
                    conditions,
                })
            })
        })
}

/// The policies as one `.cedar` file, with ids `p0`, `p1`, ...
pub fn policy_text(policies: &[DocsPolicy]) -> String {
    let mut out = String::new();
    for (i, p) in policies.iter().enumerate() {
        let effect = if p.permit { "permit" } else { "forbid" };
        let note = if p.approval {
            "@approval(\"the owner approves\")\n"
        } else {
            ""
        };
        out.push_str(&format!(
            "@id(\"p{i}\")\n{note}{effect} ({}, {}, {})\n{};\n\n",
            p.principal, p.action, p.resource, p.conditions
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------
// Transactions

/// A date-time as a transaction sends it: a date, perhaps with a time, milliseconds and
/// an offset from UTC.
#[derive(Clone, Copy, Debug)]
pub struct Moment {
    pub month: u8,
    pub day: u8,
    /// `(hour, minute, second, milliseconds, offset in minutes)`.
    pub time: Option<(u8, u8, u8, Option<u16>, i16)>,
}

impl Moment {
    fn parts(&self, colon: bool) -> String {
        let mut out = format!("2026-{:02}-{:02}", self.month, self.day);
        if let Some((h, m, s, ms, offset)) = self.time {
            out.push_str(&format!("T{h:02}:{m:02}:{s:02}"));
            if let Some(ms) = ms {
                out.push_str(&format!(".{ms:03}"));
            }
            if offset == 0 {
                out.push('Z');
            } else {
                let sign = if offset < 0 { '-' } else { '+' };
                let abs = offset.unsigned_abs();
                let sep = if colon { ":" } else { "" };
                out.push_str(&format!("{sign}{:02}{sep}{:02}", abs / 60, abs % 60));
            }
        }
        out
    }

    /// As RFC 3339 (`2026-03-01T10:30:00.250+01:00`), or a full date.
    pub fn rfc3339(&self) -> String {
        self.parts(true)
    }

    /// As Cedar's `datetime` reads it (`2026-03-01T10:30:00.250+0100`): Cedar works out
    /// the instant itself.
    pub fn cedar(&self) -> String {
        self.parts(false)
    }
}

pub fn moment() -> impl Strategy<Value = Moment> {
    let time = (
        0u8..24,
        0u8..60,
        0u8..60,
        prop::option::of(0u16..1000),
        prop::sample::select(vec![0i16, 0, 60, -330, 840, -720]),
    );
    (1u8..=12, 1u8..=28, prop::option::weighted(0.85, time)).prop_map(|(month, day, time)| Moment {
        month,
        day,
        time,
    })
}

/// How a transaction names its resource.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// No identifier: the audience.
    Audience,
    /// The identifier is a plain id.
    Plain(&'static str),
    /// The identifier is `Docs::<type>::"<id>"`.
    Typed(&'static str, &'static str),
}

/// One random transaction of one step.
#[derive(Clone, Debug)]
pub struct DocsRequest {
    pub action: &'static str,
    pub client: &'static str,
    pub chain: Vec<&'static str>,
    pub subject: &'static str,
    pub scopes: Vec<&'static str>,
    pub audience: &'static str,
    pub verified: bool,
    pub target: Target,
    pub purpose: &'static str,
    pub at: Moment,
    pub pages: i64,
    pub urgent: Option<bool>,
    pub labels: Option<Vec<&'static str>>,
    pub size: Option<i64>,
    pub recipient: &'static str,
    pub until: Option<Moment>,
}

/// The documents requests name: those of the data, and one it never has.
const REQUEST_DOCUMENTS: [&str; 5] = ["d0", "d1", "d2", "dé 3", "d9"];
/// The folders requests name: those of the data, one it never has, and one with the id
/// of a document.
const REQUEST_FOLDERS: [&str; 6] = ["f0", "f1", "f2", "f3", "f9", "d0"];

fn target(action: &'static str) -> BoxedStrategy<Target> {
    let document = || select(&REQUEST_DOCUMENTS);
    let folder = || select(&REQUEST_FOLDERS);
    match action {
        "read" => prop_oneof![
            1 => Just(Target::Audience),
            4 => document().prop_map(Target::Plain),
            2 => document().prop_map(|d| Target::Typed("Document", d)),
            // Another type's `Type::"id"` is a plain id of the one type.
            1 => folder().prop_map(|f| Target::Typed("Folder", f)),
        ]
        .boxed(),
        "list" => Just(Target::Audience).boxed(),
        _ => prop_oneof![
            document().prop_map(|d| Target::Typed("Document", d)),
            folder().prop_map(|f| Target::Typed("Folder", f)),
        ]
        .boxed(),
    }
}

pub fn request() -> impl Strategy<Value = DocsRequest> {
    let who = (
        select(&AGENTS),
        prop::sample::subsequence(AGENTS.to_vec(), 0..=2),
        select(&SUBJECTS),
        prop::sample::subsequence(SCOPES.to_vec(), 0..=3),
        select(&AUDIENCES),
        any::<bool>(),
    );
    let fields = (
        select(&PURPOSES),
        moment(),
        prop_oneof![Just(0i64), Just(1), Just(3), Just(7), Just(-2)],
        prop::option::of(any::<bool>()),
        prop::option::of(prop::sample::subsequence(TAGS.to_vec(), 0..=2)),
        prop::option::of(prop_oneof![Just(50i64), Just(500)]),
        select(&RECIPIENTS),
        prop::option::of(moment()),
    );
    (select(&["read", "edit", "share", "list"]), who, fields).prop_flat_map(
        |(action, who, fields)| {
            target(action).prop_map(move |target| {
                let (client, chain, subject, scopes, audience, verified) = who.clone();
                let (purpose, at, pages, urgent, labels, size, recipient, until) = fields.clone();
                DocsRequest {
                    action,
                    client,
                    chain,
                    subject,
                    scopes,
                    audience,
                    verified,
                    target,
                    purpose,
                    at,
                    pages,
                    urgent,
                    labels,
                    size,
                    recipient,
                    until,
                }
            })
        },
    )
}

impl DocsRequest {
    /// The acting agent: the last delegate, else the client.
    pub fn agent(&self) -> &'static str {
        self.chain.last().copied().unwrap_or(self.client)
    }

    pub fn scopes(&self) -> Vec<String> {
        self.scopes.iter().map(|s| (*s).to_owned()).collect()
    }

    pub fn chain(&self) -> Vec<String> {
        self.chain.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The RFC 9396 details the transaction sends.
    pub fn details(&self) -> Option<TransactionDetails> {
        let kind = match self.action {
            "read" | "edit" => "doc",
            "share" => "share",
            _ => return None,
        };
        let mut d = TransactionDetails::new(kind)
            .with("purpose", self.purpose)
            .with("at", self.at.rfc3339());
        match self.action {
            "read" => {
                d = d.field("pages", FieldValue::Long(self.pages));
                if let Some(urgent) = self.urgent {
                    d = d.field("urgent", FieldValue::Bool(urgent));
                }
                if let Some(labels) = &self.labels {
                    let labels = labels.iter().map(|l| (*l).to_owned()).collect();
                    d = d.field("labels", FieldValue::List(labels));
                }
            }
            "edit" => {
                if let Some(size) = self.size {
                    d = d.field("size", FieldValue::Long(size));
                }
            }
            _ => {
                d = d.with("recipient", self.recipient);
                if let Some(until) = self.until {
                    d = d.with("until", until.rfc3339());
                }
            }
        }
        match self.target {
            Target::Audience => {}
            Target::Plain(id) => d = d.with("identifier", id),
            Target::Typed(ty, id) => d = d.with("identifier", uid(ty, id)),
        }
        Some(d)
    }

    /// The Cedar resource the transaction acts on, as `(type, id)`: the one resource type
    /// of `read` and `list` with the identifier (else the audience) as its id, or the type
    /// the identifier names.
    pub fn resource(&self) -> (&'static str, String) {
        match (self.action, self.target) {
            ("list", Target::Audience) => ("Folder", self.audience.to_owned()),
            (_, Target::Audience) => ("Document", self.audience.to_owned()),
            (_, Target::Plain(id)) => ("Document", id.to_owned()),
            ("read", Target::Typed("Document", id)) => ("Document", id.to_owned()),
            ("read", Target::Typed(ty, id)) => ("Document", uid(ty, id)),
            (_, Target::Typed(ty, id)) => (ty, id.to_owned()),
        }
    }

    /// The Cedar context: `audience`, `scopes` and the details' members, each as the
    /// schema types it.
    pub fn cedar_context(&self) -> Vec<(String, RestrictedExpression)> {
        let string = |s: &str| RestrictedExpression::new_string(s.to_owned());
        let strings =
            |items: &[&str]| RestrictedExpression::new_set(items.iter().map(|s| string(s)));
        let mut out = vec![
            ("audience".to_owned(), string(self.audience)),
            ("scopes".to_owned(), strings(&self.scopes)),
        ];
        if self.action == "list" {
            return out;
        }
        out.push(("purpose".into(), string(self.purpose)));
        out.push((
            "at".into(),
            RestrictedExpression::new_datetime(self.at.cedar()),
        ));
        match self.action {
            "read" => {
                out.push(("pages".into(), RestrictedExpression::new_long(self.pages)));
                if let Some(urgent) = self.urgent {
                    out.push(("urgent".into(), RestrictedExpression::new_bool(urgent)));
                }
                if let Some(labels) = &self.labels {
                    out.push(("labels".into(), strings(labels)));
                }
            }
            "edit" => {
                if let Some(size) = self.size {
                    out.push(("size".into(), RestrictedExpression::new_long(size)));
                }
            }
            _ => {
                out.push(("recipient".into(), string(self.recipient)));
                if let Some(until) = self.until {
                    out.push((
                        "until".into(),
                        RestrictedExpression::new_datetime(until.cedar()),
                    ));
                }
            }
        }
        out
    }
}
