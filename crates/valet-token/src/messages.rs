//! The prose of refusals: each failed check of a block explained from the block's context,
//! in the words a person reading a deny needs (what limited the request, and how).

use crate::agent_keys::VerifyingKey;
use crate::authorization::AuthorizationDetail;
use crate::block::BlockSpec;
use crate::clock::rfc3339;
use std::time::SystemTime;

use crate::clock::unix_secs;
use crate::details::FieldValue;
use crate::limit::Limit;
use crate::request::Request;
use crate::shape::CheckKind;
use crate::verdict::{Reason, ReasonKind};

/// Explains the failed check `check` of block `block`, whose Datalog is `text`, from what
/// the block's Datalog was read to say (a check of no shape valet writes is quoted).
pub(crate) fn explain(
    block: usize,
    check: usize,
    text: &str,
    specs: &[BlockSpec],
    request: &Request,
    now: SystemTime,
) -> Reason {
    let described = specs.get(block).and_then(|spec| {
        let kind = spec.layout.get(check)?.as_ref()?;
        Some(describe(kind, block, spec, request, now))
    });
    described.unwrap_or_else(|| {
        // The block's delegate, read from its Datalog as for any other check.
        let delegate = specs.get(block).and_then(|s| s.delegate.clone());
        let who = match (block, &delegate) {
            (1.., Some(d)) => format!("block {block} (delegate: {d})"),
            _ => format!("block {block}"),
        };
        Reason {
            kind: ReasonKind::Check,
            block: Some(block),
            delegate,
            message: format!("{who}: check failed: {text}"),
        }
    })
}

fn block_name(index: usize, spec: &BlockSpec) -> String {
    match (index, &spec.delegate) {
        (0, _) => "the token".to_owned(),
        (i, Some(d)) => format!("block {i} (delegate: {d})"),
        (i, None) => format!("block {i}"),
    }
}

/// Explains a check of a kind valet writes, for this request at time `now`.
pub(crate) fn describe(
    kind: &CheckKind,
    index: usize,
    spec: &BlockSpec,
    request: &Request,
    now: SystemTime,
) -> Reason {
    let who = block_name(index, spec);
    let kind = &match kind {
        // Which of the two bounds the time is outside of.
        CheckKind::Validity { not_before, expiry } => {
            if unix_secs(now) < *not_before {
                CheckKind::NotBefore(*not_before)
            } else {
                CheckKind::Expiry(*expiry)
            }
        }
        other => other.clone(),
    };
    let (k, message) = match kind {
        CheckKind::Expiry(exp) | CheckKind::Validity { expiry: exp, .. } => (
            ReasonKind::Expired,
            if index == 0 {
                format!("token expired at {}", rfc3339(*exp))
            } else {
                format!("{who} expired at {}", rfc3339(*exp))
            },
        ),
        CheckKind::NotBefore(nbf) => (
            ReasonKind::NotYetValid,
            format!("token is not valid before {}", rfc3339(*nbf)),
        ),
        CheckKind::Audience(aud) => {
            let list = join(aud.iter().map(|a| a.as_str()));
            (
                ReasonKind::Audience,
                if index == 0 {
                    format!("token is for {list}, presented at {}", request.audience)
                } else {
                    format!(
                        "{who} limits audiences to {list}, presented at {}",
                        request.audience
                    )
                },
            )
        }
        CheckKind::Scope(scopes) => {
            let missing: Vec<&str> = request
                .scopes
                .iter()
                .filter(|s| !scopes.contains(*s))
                .map(|s| s.as_str())
                .collect();
            (
                ReasonKind::Scope,
                format!(
                    "{who} does not grant scope {}",
                    join_quoted(missing.into_iter())
                ),
            )
        }
        CheckKind::Grant(grants) => (grant_kind(grants, request), grant_message(grants, request)),
        CheckKind::FieldLimit(l) => {
            let value = request.details.as_ref().and_then(|d| d.get(&l.field));
            let got = value.map(|v| requested(&l.limit, v));
            let what = match (&l.limit, l.limit.under_min(value)) {
                (_, Some(low)) => format!("{who} limits {} {} to at least {low}", l.kind, l.field),
                (Limit::Range { max: Some(m), .. }, None) => {
                    format!("{who} limits {} {} to {m}", l.kind, l.field)
                }
                _ => format!("{who} limits {} {} to {}", l.kind, l.field, l.limit),
            };
            (
                ReasonKind::Limit,
                match got {
                    Some(g) => format!("{what}, requested {g}"),
                    None => format!("{what}, and the transaction has no `{}`", l.field),
                },
            )
        }
        CheckKind::Actions(a) => (
            ReasonKind::Action,
            format!(
                "{who} allows {} only for {}, requested `{}`",
                a.kind,
                join_quoted(a.actions.iter().map(String::as_str)),
                request.action
            ),
        ),
        CheckKind::Depth(max) => (
            ReasonKind::Depth,
            format!(
                "{who} allows at most {} attenuation blocks after the authority block",
                max.saturating_sub(1)
            ),
        ),
        CheckKind::Holder(key) => (ReasonKind::Holder, holder_message(&who, index, key)),
    };
    Reason {
        kind: k,
        block: Some(index),
        delegate: spec.delegate.clone(),
        message,
    }
}

