//! `valet mint`, `valet attenuate` and `valet inspect`.

use std::collections::BTreeMap;
use std::time::SystemTime;

use biscuit_auth::{PublicKey, UnverifiedBiscuit};
use serde::Serialize;
use valet_token::danger::BearerMinting;
use valet_token::{
    rfc3339, Attenuation, Audience, AuthorizationDetail, Claims, Decimal, Issuer, Link, Scope,
    Token, TokenBuilder, TokenError,
};

use crate::args::{AttenuateArgs, InspectArgs, MintArgs, Output};
use crate::error::{exit, CliError, CliResult};
use crate::input::{read_file, read_private_key, read_public_key, read_token};
use crate::text::Lines;
use crate::times::{relative, unix, Ttl};

fn token_error(e: &TokenError) -> CliError {
    CliError::new(e.to_string())
}

fn audience(text: &str) -> Result<Audience, CliError> {
    Audience::parse(text).map_err(|e| token_error(&e))
}

fn scope(text: &str) -> Result<Scope, CliError> {
    Scope::parse(text).map_err(|e| token_error(&e))
}

/// Mints a root token and prints it.
pub fn mint(args: &MintArgs) -> CliResult {
    let key = read_private_key(&args.private_key_file)?;
    let mut grant = TokenBuilder::new(args.subject.as_str(), args.client.as_str());
    for a in &args.audiences {
        grant = grant.audience(audience(a)?);
    }
    for s in &args.scopes {
        grant = grant.scope(scope(s)?);
    }
    grant = match args.add_ttl {
        Ttl::In(d) => grant.expires_in(d),
        Ttl::At(t) => grant.expires_at(t),
    };
    if let Some(path) = &args.authorization_details {
        let text = read_file(path, "authorization details file")?;
        let details = AuthorizationDetail::list_from_json(&text).map_err(|e| {
            CliError::new(format!(
                "{}: {e}: see `valet mint --help` for the shape",
                path.display()
            ))
        })?;
        for d in details {
            grant = grant.detail(d);
        }
    }
    if let Some(id) = &args.token_id {
        grant = grant.token_id(id.as_str());
    }
    if let Some(depth) = args.max_depth {
        grant = grant.max_depth(depth);
    }
    if let Some(path) = &args.holder_key_file {
        grant = grant.holder(crate::holder::read_verifying_key(path)?);
    }
    if args.bearer {
        grant = grant.bearer();
    }
    let token = Issuer::new(key)
        .max_lifetime(args.max_lifetime)
        .mint(grant)
        .map_err(|e| match e {
            TokenError::LifetimeTooLong { .. } => {
                CliError::new(format!("{e}, or raise the cap with `--max-lifetime`"))
            }
            TokenError::NoHolder => CliError::new(
                "a token must be bound to the agent's key: give its public key with `--holder-key-file agent.pub` (make one with `valet keypair --kind agent`), or mint a bearer token, which anyone holding a copy can use, with `--bearer`",
            ),
            other => token_error(&other),
        })?;
    println!("{}", token.to_base64());
    Ok(exit::OK)
}

/// Splits `TYPE.FIELD` (the type may itself contain dots: the field is after the last one).
fn type_field<'a>(
    text: &'a str,
    flag: &str,
    example: &str,
) -> Result<(&'a str, &'a str), CliError> {
    match text.rsplit_once('.') {
        Some((kind, field)) if !kind.trim().is_empty() && !field.trim().is_empty() => {
            Ok((kind.trim(), field.trim()))
        }
        _ => Err(CliError::new(format!(
            "`--{flag} {text}` does not name `TYPE.FIELD`: write it like `--{flag} {example}`"
        ))),
    }
}

