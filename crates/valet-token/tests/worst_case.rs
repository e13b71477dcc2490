#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Worst-case decision times: tokens within the size limits built to make the verifier
//! work as hard as it can (regexes, joins at the combination limit with costly
//! expressions, scans over every fact, string scans and concatenations over the longest
//! strings, large constant sets, many checks), each verified by a fresh verifier so the
//! chain is prepared too. Every one must be decided quickly: refused before it runs, or
//! run within the work budget.
//!
//! The assertion is a bound for a debug build (the test command), where the work costs
//! tens of times what it costs in release. To see the release figures:
//!
//! ```text
//! cargo test --release -p valet-token --test worst_case -- --nocapture
//! ```

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use valet_token::danger::{BearerMinting, DangerousVerifier};
use valet_token::*;

/// The slowest decision allowed in a debug build. In release, the worst case measured is a
/// few milliseconds (3.9 ms at most when last measured with the command above).
const DEBUG_BOUND: Duration = Duration::from_secs(1);

fn base(f: &Fixture) -> Token {
    f.mint(
        TokenBuilder::new("alice", "https://c.example")
            .bearer()
            .audience(aud(PAY))
            .expires_in(Duration::from_secs(600)),
    )
}

/// A request whose details hold `list` as the list field `t` and `long` as the string
/// field `s`.
fn request(list: usize, long: usize) -> Request {
    let items = (0..list).map(|i| format!("item{i:02}")).collect();
    let mut d = TransactionDetails::new("job").field("t", FieldValue::List(items));
    if long > 0 {
        d = d.with("s", "a".repeat(long));
    }
    Request::new(aud(PAY), "run").details(d)
}

/// Verifies with a fresh verifier (nothing cached) on another thread, so a decision that
/// would take minutes fails the test instead of hanging it.
fn timed(f: &Fixture, token: &Token, req: &Request) -> (Verdict, Duration) {
    let keys = KeySet::new().with(f.key.public());
    let (tx, rx) = mpsc::channel();
    let (token, req) = (token.clone(), req.clone());
    std::thread::spawn(move || {
        let verifier = Verifier::new(keys).accept_bearer_tokens();
        let start = Instant::now();
        let verdict = verifier.verify(&token, &req, now(), &NoRevocations);
        let _ = tx.send((verdict, start.elapsed()));
    });
    match rx.recv_timeout(DEBUG_BOUND * 10) {
        Ok(done) => done,
        Err(_) => panic!("no decision after {:?}", DEBUG_BOUND * 10),
    }
}

/// A set literal of `n` strings of `len` bytes each.
fn string_set(n: usize, len: usize) -> String {
    let items: Vec<String> = (0..n)
        .map(|i| format!("\"{:0>len$}\"", i, len = len))
        .collect();
    format!("{{{}}}", items.join(","))
}

/// The finding's token: three regexes and two joins over a 30-item list.
fn regex_token(t: &Token) -> (Token, Request) {
    let regex = "check if list(\"t\", $a), list(\"t\", $b), \
                 $a.matches(\"\\\\w{100}\"), $b.matches(\"\\\\w{100}\"), $a.matches(\"\\\\w{100}\")";
    (
        t.attenuate(Attenuation::new().check(regex)).unwrap(),
        request(30, 0),
    )
}

type Build = fn(&Token, usize) -> (Token, Request);

