//! Random policy sets over the bundled schema, shared by the index tests
//! (`tests/index.rs` and the unit tests of `src/index.rs`).
//!
//! Policies are shared or name an agent (`principal == ...`) or a resource
//! (`resource == ...`), and their conditions may start with a context string equality
//! (`context.<attr> == "..."` or `"..." == context.<attr>`, for `audience`, `recipient`
//! and `currency`) followed by conditions that error for some requests, or hold the same
//! equality where it is not the leftmost conjunct of the first `when` (which must not be
//! indexed).

#![allow(
    dead_code,
    reason = "shared by two test targets, each using part of it"
)]

use proptest::prelude::*;

pub const ACTIONS: [&str; 7] = [
    "pay_invoice",
    "read_calendar",
    "list_files",
    "read_file",
    "write_file",
    "send_email",
    "delete_file",
];
pub const AGENTS: [&str; 3] = ["agent-0", "agent-1", "agent-2"];
/// The agents requests come from: those the policies may name, and one no policy names.
pub const REQUEST_AGENTS: [&str; 4] = ["agent-0", "agent-1", "agent-2", "agent-9"];
pub const SCOPES: [&str; 3] = ["payments:write", "files:read", "mail:send"];
pub const RESOURCES: [&str; 2] = ["res-0", "res-1"];
/// The resources requests name: those the policies may name, and one no policy names.
pub const REQUEST_RESOURCES: [&str; 3] = ["res-0", "res-1", "res-9"];
pub const AUDIENCES: [&str; 2] = ["https://pay.example.com", "https://mail.example.com"];
pub const REQUEST_AUDIENCES: [&str; 3] = [
    "https://pay.example.com",
    "https://mail.example.com",
    "https://other.example",
];
pub const RECIPIENTS: [&str; 2] = ["alice@example.com", "bob@example.com"];
pub const REQUEST_RECIPIENTS: [&str; 3] =
    ["alice@example.com", "bob@example.com", "carol@example.com"];
pub const CURRENCIES: [&str; 2] = ["USD", "EUR"];
pub const REQUEST_CURRENCIES: [&str; 3] = ["USD", "EUR", "GBP"];
pub const AMOUNTS: [&str; 2] = ["30.00", "50.00"];

/// Overflows, so errors, when the chain has two delegates or more.
pub const OVERFLOW: &str = "principal.depth * 4611686018427387904 > 0";

/// One random policy.
#[derive(Clone, Debug)]
pub struct RandomPolicy {
    pub permit: bool,
    /// On a forbid: an `@approval` step-up.
    pub approval: bool,
    pub principal: String,
    pub action: String,
    pub resource: String,
    /// `when` / `unless` clauses, possibly none.
    pub conditions: String,
}

/// A request's value for a context field: a string, missing, or not a string.
#[derive(Clone, Copy, Debug)]
pub enum Field {
    Str(&'static str),
    Absent,
    Long,
}

/// A field that is mostly a string among `values`, sometimes missing or a number.
pub fn field(values: &'static [&'static str]) -> impl Strategy<Value = Field> {
    prop_oneof![
        6 => prop::sample::select(values).prop_map(Field::Str),
        1 => Just(Field::Absent),
        1 => Just(Field::Long),
    ]
}

fn action_scope() -> impl Strategy<Value = String> {
    let one = prop::sample::select(ACTIONS.to_vec());
    prop_oneof![
        Just("action".to_owned()),
        one.clone()
            .prop_map(|a| format!("action == Action::\"{a}\"")),
        prop::collection::vec(one, 1..3).prop_map(|v| {
            let list: Vec<String> = v.iter().map(|a| format!("Action::\"{a}\"")).collect();
            format!("action in [{}]", list.join(", "))
        }),
    ]
}

fn principal_scope() -> impl Strategy<Value = String> {
    let agent = prop::sample::select(AGENTS.to_vec());
    prop_oneof![
        3 => Just("principal".to_owned()),
        1 => agent
            .clone()
            .prop_map(|a| format!("principal == Agent::\"{a}\"")),
        1 => agent
            .clone()
            .prop_map(|a| format!("principal in Agent::\"{a}\"")),
        1 => Just("principal is Agent".to_owned()),
        1 => agent.prop_map(|a| format!("principal is Agent in Agent::\"{a}\"")),
    ]
}

fn resource_scope() -> impl Strategy<Value = String> {
    let resource = prop::sample::select(RESOURCES.to_vec());
    prop_oneof![
        3 => Just("resource".to_owned()),
        2 => resource
            .clone()
            .prop_map(|r| format!("resource == Resource::\"{r}\"")),
        1 => resource.prop_map(|r| format!("resource in Resource::\"{r}\"")),
        1 => Just("resource is Resource".to_owned()),
    ]
}