/// Appends a narrowing block and prints the new token.
pub fn attenuate(args: &AttenuateArgs) -> CliResult {
    let token = read_token(&args.token)?;
    let mut att = Attenuation::new();
    if let Some(d) = &args.delegate {
        att = att.delegate(d.as_str());
    }
    if !args.audiences.is_empty() {
        let list = args
            .audiences
            .iter()
            .map(|a| audience(a))
            .collect::<Result<Vec<_>, _>>()?;
        att = att.audiences(list);
    }
    if !args.scopes.is_empty() {
        let list = args
            .scopes
            .iter()
            .map(|s| scope(s))
            .collect::<Result<Vec<_>, _>>()?;
        att = att.scopes(list);
    }
    match args.add_ttl {
        Some(Ttl::In(d)) => att = att.expires_in(d),
        Some(Ttl::At(t)) => att = att.expires_at(t),
        None => {}
    }
    for l in &args.limits {
        let example = "payment.amount<=50.00";
        let (left, value, at_most) = match (l.split_once("<="), l.split_once(">=")) {
            (Some((left, value)), None) => (left, value, true),
            (None, Some((left, value))) => (left, value, false),
            _ => {
                return Err(CliError::new(format!(
                    "`--limit {l}` has no `<=` or `>=`: write it like `--limit {example}` or `--limit payment.amount>=10.00`"
                )))
            }
        };
        let (kind, field) = type_field(left, "limit", example)?;
        let bound: Decimal = value.trim().parse().map_err(|e| {
            CliError::new(format!(
                "`--limit {l}`: `{}` is not a decimal ({e}): write it like `--limit {example}`",
                value.trim()
            ))
        })?;
        att = if at_most {
            att.max(kind, field, bound)
        } else {
            att.min(kind, field, bound)
        };
    }
    for a in &args.allows {
        let example = "payment.recipient=alice@example.com";
        let Some((left, values)) = a.split_once('=') else {
            return Err(CliError::new(format!(
                "`--allow {a}` has no `=`: write it like `--allow {example}`"
            )));
        };
        let (kind, field) = type_field(left, "allow", example)?;
        let values: Vec<&str> = values
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        if values.is_empty() {
            return Err(CliError::new(format!(
                "`--allow {a}` lists no value: write it like `--allow {example}`"
            )));
        }
        att = att.one_of(kind, field, values);
    }
    for a in &args.actions {
        let Some((kind, actions)) = a.split_once('=') else {
            return Err(CliError::new(format!(
                "`--actions {a}` has no `=`: write it like `--actions payment=pay_invoice`"
            )));
        };
        let actions: Vec<&str> = actions
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        att = att.actions(kind.trim(), actions);
    }
    if let Some(depth) = args.max_depth {
        att = att.max_depth(depth);
    }
    for c in &args.checks {
        att = att.check(c.as_str());
    }
    if let Some(path) = &args.holder_key_file {
        att = att.holder(crate::holder::read_verifying_key(path)?);
    }
    let child = match &args.private_key_file {
        Some(path) => token.attenuate_signed(att, &crate::holder::read_signing_key(path)?),
        None => token.attenuate(att),
    };
    let child = child.map_err(|e| match e {
        TokenError::Widening(m) => CliError::new(format!(
            "attenuation refused: {m}: an attenuation can only narrow; ask the token's issuer for a wider token instead"
        )),
        TokenError::Datalog(m) => CliError::new(format!(
            "the `--check` Datalog does not parse: {m}: write a check like `check if time($t), $t <= 2030-01-01T00:00:00Z`"
        )),
        other => token_error(&other),
    })?;
    println!("{}", child.to_base64());
    Ok(exit::OK)
}

/// The signature check of `valet inspect`.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum Signature {
    /// No key given.
    NotChecked,
    /// Verified with this key id.
    Valid { key_id: Option<u32> },
    /// No given key has the token's key id.
    UnknownKey { key_id: Option<u32> },
    /// A signature does not verify.
    Invalid { message: String },
}

fn check_signature(token: &Token, args: &InspectArgs) -> Result<Signature, CliError> {
    if args.public_key_files.is_empty() {
        return Ok(Signature::NotChecked);
    }
    let mut keys: BTreeMap<u32, PublicKey> = BTreeMap::new();
    for path in &args.public_key_files {
        let k = read_public_key(path)?;
        keys.insert(k.id().0, *k.key());
    }
    let key_id = token.key_id().map(|k| k.0);
    let key = match key_id {
        Some(id) => keys.get(&id).copied(),
        None if keys.len() == 1 => keys.values().next().copied(),
        None => None,
    };
    let Some(key) = key else {
        return Ok(Signature::UnknownKey { key_id });
    };
    let result = UnverifiedBiscuit::from(token.to_bytes())
        .map_err(|e| e.to_string())
        .and_then(|u| u.verify(key).map_err(|e| e.to_string()));
    Ok(match result {
        Ok(_) => Signature::Valid { key_id },
        Err(message) => Signature::Invalid { message },
    })
}

#[derive(Serialize)]
struct Inspection<'a> {
    claims: &'a Claims,
    expired: bool,
    blocks: usize,
    bytes: usize,
    signature: &'a Signature,
}

/// Shows what a token says.
pub fn inspect(args: &InspectArgs, output: Output) -> CliResult {
    let token = read_token(&args.token)?;
    let claims = token.unverified_claims().map_err(|e| token_error(&e))?;
    if args.revocation_ids {
        for id in token.revocation_ids() {
            println!("{id}");
        }
        return Ok(exit::OK);
    }
    let signature = check_signature(&token, args)?;
    let now = unix(args.now.unwrap_or_else(SystemTime::now));
    match output {
        Output::Json => {
            let doc = Inspection {
                claims: &claims,
                expired: claims.expires_at < now,
                blocks: token.block_count(),
                bytes: token.to_bytes().len(),
                signature: &signature,
            };
            let text = serde_json::to_string_pretty(&doc)
                .map_err(|e| CliError::new(format!("cannot encode the inspection: {e}")))?;
            println!("{text}");
        }
        Output::Text => print!("{}", describe(&token, &claims, &signature, now)),
    }
    match signature {
        Signature::NotChecked | Signature::Valid { .. } => Ok(exit::OK),
        Signature::UnknownKey { key_id } => Err(CliError::new(format!(
            "the token was signed by key id {}, which none of the given public key files holds: give the issuer's public key file",
            key_id.map_or_else(|| "(none)".to_owned(), |k| k.to_string())
        ))),
        Signature::Invalid { message } => Err(CliError::new(format!(
            "the token's signature does not verify ({message}): it was altered or signed by another key; do not use it"
        ))),
    }
}