/// Families of costly tokens, each grown by a size until the budget refuses it: `check
/// all` and failing `check if` run every combination, the worst for the verifier.
const FAMILIES: &[(&str, &[usize], Build)] = &[
    (
        "two joins over a list, a 400-string set per combination",
        &[2, 4, 6, 8, 10, 12, 15, 20, 30],
        |t, n| {
            let set = string_set(400, 4);
            let code = format!(
                "check all list(\"t\", $a), list(\"t\", $b), !{set}.contains($a), !{set}.contains($b)"
            );
            (append_raw(t, &code), request(n, 0))
        },
    ),
    (
        "three joins over a list, a 100-string set per combination",
        &[2, 4, 6, 8, 10, 12, 15, 21],
        |t, n| {
            let set = string_set(100, 4);
            let code = format!(
                "check all list(\"t\", $a), list(\"t\", $b), list(\"t\", $c), !{set}.contains($a), !{set}.contains($c)"
            );
            (append_raw(t, &code), request(n, 0))
        },
    ),
    (
        "two joins over facts of the block, then a scan of every fact per combination",
        &[5, 10, 15, 20, 30, 40, 60, 100],
        |t, n| {
            let facts: String = (0..n).map(|i| format!("p({i});")).collect();
            let fill: String = (0..800).map(|i| format!("q({i});")).collect();
            let code = format!("{facts}{fill}check if p($a), p($b), none($a, $b)");
            (append_raw(t, &code), request(30, 0))
        },
    ),
    (
        "string scans of a 60 KB field over a join",
        &[1, 2, 3, 4, 6, 8, 12, 20, 30],
        |t, n| {
            let pattern = "b".repeat(64);
            let code = format!(
                "check all field(\"s\", $s), list(\"t\", $a), list(\"t\", $b), \
                 !$s.contains(\"{pattern}\"), !$s.ends_with(\"{pattern}\"), !$s.contains($a), !$s.starts_with($b)"
            );
            (append_raw(t, &code), request(n, 60_000))
        },
    ),
    (
        "concatenations of a 15 KB field and type() over a join",
        &[1, 2, 3, 4, 6, 8, 12, 20, 30],
        |t, n| {
            let code = "check all field(\"s\", $s), list(\"t\", $a), list(\"t\", $b), \
                        ($s + $s + $s + $s + $s + $s + $s + $s).length() > 0, \
                        $a.type() == \"string\", $b.type() == \"string\"";
            (append_raw(t, code), request(n, 15_000))
        },
    ),
    (
        "a fact holding a 600-item set, compared per combination",
        &[1, 2, 3, 4, 6, 8, 12, 20, 30],
        |t, n| {
            let set = (0..600)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let code = format!(
                "big({{{set}}}); check all big($x), list(\"t\", $a), list(\"t\", $b), \
                 $x.contains($x), $x.union($x).contains($x), $x.intersection($x) == $x"
            );
            (append_raw(t, &code), request(n, 0))
        },
    ),
    (
        "many checks, each over 200 facts",
        &[10, 25, 50, 100, 200, 300, 500],
        |t, n| {
            let fill: String = (0..200).map(|i| format!("q({i});")).collect();
            let checks: String = (0..n).map(|_| "check all q($x), $x >= 0;").collect();
            (append_raw(t, &format!("{fill}{checks}")), request(30, 0))
        },
    ),
    (
        "a 250-operation expression over a join",
        &[2, 4, 6, 8, 10, 15, 20, 30],
        |t, n| {
            let sum = (0..50)
                .map(|i| format!("$a.length() + {i}"))
                .collect::<Vec<_>>();
            let code = format!(
                "check all list(\"t\", $a), list(\"t\", $b), {} > 0",
                sum.join(" + ")
            );
            (append_raw(t, &code), request(n, 0))
        },
    ),
    (
        "many predicates, each matching one of 900 facts",
        &[10, 50, 100, 200, 400, 800],
        |t, n| {
            let fill: String = (0..900).map(|i| format!("f({i});")).collect();
            let preds = (0..n)
                .map(|i| format!("f({})", i % 900))
                .collect::<Vec<_>>();
            let code = format!("{fill}check if {}, none(0)", preds.join(", "));
            (append_raw(t, &code), request(1, 0))
        },
    ),
    (
        "sixteen blocks, a join in each",
        &[2, 4, 6, 8, 10, 15, 20, 30],
        |t, n| {
            let set = string_set(60, 4);
            let code = format!(
                "check all list(\"t\", $a), list(\"t\", $b), !{set}.contains($a), !{set}.contains($b)"
            );
            let mut token = t.clone();
            for _ in 0..15 {
                token = append_raw(&token, &code);
            }
            (token, request(n, 0))
        },
    ),
];