/// An expression valid for every action; [`OVERFLOW`] errors for some requests.
fn any_expr() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(SCOPES.to_vec())
            .prop_map(|s| format!("context.scopes.contains(\"{s}\")")),
        (0i64..3).prop_map(|d| format!("principal.depth > {d}")),
        prop::sample::select(AGENTS.to_vec())
            .prop_map(|a| format!("principal.chain.contains(\"{a}\")")),
        Just(OVERFLOW.to_owned()),
    ]
}

/// An expression valid for `pay_invoice`: [`any_expr`] or a decimal comparison (which
/// errors when the context has no `amount`).
fn payment_expr() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => any_expr(),
        1 => prop::sample::select(AMOUNTS.to_vec())
            .prop_map(|a| format!("context.amount.greaterThan(decimal(\"{a}\"))")),
        1 => Just("context.amount.lessThanOrEqual(decimal(\"40.00\"))".to_owned()),
    ]
}

/// The conditions of a policy that reads no transaction field.
fn plain_conditions() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        any_expr().prop_map(|e| format!("when {{ {e} }}")),
        any_expr().prop_map(|e| format!("unless {{ {e} }}")),
    ]
}

/// `(attribute, values, action scopes)`: a context string and the action scopes whose
/// contexts all have it.
fn context_attr() -> impl Strategy<Value = (&'static str, &'static str, String)> {
    let recipient_actions = prop::sample::select(vec![
        "action == Action::\"pay_invoice\"",
        "action == Action::\"send_email\"",
        "action in [Action::\"pay_invoice\", Action::\"send_email\"]",
    ]);
    prop_oneof![
        (prop::sample::select(AUDIENCES.to_vec()), action_scope())
            .prop_map(|(v, a)| ("audience", v, a)),
        (prop::sample::select(RECIPIENTS.to_vec()), recipient_actions).prop_map(|(v, a)| (
            "recipient",
            v,
            a.to_owned()
        )),
        prop::sample::select(CURRENCIES.to_vec()).prop_map(|v| (
            "currency",
            v,
            "action == Action::\"pay_invoice\"".to_owned()
        )),
    ]
}

/// An action scope and conditions holding a context string equality: leftmost in the
/// first `when` (shapes 0 to 4, indexed) or elsewhere (shapes 5 to 9, not indexed).
fn context_policy_body() -> impl Strategy<Value = (String, String)> {
    (
        context_attr(),
        any::<bool>(),
        0u8..10,
        payment_expr(),
        payment_expr(),
    )
        .prop_map(|((attr, value, action), flipped, shape, x, y)| {
            let eq = if flipped {
                format!("\"{value}\" == context.{attr}")
            } else {
                format!("context.{attr} == \"{value}\"")
            };
            // The decimal comparisons are valid only where every action is `pay_invoice`.
            let payment_only = attr == "currency";
            let fit = |e: String| {
                if payment_only || !e.contains("amount") {
                    e
                } else {
                    OVERFLOW.to_owned()
                }
            };
            let (x, y) = (fit(x), fit(y));
            let conditions = match shape {
                0 => format!("when {{ {eq} }}"),
                1 => format!("when {{ {eq} && {x} }}"),
                2 => format!("when {{ {eq} && {x} && {y} }}"),
                3 => format!("when {{ {eq} && ({x} || {y}) }} unless {{ {y} }}"),
                4 => format!("when {{ ({eq}) }} when {{ {x} }}"),
                5 => format!("when {{ {x} && {eq} }}"),
                6 => format!("when {{ {x} || {eq} }}"),
                7 => format!("unless {{ {x} }} when {{ {eq} }}"),
                8 => format!("unless {{ {eq} }}"),
                _ => format!("when {{ {x} }} when {{ {eq} }}"),
            };
            (action, conditions)
        })
}

/// One policy: effect, scope, conditions; forbids are sometimes approval step-ups.
pub fn policy() -> impl Strategy<Value = RandomPolicy> {
    let body = prop_oneof![(action_scope(), plain_conditions()), context_policy_body(),];
    (
        any::<bool>(),
        any::<bool>(),
        principal_scope(),
        resource_scope(),
        body,
    )
        .prop_map(
            |(permit, approval, principal, resource, (action, conditions))| RandomPolicy {
                permit,
                approval,
                principal,
                action,
                resource,
                conditions,
            },
        )
}

/// The policies as one `.cedar` file, with ids `p0`, `p1`, ...
pub fn policy_text(policies: &[RandomPolicy]) -> String {
    let mut out = String::new();
    for (i, p) in policies.iter().enumerate() {
        let effect = if p.permit { "permit" } else { "forbid" };
        let note = if !p.permit && p.approval {
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
