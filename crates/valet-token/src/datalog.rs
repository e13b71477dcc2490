//! The Datalog each block carries, generated from its [`BlockSpec`] in a fixed order, so a
//! failed check (block, index) can be explained in words.

use std::collections::{BTreeSet, HashMap};

use biscuit_auth::builder::{BlockBuilder, Term};

use crate::audience::Audience;
use crate::authorization::{ActionLimit, AuthorizationDetail, FieldLimit};
use crate::block::BlockSpec;
use crate::details::Decimal;
use crate::error::TokenError;
use crate::limit::Limit;
use crate::scope::Scope;

/// What a generated check enforces.
#[derive(Debug)]
pub(crate) enum CheckKind<'a> {
    Expiry(u64),
    NotBefore(u64),
    Audience(&'a BTreeSet<Audience>),
    Scope(&'a BTreeSet<Scope>),
    Grant(&'a [AuthorizationDetail]),
    FieldLimit(&'a FieldLimit),
    Actions(&'a ActionLimit),
    Depth(u64),
    Holder(&'a crate::agent_keys::VerifyingKey),
    Raw(&'a str),
}

type Params = HashMap<String, Term>;

fn str_set<'a, I: IntoIterator<Item = &'a str>>(items: I) -> Term {
    Term::Set(items.into_iter().map(|s| Term::Str(s.to_owned())).collect())
}

/// The checks of a block at `index`, in order. The raw checks come last.
pub(crate) fn check_kinds(spec: &BlockSpec, index: usize) -> Vec<CheckKind<'_>> {
    let mut kinds = Vec::new();
    if let Some(exp) = spec.exp {
        kinds.push(CheckKind::Expiry(exp));
    }
    if let Some(nbf) = spec.nbf {
        kinds.push(CheckKind::NotBefore(nbf));
    }
    if let Some(aud) = &spec.aud {
        kinds.push(CheckKind::Audience(aud));
    }
    // The authority block always bounds scopes (no scope granted means none may be used).
    if let Some(scope) = &spec.scope {
        kinds.push(CheckKind::Scope(scope));
    }
    if !spec.details.is_empty() {
        kinds.push(CheckKind::Grant(&spec.details));
    }
    kinds.extend(spec.limits.iter().map(CheckKind::FieldLimit));
    kinds.extend(spec.actions.iter().map(CheckKind::Actions));
    if let Some(d) = spec.max_depth {
        kinds.push(CheckKind::Depth(index as u64 + 1 + u64::from(d)));
    }
    // Holder binding comes after every kind older tokens carry, so their check indices
    // (which explain refusals) are unchanged.
    if let Some(holder) = &spec.holder {
        kinds.push(CheckKind::Holder(holder));
    }
    kinds.extend(spec.checks.iter().map(|c| CheckKind::Raw(c.as_str())));
    kinds
}

/// How a check is written: as this version generates it, or as tokens minted before limits
/// had lower bounds were (a `max` alone as `$v <= max`, with no floor at zero).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Current,
    BeforeLowerBounds,
}

fn code(kind: &CheckKind<'_>) -> (String, Params) {
    code_in(kind, Form::Current)
}

fn code_in(kind: &CheckKind<'_>, form: Form) -> (String, Params) {
    let mut p = Params::new();
    let code = match kind {
        CheckKind::Expiry(exp) => {
            p.insert("exp".into(), Term::Date(*exp));
            "check if time($t), $t <= {exp}".to_owned()
        }
        CheckKind::NotBefore(nbf) => {
            p.insert("nbf".into(), Term::Date(*nbf));
            "check if time($t), $t >= {nbf}".to_owned()
        }
        CheckKind::Audience(aud) => {
            p.insert("aud".into(), str_set(aud.iter().map(|a| a.as_str())));
            "check if request_audience($a), {aud}.contains($a)".to_owned()
        }
        CheckKind::Scope(scopes) => {
            if scopes.is_empty() {
                "reject if request_scope($s)".to_owned()
            } else {
                p.insert("scopes".into(), str_set(scopes.iter().map(|s| s.as_str())));
                "reject if request_scope($s), !{scopes}.contains($s)".to_owned()
            }
        }
        CheckKind::Grant(grants) => grant_code(grants, form, &mut p),
        CheckKind::FieldLimit(l) => {
            p.insert("type".into(), Term::Str(l.kind.clone()));
            p.insert("field".into(), Term::Str(l.field.clone()));
            let last = match &l.limit {
                Limit::Range { .. } => format!(
                    "request_decimal({{field}}, $v), {}",
                    range_code(&l.limit, "$v", ("min", "max"), form, &mut p)
                ),
                Limit::OneOf(set) => {
                    p.insert("set".into(), str_set(set.iter().map(String::as_str)));
                    "request_field({field}, $v), {set}.contains($v)".to_owned()
                }
            };
            format!(
                "check if request_details(false) or request_detail_type($t), $t != {{type}} or {last}"
            )
        }
        CheckKind::Actions(a) => {
            p.insert("type".into(), Term::Str(a.kind.clone()));
            p.insert("acts".into(), str_set(a.actions.iter().map(String::as_str)));
            "check if request_details(false) or request_detail_type($t), $t != {type} or request_action($a), {acts}.contains($a)".to_owned()
        }
        CheckKind::Depth(max) => {
            p.insert(
                "max".into(),
                Term::Integer(i64::try_from(*max).unwrap_or(i64::MAX)),
            );
            "check if token_blocks($n), $n <= {max}".to_owned()
        }
        CheckKind::Holder(key) => {
            p.insert("holder".into(), Term::Str(key.to_string()));
            "check if request_holder({holder})".to_owned()
        }
        CheckKind::Raw(text) => (*text).to_owned(),
    };
    (code, p)
}

/// The root grant: a request without details passes unless its action is one a grant lists;
/// a request with details passes when one grant of its type admits it.
fn grant_code(grants: &[AuthorizationDetail], form: Form, p: &mut Params) -> String {
    let mut queries = Vec::with_capacity(grants.len() + 1);
    let all_actions: BTreeSet<&str> = grants
        .iter()
        .flat_map(|g| g.actions.iter().map(String::as_str))
        .collect();
    if all_actions.is_empty() {
        queries.push("request_details(false)".to_owned());
    } else {
        p.insert("all_actions".into(), str_set(all_actions));
        queries.push(
            "request_details(false), request_action($a), !{all_actions}.contains($a)".to_owned(),
        );
    }
    for (g, grant) in grants.iter().enumerate() {
        let mut parts = Vec::new();
        p.insert(format!("t{g}"), Term::Str(grant.kind.clone()));
        parts.push(format!("request_detail_type({{t{g}}})"));
        if !grant.actions.is_empty() {
            p.insert(
                format!("a{g}"),
                str_set(grant.actions.iter().map(String::as_str)),
            );
            parts.push(format!("request_action($a), {{a{g}}}.contains($a)"));
        }
        if !grant.locations.is_empty() {
            p.insert(
                format!("l{g}"),
                str_set(grant.locations.iter().map(String::as_str)),
            );
            parts.push(format!("request_audience($l), {{l{g}}}.contains($l)"));
        }
        if let Some(id) = &grant.identifier {
            p.insert(format!("i{g}"), Term::Str(id.clone()));
            parts.push(format!("request_field(\"identifier\", {{i{g}}})"));
        }
        for (k, (field, limit)) in grant.limits.iter().enumerate() {
            p.insert(format!("f{g}_{k}"), Term::Str(field.clone()));
            match limit {
                Limit::Range { .. } => {
                    let var = format!("$v{k}");
                    let names = (format!("n{g}_{k}"), format!("m{g}_{k}"));
                    let bounds = range_code(limit, &var, (&names.0, &names.1), form, p);
                    parts.push(format!("request_decimal({{f{g}_{k}}}, {var}), {bounds}"));
                }
                Limit::OneOf(set) => {
                    p.insert(format!("s{g}_{k}"), str_set(set.iter().map(String::as_str)));
                    parts.push(format!(
                        "request_field({{f{g}_{k}}}, $v{k}), {{s{g}_{k}}}.contains($v{k})"
                    ));
                }
            }
        }
        queries.push(parts.join(", "));
    }
    format!("check if {}", queries.join(" or "))
}

/// The comparisons of a decimal range on `var`: at least its lowest value (`min`, else
/// zero, so a `max` alone refuses negative values) and at most its `max` when set, with the
/// bounds scaled by 10^4 as the parameters `names` (min, max).
fn range_code(
    limit: &Limit,
    var: &str,
    (min_name, max_name): (&str, &str),
    form: Form,
    p: &mut Params,
) -> String {
    let mut bounds = Vec::with_capacity(2);
    let max = match limit {
        Limit::Range { min, max } => {
            if min.is_some() || max.is_none() || form == Form::Current {
                let low = limit.lowest().unwrap_or(Decimal::ZERO);
                p.insert(min_name.to_owned(), Term::Integer(low.scaled()));
                bounds.push(format!("{var} >= {{{min_name}}}"));
            }
            *max
        }
        Limit::OneOf(_) => None,
    };
    if let Some(max) = max {
        p.insert(max_name.to_owned(), Term::Integer(max.scaled()));
        bounds.push(format!("{var} <= {{{max_name}}}"));
    }
    bounds.join(", ")
}

/// The vocabulary facts and generated checks of a block, with its spec as the context.
pub(crate) fn block_builder(spec: &BlockSpec, index: usize) -> Result<BlockBuilder, TokenError> {
    let context = serde_json::to_string(spec)
        .map_err(|e| TokenError::Invalid(format!("cannot encode the block: {e}")))?;
    let mut b = BlockBuilder::new().context(context);
    let dl = |e: biscuit_auth::error::Token| TokenError::Datalog(e.to_string());
    // Facts that any Biscuit library can read; checks never depend on facts of later blocks.
    let mut facts: Vec<(String, Params)> = Vec::new();
    let mut one = |name: &str, value: Term| {
        let mut p = Params::new();
        p.insert("v".into(), value);
        facts.push((format!("{name}({{v}})"), p));
    };
    if let Some(s) = &spec.sub {
        one("subject", Term::Str(s.clone()));
    }
    if let Some(c) = &spec.client {
        one("client", Term::Str(c.clone()));
    }
    if let Some(j) = &spec.jti {
        one("token_id", Term::Str(j.clone()));
    }
    if let Some(d) = &spec.delegate {
        one("delegate", Term::Str(d.clone()));
    }
    if index == 0 {
        for a in spec.aud.iter().flatten() {
            one("audience", Term::Str(a.as_str().to_owned()));
        }
        for s in spec.scope.iter().flatten() {
            one("scope", Term::Str(s.as_str().to_owned()));
        }
        if let Some(exp) = spec.exp {
            one("expires", Term::Date(exp));
        }
    }
    for (code, params) in facts {
        b = b
            .code_with_params(code, params, HashMap::new())
            .map_err(dl)?;
    }
    for kind in check_kinds(spec, index) {
        b = match kind {
            CheckKind::Raw(text) => b.check(text).map_err(|e| {
                TokenError::Datalog(format!(
                    "`{text}` is not one Datalog check (write `check if ...`): {e}"
                ))
            })?,
            other => {
                let (code, params) = code(&other);
                b.code_with_params(code, params, HashMap::new())
                    .map_err(dl)?
            }
        };
    }
    Ok(b)
}

/// Whether `text` (as Biscuit prints a check) is the check `kind` generates: as this version
/// writes it, or, for a limit with a `max` alone, as tokens minted before lower bounds did
/// (which refuse no negative value, but say the same of every value they refuse).
pub(crate) fn generates(kind: &CheckKind<'_>, text: &str) -> bool {
    let printed = |form| {
        let (code, params) = match kind {
            CheckKind::Raw(text) => ((*text).to_owned(), Params::new()),
            other => code_in(other, form),
        };
        let block = BlockBuilder::new()
            .code_with_params(code, params, HashMap::new())
            .ok()?;
        block.checks.first().map(ToString::to_string)
    };
    [Form::Current, Form::BeforeLowerBounds]
        .into_iter()
        .any(|form| printed(form).as_deref() == Some(text))
}