fn list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    let v: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

fn describe_detail(d: &AuthorizationDetail) -> String {
    let mut parts = Vec::new();
    if !d.actions.is_empty() {
        parts.push(format!("actions {}", list(&d.actions)));
    }
    if !d.locations.is_empty() {
        parts.push(format!("locations {}", list(&d.locations)));
    }
    if let Some(id) = &d.identifier {
        parts.push(format!("identifier `{id}`"));
    }
    for (field, limit) in &d.limits {
        parts.push(format!("{field} {limit}"));
    }
    if parts.is_empty() {
        d.kind.clone()
    } else {
        format!("{}: {}", d.kind, parts.join("; "))
    }
}

fn describe_link(link: &Link, now: u64) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(a) = &link.audiences {
        lines.push(format!("audiences narrowed to {}", list(a)));
    }
    if let Some(s) = &link.scopes {
        lines.push(format!("scopes narrowed to {}", list(s)));
    }
    if let Some(exp) = link.expires_at {
        lines.push(format!(
            "expires at {} ({})",
            rfc3339(exp),
            relative(exp, now)
        ));
    }
    for l in &link.limits {
        lines.push(format!("{}.{} {}", l.kind, l.field, l.limit));
    }
    for a in &link.actions {
        lines.push(format!("{} actions only {}", a.kind, list(&a.actions)));
    }
    if let Some(d) = link.max_depth {
        lines.push(format!("at most {d} further delegations"));
    }
    for c in &link.checks {
        lines.push(format!("check: {c}"));
    }
    for f in &link.facts {
        lines.push(format!("fact: {f}"));
    }
    if lines.is_empty() {
        lines.push("narrows nothing".into());
    }
    lines
}

fn describe(token: &Token, claims: &Claims, signature: &Signature, now: u64) -> String {
    let mut out = Lines::new();
    let key = claims
        .key_id
        .map_or_else(|| "no key id".to_owned(), |k| format!("key id {k}"));
    out.line(format_args!(
        "token: {} blocks, {key}, {} bytes",
        token.block_count(),
        token.to_bytes().len()
    ));
    out.line(format_args!("subject:    {}", claims.subject));
    out.line(format_args!("client:     {}", claims.client));
    out.line(format_args!("agent:      {}", claims.agent()));
    if let Some(id) = &claims.token_id {
        out.line(format_args!("token id:   {id}"));
    }
    out.line(format_args!("audiences:  {}", list(&claims.audiences)));
    out.line(format_args!("scopes:     {}", list(&claims.scopes)));
    if let Some(nbf) = claims.not_before {
        out.line(format_args!(
            "not before: {} ({})",
            rfc3339(nbf),
            relative(nbf, now)
        ));
    }
    let state = if claims.expires_at < now {
        "EXPIRED, "
    } else {
        ""
    };
    out.line(format_args!(
        "expires:    {} ({state}{})",
        rfc3339(claims.expires_at),
        relative(claims.expires_at, now)
    ));
    if let Some(d) = claims.remaining_depth {
        out.line(format_args!(
            "delegation: {d} more attenuation blocks allowed"
        ));
    }
    if !claims.authorization_details.is_empty() {
        out.line("authorization details:");
        for d in &claims.authorization_details {
            out.line(format_args!("  - {}", describe_detail(d)));
        }
    }
    let ids = &claims.revocation_ids;
    out.line("blocks:");
    let id_of = |i: usize| ids.get(i).map_or_else(String::new, ToString::to_string);
    out.line("  block 0 (authority, signed by the root key)");
    for c in &claims.checks {
        out.line(format_args!("    check: {c}"));
    }
    for f in &claims.facts {
        out.line(format_args!("    fact: {f}"));
    }
    out.line(format_args!("    revocation id: {}", id_of(0)));
    for link in &claims.chain {
        let who = link.delegate.as_deref().map_or_else(
            || "no delegate named".to_owned(),
            |d| format!("delegate: {d}"),
        );
        out.line(format_args!("  block {} ({who})", link.block));
        for line in describe_link(link, now) {
            out.line(format_args!("    {line}"));
        }
        out.line(format_args!("    revocation id: {}", id_of(link.block)));
    }
    let sig = match signature {
        Signature::NotChecked => {
            "not checked (give --public-key-file to verify; until then these claims are unverified)"
                .to_owned()
        }
        Signature::Valid { key_id } => format!(
            "valid (key id {})",
            key_id.map_or_else(|| "none".to_owned(), |k| k.to_string())
        ),
        Signature::UnknownKey { key_id } => format!(
            "NOT CHECKED: no given key has key id {}",
            key_id.map_or_else(|| "none".to_owned(), |k| k.to_string())
        ),
        Signature::Invalid { message } => format!("INVALID ({message})"),
    };
    out.line(format_args!("signature:  {sig}"));
    out.into_string()
}