fn grant_kind(grants: &[AuthorizationDetail], request: &Request) -> ReasonKind {
    match &request.details {
        None => ReasonKind::Action,
        Some(d) if grants.iter().all(|g| g.kind != d.kind()) => ReasonKind::Limit,
        Some(_) => ReasonKind::Limit,
    }
}

fn grant_message(grants: &[AuthorizationDetail], request: &Request) -> String {
    let Some(d) = &request.details else {
        return format!(
            "the token grants `{}` only with transaction details: send its authorization_details",
            request.action
        );
    };
    let of_type: Vec<_> = grants.iter().filter(|g| g.kind == d.kind()).collect();
    if of_type.is_empty() {
        return format!(
            "the token grants no `{}` transactions (it grants {})",
            d.kind(),
            join_quoted(grants.iter().map(|g| g.kind.as_str()))
        );
    }
    // Explain against the first grant of this type.
    let mut problems = Vec::new();
    for g in &of_type {
        if !g.actions.is_empty() && !g.actions.contains(&request.action) {
            problems.push(format!(
                "action `{}` is not among {}",
                request.action,
                join_quoted(g.actions.iter().map(String::as_str))
            ));
        }
        if !g.locations.is_empty() && !g.locations.contains(request.audience.as_str()) {
            problems.push(format!(
                "location {} is not among {}",
                request.audience,
                join(g.locations.iter().map(String::as_str))
            ));
        }
        if let Some(id) = &g.identifier {
            if d.get("identifier").and_then(FieldValue::as_str) != Some(id.as_str()) {
                problems.push(format!("identifier must be `{id}`"));
            }
        }
        for (field, limit) in &g.limits {
            let value = d.get(field);
            if !value.is_some_and(|v| limit.admits(v)) {
                let got = value.map_or_else(|| "nothing".to_owned(), |v| requested(limit, v));
                let bound = limit
                    .under_min(value)
                    .map_or_else(|| limit.to_string(), |low| format!("at least {low}"));
                problems.push(format!(
                    "the token limits {} {field} to {bound}, requested {got}",
                    g.kind
                ));
            }
        }
        if !problems.is_empty() {
            break;
        }
    }
    if problems.is_empty() {
        format!(
            "the transaction is outside the token's `{}` grant",
            d.kind()
        )
    } else {
        problems.join("; ")
    }
}

/// The value a limit refused, as a refusal names it: a string or an integer as it was
/// sent, another value by its type, saying so when it is of no type the limit reads (a
/// range reads decimal amounts, a set of values reads strings).
fn requested(limit: &Limit, value: &FieldValue) -> String {
    let shown = match value {
        FieldValue::Str(s) => format!("`{s}`"),
        FieldValue::Long(n) => format!("`{n}`"),
        FieldValue::Bool(_) => "a boolean".to_owned(),
        FieldValue::List(_) => "an array of strings".to_owned(),
        FieldValue::Array(_) => "an array".to_owned(),
        FieldValue::Record(_) => "an object".to_owned(),
    };
    match limit {
        Limit::Range { .. } if value.as_decimal().is_none() => {
            format!("{shown}, which is not a decimal amount")
        }
        Limit::OneOf(_) if value.as_str().is_none() => format!("{shown}, which is not a string"),
        _ => shown,
    }
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn join_quoted<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Explains an unmet `holder` check of block `index`.
fn holder_message(who: &str, index: usize, key: &VerifyingKey) -> String {
    if index == 0 {
        format!("the token is bound to holder key {key}; the request carries no valid proof of possession by that key: sign a proof of possession with the holder's private key")
    } else {
        format!("{who} binds the token to holder key {key}; the request carries no valid proof of possession by that key, nor a delegation signed by it")
    }
}
