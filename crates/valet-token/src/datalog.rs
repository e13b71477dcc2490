//! The Datalog of a valet block (token format 2): each thing a block grants or narrows is
//! one check of a fixed shape, built here as Biscuit builder terms (no parsing), in a
//! fixed order. Reading a token recognises the same shapes back ([`crate::read`]): a
//! check is taken to mean what its shape says only when building that meaning again gives
//! the very same check, so what the claims and messages say is what the checks enforce.

use std::collections::BTreeSet;

use biscuit_auth::builder::{
    self as bb, Binary, BlockBuilder, CheckKind as Kind, Expression, Op, Predicate, Rule, Term,
    Unary,
};

use crate::authorization::AuthorizationDetail;
use crate::block::BlockSpec;
use crate::error::TokenError;
use crate::facts::name;
use crate::limit::Limit;
use crate::shape::CheckKind;

/// The facts a valet block may state about itself (the authority block the first four,
/// an attenuation block `delegate`).
pub(crate) mod fact {
    pub const SUBJECT: &str = "subject";
    pub const CLIENT: &str = "client";
    pub const TOKEN_ID: &str = "token_id";
    pub const DATATYPES: &str = "datatypes";
    pub const PRIVILEGES: &str = "privileges";
    pub const DELEGATE: &str = "delegate";
}

/// The checks of a block at `index`, in the order they are written.
pub(crate) fn check_kinds(spec: &BlockSpec, index: usize) -> Vec<CheckKind> {
    let mut kinds = Vec::new();
    match (spec.nbf, spec.exp) {
        (Some(not_before), Some(expiry)) => kinds.push(CheckKind::Validity { not_before, expiry }),
        (None, Some(exp)) => kinds.push(CheckKind::Expiry(exp)),
        (Some(nbf), None) => kinds.push(CheckKind::NotBefore(nbf)),
        (None, None) => {}
    }
    if let Some(aud) = &spec.aud {
        kinds.push(CheckKind::Audience(aud.clone()));
    }
    // The authority block always bounds scopes (no scope granted means none may be used).
    if let Some(scope) = &spec.scope {
        kinds.push(CheckKind::Scope(scope.clone()));
    }
    if !spec.details.is_empty() {
        kinds.push(CheckKind::Grant(spec.details.clone()));
    }
    kinds.extend(spec.limits.iter().cloned().map(CheckKind::FieldLimit));
    kinds.extend(spec.actions.iter().cloned().map(CheckKind::Actions));
    if let Some(d) = spec.max_depth {
        kinds.push(CheckKind::Depth(index as u64 + 1 + u64::from(d)));
    }
    if let Some(holder) = spec.holder {
        kinds.push(CheckKind::Holder(holder));
    }
    kinds
}

fn var(name: &str) -> Term {
    Term::Variable(name.to_owned())
}

fn text(s: &str) -> Term {
    Term::Str(s.to_owned())
}

fn text_set<'a, I: IntoIterator<Item = &'a str>>(items: I) -> Term {
    Term::Set(items.into_iter().map(text).collect())
}

fn pred(name: &str, terms: Vec<Term>) -> Predicate {
    Predicate {
        name: name.to_owned(),
        terms,
    }
}

/// `left <op> right` as an expression.
fn compare(left: Term, op: Binary, right: Term) -> Expression {
    Expression {
        ops: vec![Op::Value(left), Op::Value(right), Op::Binary(op)],
    }
}

/// `{set}.contains(item)`, negated when `negate`.
fn contains(set: Term, item: Term, negate: bool) -> Expression {
    let mut ops = vec![
        Op::Value(set),
        Op::Value(item),
        Op::Binary(Binary::Contains),
    ];
    if negate {
        ops.push(Op::Unary(Unary::Negate));
    }
    Expression { ops }
}

/// One alternative of a check, as Biscuit's parser builds it (`query()` as its head).
fn query(body: Vec<Predicate>, expressions: Vec<Expression>) -> Rule {
    Rule {
        head: pred("query", Vec::new()),
        body,
        expressions,
        parameters: None,
        scopes: Vec::new(),
        scope_parameters: None,
    }
}

fn check(kind: Kind, queries: Vec<Rule>) -> bb::Check {
    bb::Check { queries, kind }
}

fn date(secs: u64) -> Term {
    Term::Date(secs)
}

