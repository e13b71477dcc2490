//! The facts a request contributes to the token's Datalog (the public vocabulary, see the
//! crate docs): as Biscuit builder facts, and built directly in a chain's symbol table.
//! A transaction field holding an array that is not a list of strings, or an object, is
//! stated by no fact: the checks valet writes all need a fact of the field they limit, so
//! they refuse it.

/// The names of the facts the verifier supplies. A block may not state a fact of these
/// names: it would stand in for the request.
pub(crate) mod name {
    pub const TIME: &str = "time";
    pub const AUDIENCE: &str = "resource";
    pub const ACTION: &str = "operation";
    pub const SCOPE: &str = "scope";
    pub const BLOCKS: &str = "blocks";
    pub const DETAIL: &str = "detail";
    pub const FIELD: &str = "field";
    pub const DECIMAL: &str = "decimal";
    pub const LIST: &str = "list";
    pub const HOLDER: &str = "holder";

    /// Every name above.
    pub const ALL: [&str; 10] = [
        TIME, AUDIENCE, ACTION, SCOPE, BLOCKS, DETAIL, FIELD, DECIMAL, LIST, HOLDER,
    ];
}

use std::time::SystemTime;

use biscuit_auth::builder::{self as bb, Fact};
use biscuit_auth::datalog::{self as dl, SymbolTable};

use crate::agent_keys::VerifyingKey;
use crate::clock::unix_secs;
use crate::details::FieldValue;
use crate::request::Request;
use name::*;

/// The facts a request contributes (the public vocabulary, see the crate docs).
pub(crate) fn request_facts(
    request: &Request,
    now: SystemTime,
    blocks: usize,
    holders: &[VerifyingKey],
) -> Vec<Fact> {
    let mut facts = Vec::with_capacity(8);
    // Whole seconds since 1970 (`verify` refuses earlier clocks; bb::date would panic).
    facts.push(bb::fact(TIME, &[bb::Term::Date(unix_secs(now))]));
    facts.push(bb::fact(AUDIENCE, &[bb::string(request.audience.as_str())]));
    facts.push(bb::fact(ACTION, &[bb::string(&request.action)]));
    facts.push(bb::fact(
        BLOCKS,
        &[bb::int(i64::try_from(blocks).unwrap_or(i64::MAX))],
    ));
    for s in &request.scopes {
        facts.push(bb::fact(SCOPE, &[bb::string(s.as_str())]));
    }
    match &request.details {
        // A request without details is of type "" (a request's details have a type).
        None => facts.push(bb::fact(DETAIL, &[bb::string("")])),
        Some(d) => {
            facts.push(bb::fact(DETAIL, &[bb::string(d.kind())]));
            for (name, value) in d.fields() {
                let n = bb::string(name);
                match value {
                    FieldValue::Str(s) => {
                        facts.push(bb::fact(FIELD, &[n.clone(), bb::string(s)]));
                        if let Some(dec) = value.as_decimal() {
                            facts.push(bb::fact(DECIMAL, &[n, bb::int(dec.scaled())]));
                        }
                    }
                    FieldValue::Long(_) => {
                        if let Some(dec) = value.as_decimal() {
                            facts.push(bb::fact(DECIMAL, &[n, bb::int(dec.scaled())]));
                        }
                    }
                    FieldValue::Bool(b) => {
                        facts.push(bb::fact(FIELD, &[n, bb::boolean(*b)]));
                    }
                    FieldValue::List(items) => {
                        for item in items {
                            facts.push(bb::fact(LIST, &[n.clone(), bb::string(item)]));
                        }
                    }
                    // No fact: a limit on the field finds none and refuses the request.
                    FieldValue::Array(_) | FieldValue::Record(_) => {}
                }
            }
        }
    }
    for h in holders {
        facts.push(bb::fact(HOLDER, &[bb::Term::Bytes(h.to_bytes().to_vec())]));
    }
    facts
}

/// The facts of [`request_facts`], built directly in `symbols` (the same facts: tests
/// compare the decisions of both).
pub(crate) fn datalog_facts(
    symbols: &mut SymbolTable,
    request: &Request,
    now: SystemTime,
    blocks: usize,
    holders: &[VerifyingKey],
) -> Vec<dl::Fact> {
    let mut facts = Vec::with_capacity(8 + holders.len());
    let mut push = |symbols: &mut SymbolTable, name: &str, terms: Vec<dl::Term>| {
        facts.push(dl::Fact {
            predicate: dl::Predicate {
                name: symbols.insert(name),
                terms,
            },
        });
    };
    let text = |symbols: &mut SymbolTable, s: &str| dl::Term::Str(symbols.insert(s));
    push(symbols, TIME, vec![dl::Term::Date(unix_secs(now))]);
    let t = text(symbols, request.audience.as_str());
    push(symbols, AUDIENCE, vec![t]);
    let t = text(symbols, &request.action);
    push(symbols, ACTION, vec![t]);
    push(
        symbols,
        BLOCKS,
        vec![dl::Term::Integer(i64::try_from(blocks).unwrap_or(i64::MAX))],
    );
    for s in &request.scopes {
        let t = text(symbols, s.as_str());
        push(symbols, SCOPE, vec![t]);
    }
    match &request.details {
        None => {
            let t = text(symbols, "");
            push(symbols, DETAIL, vec![t]);
        }
        Some(d) => {
            let t = text(symbols, d.kind());
            push(symbols, DETAIL, vec![t]);
            for (name, value) in d.fields() {
                let n = text(symbols, name);
                let decimal = value
                    .as_decimal()
                    .map(|dec| dl::Term::Integer(dec.scaled()));
                match value {
                    FieldValue::Str(s) => {
                        let v = text(symbols, s);
                        push(symbols, FIELD, vec![n.clone(), v]);
                        if let Some(dec) = decimal {
                            push(symbols, DECIMAL, vec![n, dec]);
                        }
                    }
                    FieldValue::Long(_) => {
                        if let Some(dec) = decimal {
                            push(symbols, DECIMAL, vec![n, dec]);
                        }
                    }
                    FieldValue::Bool(b) => {
                        push(symbols, FIELD, vec![n, dl::Term::Bool(*b)]);
                    }
                    FieldValue::List(items) => {
                        for item in items {
                            let v = text(symbols, item);
                            push(symbols, LIST, vec![n.clone(), v]);
                        }
                    }
                    FieldValue::Array(_) | FieldValue::Record(_) => {}
                }
            }
        }
    }
    for h in holders {
        push(
            symbols,
            HOLDER,
            vec![dl::Term::Bytes(h.to_bytes().to_vec())],
        );
    }
    facts
}
