//! Reading a token: its envelope and blocks decoded once, each block's Datalog translated
//! into Biscuit builder terms, and what the block says recognised from that Datalog alone
//! (token format 2, see the crate docs).

use std::collections::{BTreeSet, HashSet};

use biscuit_auth::builder::{self as bb, Binary, CheckKind as Kind, Convert, Op, Term, Unary};
use biscuit_auth::datalog::SymbolTable;
use biscuit_auth::format::convert::proto_block_to_token_block;
use biscuit_auth::format::schema;
use biscuit_auth::PublicKey;
use prost::Message;

use crate::agent_keys::VerifyingKey;
use crate::audience::Audience;
use crate::authorization::{ActionLimit, AuthorizationDetail, FieldLimit};
use crate::block::BlockSpec;
use crate::datalog::{check_of, fact};
use crate::details::Decimal;
use crate::error::TokenError;
use crate::facts::name;
use crate::limit::Limit;
use crate::scope::Scope;
use crate::shape::CheckKind;

/// One block of a token as decoded from its bytes (signatures not checked), its Datalog in
/// builder terms (strings, not symbol ids).
#[derive(Debug)]
pub(crate) struct DecodedBlock {
    pub facts: Vec<bb::Fact>,
    pub checks: Vec<bb::Check>,
    /// The block's own `trusting` scopes.
    pub scopes: Vec<bb::Scope>,
    /// How many rules the block carries (valet blocks carry none).
    pub rules: usize,
    /// The key that signed the block as a third party, as the envelope states it
    /// (unverified until the signatures are checked).
    pub external_key: Option<PublicKey>,
    /// The same key, as a holder key.
    pub signer: Option<VerifyingKey>,
}

fn format(e: impl std::fmt::Display) -> TokenError {
    TokenError::Format(e.to_string())
}