/// A detail-typed narrowing: passes for a request of another type (a request without
/// details is of type `""`), else when `last` holds.
fn typed(kind: &str, last: Rule) -> bb::Check {
    check(
        Kind::One,
        vec![
            query(
                vec![pred(name::DETAIL, vec![var("v")])],
                vec![compare(var("v"), Binary::NotEqual, text(kind))],
            ),
            last,
        ],
    )
}

/// The body and expressions that admit a field's value under `limit`, on variable `v`. A
/// grant's range always states its lowest value (zero without a `min`); a block's states
/// its `min` only when it has one (see [`Attenuation`](crate::attenuation::Attenuation)).
fn limit_terms(field: &str, limit: &Limit, v: &str, grant: bool) -> (Predicate, Vec<Expression>) {
    match limit {
        Limit::Range { min, max } => {
            let floor = if grant { limit.lowest() } else { *min };
            let mut exprs: Vec<Expression> = floor
                .map(|low| compare(var(v), Binary::GreaterOrEqual, Term::Integer(low.scaled())))
                .into_iter()
                .collect();
            if let Some(max) = max {
                exprs.push(compare(
                    var(v),
                    Binary::LessOrEqual,
                    Term::Integer(max.scaled()),
                ));
            }
            (pred(name::DECIMAL, vec![text(field), var(v)]), exprs)
        }
        Limit::OneOf(set) => (
            pred(name::FIELD, vec![text(field), var(v)]),
            vec![contains(
                text_set(set.iter().map(String::as_str)),
                var(v),
                false,
            )],
        ),
    }
}

/// The check `kind` is written as.
pub(crate) fn check_of(kind: &CheckKind) -> bb::Check {
    let time = || vec![pred(name::TIME, vec![var("v")])];
    match kind {
        CheckKind::Validity { not_before, expiry } => check(
            Kind::One,
            vec![query(
                time(),
                vec![
                    compare(var("v"), Binary::GreaterOrEqual, date(*not_before)),
                    compare(var("v"), Binary::LessOrEqual, date(*expiry)),
                ],
            )],
        ),
        CheckKind::Expiry(exp) => check(
            Kind::One,
            vec![query(
                time(),
                vec![compare(var("v"), Binary::LessOrEqual, date(*exp))],
            )],
        ),
        CheckKind::NotBefore(nbf) => check(
            Kind::One,
            vec![query(
                time(),
                vec![compare(var("v"), Binary::GreaterOrEqual, date(*nbf))],
            )],
        ),
        CheckKind::Audience(aud) => check(
            Kind::One,
            aud.iter()
                .map(|a| query(vec![pred(name::AUDIENCE, vec![text(a.as_str())])], vec![]))
                .collect(),
        ),
        CheckKind::Scope(scopes) => {
            let body = vec![pred(name::SCOPE, vec![var("v")])];
            let exprs = if scopes.is_empty() {
                vec![]
            } else {
                vec![contains(
                    text_set(scopes.iter().map(|s| s.as_str())),
                    var("v"),
                    true,
                )]
            };
            check(Kind::Reject, vec![query(body, exprs)])
        }
        CheckKind::Grant(grants) => grant_check(grants),
        CheckKind::FieldLimit(l) => {
            let (body, exprs) = limit_terms(&l.field, &l.limit, "v", false);
            typed(&l.kind, query(vec![body], exprs))
        }
        CheckKind::Actions(a) => typed(
            &a.kind,
            query(
                vec![pred(name::ACTION, vec![var("v")])],
                vec![contains(
                    text_set(a.actions.iter().map(String::as_str)),
                    var("v"),
                    false,
                )],
            ),
        ),
        CheckKind::Depth(max) => check(
            Kind::One,
            vec![query(
                vec![pred(name::BLOCKS, vec![var("v")])],
                vec![compare(
                    var("v"),
                    Binary::LessOrEqual,
                    Term::Integer(i64::try_from(*max).unwrap_or(i64::MAX)),
                )],
            )],
        ),
        CheckKind::Holder(key) => check(
            Kind::One,
            vec![query(
                vec![pred(
                    name::HOLDER,
                    vec![Term::Bytes(key.to_bytes().to_vec())],
                )],
                vec![],
            )],
        ),
    }
}

