//! The facts a request contributes to the token's Datalog (the public vocabulary, see the
//! crate docs): as Biscuit builder facts, and built directly in a chain's symbol table.

use std::time::SystemTime;

use biscuit_auth::builder::{self as bb, Fact};
use biscuit_auth::datalog::{self as dl, SymbolTable};

use crate::agent_keys::VerifyingKey;
use crate::clock::unix_secs;
use crate::details::FieldValue;
use crate::request::Request;

/// The facts a request contributes (the public vocabulary, see the crate docs).
pub(crate) fn request_facts(request: &Request, now: SystemTime, blocks: usize) -> Vec<Fact> {
    let mut facts = Vec::with_capacity(8);
    // Whole seconds since 1970 (`verify` refuses earlier clocks; bb::date would panic).
    facts.push(bb::fact("time", &[bb::Term::Date(unix_secs(now))]));
    facts.push(bb::fact(
        "request_audience",
        &[bb::string(request.audience.as_str())],
    ));
    facts.push(bb::fact("request_action", &[bb::string(&request.action)]));
    facts.push(bb::fact(
        "token_blocks",
        &[bb::int(i64::try_from(blocks).unwrap_or(i64::MAX))],
    ));
    for s in &request.scopes {
        facts.push(bb::fact("request_scope", &[bb::string(s.as_str())]));
    }
    match &request.details {
        None => facts.push(bb::fact("request_details", &[bb::boolean(false)])),
        Some(d) => {
            facts.push(bb::fact("request_details", &[bb::boolean(true)]));
            facts.push(bb::fact("request_detail_type", &[bb::string(d.kind())]));
            for (name, value) in d.fields() {
                let n = bb::string(name);
                match value {
                    FieldValue::Str(s) => {
                        facts.push(bb::fact("request_field", &[n.clone(), bb::string(s)]));
                        if let Some(dec) = value.as_decimal() {
                            facts.push(bb::fact("request_decimal", &[n, bb::int(dec.scaled())]));
                        }
                    }
                    FieldValue::Long(_) => {
                        if let Some(dec) = value.as_decimal() {
                            facts.push(bb::fact("request_decimal", &[n, bb::int(dec.scaled())]));
                        }
                    }
                    FieldValue::Bool(b) => {
                        facts.push(bb::fact("request_field", &[n, bb::boolean(*b)]));
                    }
                    FieldValue::List(items) => {
                        for item in items {
                            facts.push(bb::fact("request_list", &[n.clone(), bb::string(item)]));
                        }
                    }
                }
            }
        }
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
    push(symbols, "time", vec![dl::Term::Date(unix_secs(now))]);
    let t = text(symbols, request.audience.as_str());
    push(symbols, "request_audience", vec![t]);
    let t = text(symbols, &request.action);
    push(symbols, "request_action", vec![t]);
    push(
        symbols,
        "token_blocks",
        vec![dl::Term::Integer(i64::try_from(blocks).unwrap_or(i64::MAX))],
    );
    for s in &request.scopes {
        let t = text(symbols, s.as_str());
        push(symbols, "request_scope", vec![t]);
    }
    match &request.details {
        None => push(symbols, "request_details", vec![dl::Term::Bool(false)]),
        Some(d) => {
            push(symbols, "request_details", vec![dl::Term::Bool(true)]);
            let t = text(symbols, d.kind());
            push(symbols, "request_detail_type", vec![t]);
            for (name, value) in d.fields() {
                let n = text(symbols, name);
                let decimal = value
                    .as_decimal()
                    .map(|dec| dl::Term::Integer(dec.scaled()));
                match value {
                    FieldValue::Str(s) => {
                        let v = text(symbols, s);
                        push(symbols, "request_field", vec![n.clone(), v]);
                        if let Some(dec) = decimal {
                            push(symbols, "request_decimal", vec![n, dec]);
                        }
                    }
                    FieldValue::Long(_) => {
                        if let Some(dec) = decimal {
                            push(symbols, "request_decimal", vec![n, dec]);
                        }
                    }
                    FieldValue::Bool(b) => {
                        push(symbols, "request_field", vec![n, dl::Term::Bool(*b)]);
                    }
                    FieldValue::List(items) => {
                        for item in items {
                            let v = text(symbols, item);
                            push(symbols, "request_list", vec![n.clone(), v]);
                        }
                    }
                }
            }
        }
    }
    for h in holders {
        let t = text(symbols, &h.to_string());
        push(symbols, "request_holder", vec![t]);
    }
    facts
}