/// Decodes the blocks of an envelope, as Biscuit reads them: the authority's symbols and
/// those of every block that is not a third-party block make one table (none may repeat
/// another's, nor Biscuit's default symbols), and a third-party block speaks in its own.
pub(crate) fn decode_blocks(raw: &schema::Biscuit) -> Result<Vec<DecodedBlock>, TokenError> {
    if raw.authority.external_signature.is_some() {
        return Err(TokenError::Format(
            "the authority block carries a third-party signature, which Biscuit forbids".into(),
        ));
    }
    let mut protos = Vec::with_capacity(raw.blocks.len() + 1);
    for (i, signed) in std::iter::once(&raw.authority)
        .chain(raw.blocks.iter())
        .enumerate()
    {
        let block = schema::Block::decode(signed.block.as_slice())
            .map_err(|e| TokenError::Format(format!("block {i} does not decode ({e})")))?;
        if block.context.is_some() {
            return Err(TokenError::Format(format!(
                "block {i} carries a context: this is a token of valet format 1 (or not a valet token), which this library no longer reads; mint a new token"
            )));
        }
        let external_key = external_signer(i, signed.external_signature.as_ref())?;
        protos.push((block, external_key));
    }

    let mut strings: Vec<String> = Vec::new();
    let mut keys: Vec<PublicKey> = Vec::new();
    {
        let defaults = SymbolTable::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for (i, (block, external)) in protos.iter().enumerate() {
            if i > 0 && external.is_some() {
                continue;
            }
            for s in &block.symbols {
                if defaults.get(s).is_some() || !seen.insert(s) {
                    return Err(TokenError::Format(format!(
                        "block {i} lists a symbol that Biscuit's default symbols or an earlier block already define, which Biscuit forbids"
                    )));
                }
            }
            strings.extend(block.symbols.iter().cloned());
            for pk in &block.public_keys {
                keys.push(PublicKey::from_proto(pk).map_err(|e| {
                    TokenError::Format(format!(
                        "block {i} has a public key that cannot be read ({e})"
                    ))
                })?);
            }
        }
    }
    let token_symbols = SymbolTable::from_symbols_and_public_keys(strings, keys).map_err(format)?;

    let mut decoded = Vec::with_capacity(protos.len());
    for (i, (proto, external_key)) in protos.into_iter().enumerate() {
        let unreadable = |e: &dyn std::fmt::Display| {
            TokenError::Format(format!("block {i} cannot be read ({e})"))
        };
        let block = proto_block_to_token_block(&proto, external_key).map_err(|e| unreadable(&e))?;
        let from = if i > 0 && external_key.is_some() {
            &block.symbols
        } else {
            &token_symbols
        };
        let facts = block
            .facts
            .iter()
            .map(|f| bb::Fact::convert_from(f, from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unreadable(&e))?;
        // An expression whose operations do not make one value (made by hand) can be
        // neither evaluated nor quoted (Biscuit's printer would panic on it).
        if block
            .checks
            .iter()
            .flat_map(|c| &c.queries)
            .flat_map(|q| &q.expressions)
            .any(|e| e.print(from).is_none())
        {
            return Err(unreadable(
                &"a check has an expression whose operations do not make one value",
            ));
        }
        let checks = block
            .checks
            .iter()
            .map(|c| bb::Check::convert_from(c, from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unreadable(&e))?;
        let scopes = block
            .scopes
            .iter()
            .map(|s| bb::Scope::convert_from(s, from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unreadable(&e))?;
        decoded.push(DecodedBlock {
            facts,
            checks,
            scopes,
            rules: block.rules.len(),
            signer: external_key.as_ref().and_then(VerifyingKey::from_biscuit),
            external_key,
        });
    }
    Ok(decoded)
}

/// The key that signed block `index` as a third-party block (unverified: read from the
/// token's envelope). Holders and delegators sign with Ed25519 keys, so a block signed by
/// any other key, or with a key that does not decode, is refused.
fn external_signer(
    index: usize,
    signature: Option<&schema::ExternalSignature>,
) -> Result<Option<PublicKey>, TokenError> {
    let Some(s) = signature else {
        return Ok(None);
    };
    use schema::public_key::Algorithm as Proto;
    let refuse = |what: &str| {
        TokenError::Format(format!(
            "block {index} is signed by {what}: a delegation is signed by an Ed25519 key"
        ))
    };
    match Proto::from_i32(s.public_key.algorithm) {
        Some(Proto::Ed25519) => {}
        Some(Proto::Secp256r1) => return Err(refuse("a P-256 key")),
        None => return Err(refuse("a key of an unknown algorithm")),
    }
    PublicKey::from_bytes(&s.public_key.key, biscuit_auth::Algorithm::Ed25519)
        .map(Some)
        .map_err(|_| refuse("a key that is not an Ed25519 public key"))
}

/// What block `index` says, recognised from its Datalog: facts and checks of the shapes
/// valet writes, each check taken to mean what its shape says only when writing that
/// meaning gives the very same check; anything else kept as raw Datalog text.
pub(crate) fn read_spec(block: &DecodedBlock, index: usize) -> Result<BlockSpec, TokenError> {
    let mut spec = BlockSpec::default();
    let mut grant_facts = Vec::new();
    for f in &block.facts {
        let p = &f.predicate;
        if name::ALL.contains(&p.name.as_str()) {
            return Err(TokenError::Format(format!(
                "block {index} states `{f}`, a fact only the verifier supplies (it would stand in for the request)"
            )));
        }
        let single = |slot: &mut Option<String>| -> Result<bool, TokenError> {
            let [Term::Str(value)] = p.terms.as_slice() else {
                return Ok(false);
            };
            if slot.is_some() {
                return Err(TokenError::Format(format!(
                    "block {index} states `{}` twice: a block names one",
                    p.name
                )));
            }
            *slot = Some(value.clone());
            Ok(true)
        };
        let known = match p.name.as_str() {
            fact::SUBJECT => single(&mut spec.sub)?,
            fact::CLIENT => single(&mut spec.client)?,
            fact::TOKEN_ID => single(&mut spec.jti)?,
            fact::DELEGATE => single(&mut spec.delegate)?,
            fact::DATATYPES | fact::PRIVILEGES => {
                grant_facts.push(f);
                true
            }
            _ => false,
        };
        if !known {
            spec.facts.push(f.to_string());
        }
    }
    for c in &block.checks {
        let kind = recognise(c).filter(|k| check_of(k) == *c);
        let placed = kind.filter(|k| place(&mut spec, k, index));
        if placed.is_none() {
            spec.checks.push(check_text(c));
        }
        spec.layout.push(placed);
    }
    for f in grant_facts {
        if !attach(&mut spec.details, f) {
            spec.facts.push(f.to_string());
        }
    }
    Ok(spec)
}

/// The Datalog text of a check, as Biscuit prints it; an expression that does not compute
/// one value (a hand-made one) is printed as its operations rather than refused, so
/// reading a token never fails on it (its check fails when evaluated).
fn check_text(c: &bb::Check) -> String {
    let mut symbols = SymbolTable::new();
    let check = c.convert(&mut symbols);
    symbols.print_check(&check)
}

/// Records `kind` in `spec`; `false` when the block already said it (the repeat is then
/// kept as raw Datalog: enforced, but not what the claims show).
fn place(spec: &mut BlockSpec, kind: &CheckKind, index: usize) -> bool {
    fn set<T: Clone>(slot: &mut Option<T>, value: &T) -> bool {
        if slot.is_some() {
            return false;
        }
        *slot = Some(value.clone());
        true
    }
    match kind {
        // Only the authority block's not-before time has a place in the claims: an
        // attenuation block's (made by hand) is kept as the raw check it is, so the chain
        // of custody shows it.
        CheckKind::Validity { .. } | CheckKind::NotBefore(_) if index > 0 => false,
        CheckKind::Validity { not_before, expiry } => {
            if spec.nbf.is_some() || spec.exp.is_some() {
                return false;
            }
            spec.nbf = Some(*not_before);
            spec.exp = Some(*expiry);
            true
        }
        CheckKind::Expiry(exp) => set(&mut spec.exp, exp),
        CheckKind::NotBefore(nbf) => set(&mut spec.nbf, nbf),
        CheckKind::Audience(aud) => set(&mut spec.aud, aud),
        CheckKind::Scope(scopes) => set(&mut spec.scope, scopes),
        CheckKind::Grant(grants) => {
            if !spec.details.is_empty() {
                return false;
            }
            spec.details = grants.clone();
            true
        }
        CheckKind::FieldLimit(l) => {
            spec.limits.push(l.clone());
            true
        }
        CheckKind::Actions(a) => {
            spec.actions.push(a.clone());
            true
        }
        CheckKind::Depth(max) => {
            let Some(depth) = max
                .checked_sub(index as u64 + 1)
                .and_then(|d| u32::try_from(d).ok())
            else {
                return false;
            };
            set(&mut spec.max_depth, &depth)
        }
        CheckKind::Holder(key) => set(&mut spec.holder, key),
    }
}

/// Gives grant `g` its informational `datatypes` or `privileges`; `false` if the fact does
/// not name a grant of the block, or names one twice.
fn attach(details: &mut [AuthorizationDetail], f: &bb::Fact) -> bool {
    let [Term::Integer(g), Term::Set(set)] = f.predicate.terms.as_slice() else {
        return false;
    };
    let Some(grant) = usize::try_from(*g).ok().and_then(|g| details.get_mut(g)) else {
        return false;
    };
    let Some(values) = strings(set) else {
        return false;
    };
    let slot = if f.predicate.name == fact::DATATYPES {
        &mut grant.datatypes
    } else {
        &mut grant.privileges
    };
    if !slot.is_empty() || values.is_empty() {
        return false;
    }
    *slot = values;
    true
}

fn strings(set: &BTreeSet<Term>) -> Option<BTreeSet<String>> {
    set.iter()
        .map(|t| match t {
            Term::Str(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// `[left, right, op]` as an expression's operations.
fn comparison(e: &bb::Expression) -> Option<(&Term, &Binary, &Term)> {
    match e.ops.as_slice() {
        [Op::Value(l), Op::Value(r), Op::Binary(op)] => Some((l, op, r)),
        _ => None,
    }
}

/// `{set}.contains($var)` (negated or not) as an expression's operations: the set and the
/// variable.
fn containment(e: &bb::Expression, negated: bool) -> Option<(&BTreeSet<Term>, &str)> {
    let (set, var) = match (e.ops.as_slice(), negated) {
        (
            [Op::Value(Term::Set(s)), Op::Value(Term::Variable(v)), Op::Binary(Binary::Contains)],
            false,
        )
        | (
            [Op::Value(Term::Set(s)), Op::Value(Term::Variable(v)), Op::Binary(Binary::Contains), Op::Unary(Unary::Negate)],
            true,
        ) => (s, v.as_str()),
        _ => return None,
    };
    Some((set, var))
}

/// The one predicate of a query's body named `name`, with its terms.
fn only<'a>(rule: &'a bb::Rule, name: &str) -> Option<&'a [Term]> {
    match rule.body.as_slice() {
        [p] if p.name == name => Some(&p.terms),
        _ => None,
    }
}

/// The shape `c` appears to have and the meaning it would carry. The caller keeps it only
/// when writing that meaning gives `c` again.
fn recognise(c: &bb::Check) -> Option<CheckKind> {
    let first = c.queries.first()?;
    if c.kind == Kind::Reject {
        only(first, name::SCOPE)?;
        return match first.expressions.as_slice() {
            [] => Some(CheckKind::Scope(BTreeSet::new())),
            [e] => {
                let (set, _) = containment(e, true)?;
                let scopes = strings(set)?
                    .iter()
                    .map(|s| Scope::parse(s).ok())
                    .collect::<Option<BTreeSet<_>>>()?;
                Some(CheckKind::Scope(scopes))
            }
            _ => None,
        };
    }
    if c.kind != Kind::One {
        return None;
    }
    let name0 = first.body.first().map(|p| p.name.as_str());
    match name0? {
        name::TIME => {
            let mut nbf = None;
            let mut exp = None;
            for e in &first.expressions {
                match comparison(e)? {
                    (_, Binary::GreaterOrEqual, Term::Date(d)) => nbf = Some(*d),
                    (_, Binary::LessOrEqual, Term::Date(d)) => exp = Some(*d),
                    _ => return None,
                }
            }
            match (nbf, exp) {
                (Some(not_before), Some(expiry)) => {
                    Some(CheckKind::Validity { not_before, expiry })
                }
                (None, Some(e)) => Some(CheckKind::Expiry(e)),
                (Some(n), None) => Some(CheckKind::NotBefore(n)),
                (None, None) => None,
            }
        }
        name::AUDIENCE => c
            .queries
            .iter()
            .map(|q| match only(q, name::AUDIENCE)? {
                [Term::Str(a)] => Audience::parse(a).ok(),
                _ => None,
            })
            .collect::<Option<BTreeSet<_>>>()
            .map(CheckKind::Audience),
        name::BLOCKS => match first.expressions.as_slice() {
            [e] => match comparison(e)? {
                (_, Binary::LessOrEqual, Term::Integer(n)) => {
                    u64::try_from(*n).ok().map(CheckKind::Depth)
                }
                _ => None,
            },
            _ => None,
        },
        name::HOLDER => match only(first, name::HOLDER)? {
            // The key as the block names it: one that is not a point of the curve can never
            // sign a proof, so the binding refuses every request, as its check does.
            [Term::Bytes(b)] => VerifyingKey::from_raw(b).map(CheckKind::Holder),
            _ => None,
        },
        name::DETAIL => recognise_details(c),
        _ => None,
    }
}

/// A check that begins with the request's detail type: a block's typed narrowing
/// (`detail($v), $v !== {type} or ...`), or the root grant (`detail("") ... or ...`).
fn recognise_details(c: &bb::Check) -> Option<CheckKind> {
    let first = c.queries.first()?;
    if let Some([Term::Variable(_)]) = only(first, name::DETAIL) {
        let kind = match first.expressions.as_slice() {
            [e] => match comparison(e)? {
                (_, Binary::NotEqual, Term::Str(kind)) => kind.clone(),
                _ => return None,
            },
            _ => return None,
        };
        let last = c.queries.get(1)?;
        let p = match last.body.as_slice() {
            [p] => p,
            _ => return None,
        };
        return match (p.name.as_str(), p.terms.as_slice()) {
            (name::ACTION, [Term::Variable(_)]) => {
                let (set, _) = containment(last.expressions.first()?, false)?;
                Some(CheckKind::Actions(ActionLimit {
                    kind,
                    actions: strings(set)?,
                }))
            }
            (name::DECIMAL | name::FIELD, [Term::Str(field), Term::Variable(v)]) => {
                let limit = limit_of(p.name == name::DECIMAL, v, &last.expressions, false)?;
                Some(CheckKind::FieldLimit(FieldLimit {
                    kind,
                    field: field.clone(),
                    limit,
                }))
            }
            _ => None,
        };
    }
    c.queries
        .get(1..)?
        .iter()
        .map(grant_of)
        .collect::<Option<Vec<_>>>()
        .map(CheckKind::Grant)
}

/// The limit the expressions on variable `v` state: a decimal range, or a set of strings.
fn limit_of(decimal: bool, v: &str, exprs: &[bb::Expression], grant: bool) -> Option<Limit> {
    let on_v = |t: &Term| matches!(t, Term::Variable(x) if x == v);
    if !decimal {
        return exprs.iter().find_map(|e| {
            let (set, var) = containment(e, false)?;
            (var == v).then(|| strings(set).map(Limit::OneOf))?
        });
    }
    let mut min = None;
    let mut max = None;
    for e in exprs {
        match comparison(e) {
            Some((l, Binary::GreaterOrEqual, Term::Integer(n))) if on_v(l) => {
                min = Some(Decimal::from_scaled(*n));
            }
            Some((l, Binary::LessOrEqual, Term::Integer(n))) if on_v(l) => {
                max = Some(Decimal::from_scaled(*n));
            }
            _ => {}
        }
    }
    // A grant's range is written with its lowest value, zero when it has no `min`.
    Some(Limit::Range {
        min: min.filter(|m| !grant || *m != Decimal::ZERO),
        max,
    })
}

/// One grant of the root grant check, from its alternative.
fn grant_of(q: &bb::Rule) -> Option<AuthorizationDetail> {
    let (head, rest) = q.body.split_first()?;
    let [Term::Str(kind)] = head.terms.as_slice() else {
        return None;
    };
    if head.name != name::DETAIL {
        return None;
    }
    let mut grant = AuthorizationDetail::new(kind.clone());
    let set_for = |v: &str| {
        q.expressions.iter().find_map(|e| {
            let (set, var) = containment(e, false)?;
            (var == v).then(|| strings(set))?
        })
    };
    for p in rest {
        match (p.name.as_str(), p.terms.as_slice()) {
            (name::ACTION, [Term::Variable(v)]) => grant.actions = set_for(v)?,
            (name::AUDIENCE, [Term::Variable(v)]) => grant.locations = set_for(v)?,
            (name::FIELD, [Term::Str(f), Term::Str(id)]) if f == "identifier" => {
                grant.identifier = Some(id.clone());
            }
            (n @ (name::DECIMAL | name::FIELD), [Term::Str(field), Term::Variable(v)]) => {
                let limit = limit_of(n == name::DECIMAL, v, &q.expressions, true)?;
                grant.limits.insert(field.clone(), limit);
            }
            _ => return None,
        }
    }
    Some(grant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_whose_expression_computes_nothing_is_printed_not_panicked_on() {
        let query = bb::Rule {
            head: bb::Predicate {
                name: "query".into(),
                terms: vec![],
            },
            body: vec![bb::Predicate {
                name: "time".into(),
                terms: vec![Term::Variable("v".into())],
            }],
            // `<=` with one operand: no value to compare.
            expressions: vec![bb::Expression {
                ops: vec![Op::Value(Term::Integer(1)), Op::Binary(Binary::LessOrEqual)],
            }],
            parameters: None,
            scopes: vec![],
            scope_parameters: None,
        };
        let check = bb::Check {
            queries: vec![query],
            kind: Kind::One,
        };
        let text = check_text(&check);
        assert!(text.contains("invalid expression"), "{text}");
        let block = DecodedBlock {
            facts: vec![],
            checks: vec![check],
            scopes: vec![],
            rules: 0,
            external_key: None,
            signer: None,
        };
        let spec = read_spec(&block, 1).unwrap();
        assert_eq!(spec.checks, vec![text]);
        assert_eq!(spec.layout, vec![None]);
    }
}