/// The root grant: a request without details passes unless its action is one a grant
/// lists; a request with details passes when one grant of its type admits it.
fn grant_check(grants: &[AuthorizationDetail]) -> bb::Check {
    let mut queries = Vec::with_capacity(grants.len() + 1);
    let all_actions: BTreeSet<&str> = grants
        .iter()
        .flat_map(|g| g.actions.iter().map(String::as_str))
        .collect();
    let no_details = pred(name::DETAIL, vec![text("")]);
    if all_actions.is_empty() {
        queries.push(query(vec![no_details], vec![]));
    } else {
        queries.push(query(
            vec![no_details, pred(name::ACTION, vec![var("v")])],
            vec![contains(text_set(all_actions), var("v"), true)],
        ));
    }
    for grant in grants {
        let mut body = vec![pred(name::DETAIL, vec![text(&grant.kind)])];
        let mut exprs = Vec::new();
        if !grant.actions.is_empty() {
            body.push(pred(name::ACTION, vec![var("v")]));
            exprs.push(contains(
                text_set(grant.actions.iter().map(String::as_str)),
                var("v"),
                false,
            ));
        }
        if !grant.locations.is_empty() {
            body.push(pred(name::AUDIENCE, vec![var("w")]));
            exprs.push(contains(
                text_set(grant.locations.iter().map(String::as_str)),
                var("w"),
                false,
            ));
        }
        if let Some(id) = &grant.identifier {
            body.push(pred(name::FIELD, vec![text("identifier"), text(id)]));
        }
        for (k, (field, limit)) in grant.limits.iter().enumerate() {
            // Each limit its own variable: `$v` (the action's, if any, is bound first and
            // equal for every alternative), then `$v1`, `$v2`...
            let v = limit_var(k + usize::from(!grant.actions.is_empty()));
            let (p, e) = limit_terms(field, limit, &v, true);
            body.push(p);
            exprs.extend(e);
        }
        queries.push(query(body, exprs));
    }
    check(Kind::One, queries)
}

/// The variable of the `k`th value a grant's alternative binds.
fn limit_var(k: usize) -> String {
    if k == 0 {
        "v".to_owned()
    } else {
        format!("v{k}")
    }
}

/// The facts a block states about itself, in the order they are written.
pub(crate) fn facts_of(spec: &BlockSpec) -> Vec<bb::Fact> {
    let mut facts = Vec::new();
    let mut one = |name: &str, terms: Vec<Term>| {
        facts.push(bb::Fact {
            predicate: pred(name, terms),
            parameters: None,
        });
    };
    if let Some(s) = &spec.sub {
        one(fact::SUBJECT, vec![text(s)]);
    }
    if let Some(c) = &spec.client {
        one(fact::CLIENT, vec![text(c)]);
    }
    if let Some(j) = &spec.jti {
        one(fact::TOKEN_ID, vec![text(j)]);
    }
    for (g, grant) in spec.details.iter().enumerate() {
        let g = Term::Integer(i64::try_from(g).unwrap_or(i64::MAX));
        if !grant.datatypes.is_empty() {
            one(
                fact::DATATYPES,
                vec![
                    g.clone(),
                    text_set(grant.datatypes.iter().map(String::as_str)),
                ],
            );
        }
        if !grant.privileges.is_empty() {
            one(
                fact::PRIVILEGES,
                vec![g, text_set(grant.privileges.iter().map(String::as_str))],
            );
        }
    }
    if let Some(d) = &spec.delegate {
        one(fact::DELEGATE, vec![text(d)]);
    }
    facts
}

/// The facts and checks of a block at `index`: its own, then its raw checks.
pub(crate) fn block_builder(spec: &BlockSpec, index: usize) -> Result<BlockBuilder, TokenError> {
    let dl = |e: biscuit_auth::error::Token| TokenError::Datalog(e.to_string());
    let mut b = BlockBuilder::new();
    for f in facts_of(spec) {
        b = b.fact(f).map_err(dl)?;
    }
    for kind in check_kinds(spec, index) {
        b = b.check(check_of(&kind)).map_err(dl)?;
    }
    for text in &spec.checks {
        b = b.check(text.as_str()).map_err(|e| {
            TokenError::Datalog(format!(
                "`{text}` is not one Datalog check (write `check if ...`): {e}"
            ))
        })?;
    }
    Ok(b)
}