/// The cost the verifier counts for `token` and `req`, read from the refusal of a
/// verifier whose budget is zero.
fn counted_cost(f: &Fixture, token: &Token, req: &Request) -> Option<u64> {
    let v = Verifier::new(KeySet::new().with(f.key.public()))
        .accept_bearer_tokens()
        .with_limits(Limits {
            max_datalog_cost: 0,
            ..Limits::default()
        });
    let verdict = v.verify(token, req, now(), &NoRevocations);
    let message = &verdict.reasons().first()?.message;
    let (_, rest) = message.split_once("could cost ")?;
    rest.split(' ').next()?.parse().ok()
}

#[test]
fn a_regex_check_cannot_hang_the_verifier() {
    let f = fixture();
    let (token, req) = regex_token(&base(&f));
    let (verdict, took) = timed(&f, &token, &req);
    assert!(took < DEBUG_BOUND, "{took:?}");
    assert_denied(&verdict, ReasonKind::Format, "`.matches`");
}

#[test]
fn a_join_of_expensive_expressions_is_refused_or_bounded() {
    let f = fixture();
    let t = base(&f);
    let mut slowest = (String::new(), Duration::ZERO);
    for (name, sizes, build) in FAMILIES {
        for &n in *sizes {
            let (token, req) = build(&t, n);
            if token.to_bytes().len() > 16 * 1024 {
                println!(
                    "{:>12} {:>10}        {name} ({n}): over the size limit",
                    "-", "-"
                );
                continue;
            }
            // The fastest of three runs: the work a decision costs, without the noise of
            // other processes on the machine.
            let (verdict, took) = (0..3)
                .map(|_| timed(&f, &token, &req))
                .min_by_key(|(_, took)| *took)
                .unwrap();
            let cost = counted_cost(&f, &token, &req).unwrap_or(0);
            let outcome = match verdict.reasons().first() {
                None => "allowed".to_owned(),
                Some(r) => r.message.chars().take(60).collect(),
            };
            println!("{took:>12.3?} {cost:>10} units  {name} ({n}): {outcome}");
            if took > slowest.1 {
                slowest = (format!("{name} ({n})"), took);
            }
        }
    }
    println!("slowest: {:?} ({})", slowest.1, slowest.0);
    assert!(slowest.1 < DEBUG_BOUND, "{}: {:?}", slowest.0, slowest.1);
}

#[test]
fn the_costly_checks_the_budget_lets_run_decide_as_biscuit_does() {
    // The evaluation looks at the clock for every combination, with its own loop over
    // Biscuit's joins: `check if`, `check all` and `reject if` keep Biscuit's meanings.
    let f = fixture();
    let t = base(&f);
    let keys = KeySet::new().with(f.key.public());
    let reference = Verifier::new(keys.clone())
        .accept_bearer_tokens()
        .reference_datalog();
    let engine = Verifier::new(keys).accept_bearer_tokens();
    for (name, sizes, build) in FAMILIES {
        let (token, req) = build(&t, sizes[0]);
        let got = engine.verify(&token, &req, now(), &NoRevocations);
        if got.reasons().iter().any(|r| r.kind != ReasonKind::Check) {
            continue;
        }
        let expected = reference.verify(&token, &req, now(), &NoRevocations);
        assert_eq!(got.is_allowed(), expected.is_allowed(), "{name}");
        assert_eq!(got.reasons(), expected.reasons(), "{name}");
    }
    for check in [
        "reject if list(\"t\", $a), $a.starts_with(\"item0\")",
        "reject if list(\"t\", $a), $a == \"nothing\"",
        "check all list(\"t\", $a), $a.starts_with(\"item0\")",
        "check all list(\"t\", $a), list(\"t\", $b), $a != $b",
        "check if list(\"t\", $a), list(\"t\", $b), $a != $b, $b.ends_with(\"3\")",
        "check if none($a), $a == 1 or list(\"t\", \"item02\")",
    ] {
        let token = t.attenuate(Attenuation::new().check(check)).unwrap();
        let req = request(5, 0);
        let got = engine.verify(&token, &req, now(), &NoRevocations);
        let expected = reference.verify(&token, &req, now(), &NoRevocations);
        assert_eq!(got.is_allowed(), expected.is_allowed(), "{check}");
        assert_eq!(got.reasons(), expected.reasons(), "{check}");
    }
}
