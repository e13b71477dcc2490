#![no_main]
//! Tokens built from a grammar of costly Datalog (joins over request lists and block
//! facts, set and string operations over large operands, concatenations, `.type()`,
//! arithmetic, many checks and blocks) -> verify, timing each decision. Prints every new
//! slowest decision and writes its input to `fuzz/artifacts/slow_token/slowest`; with
//! `SLOW_TOKEN_MAX_MS` set, a decision slower than that is a crash.
#[path = "common.rs"]
mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use valet_token::danger::DangerousVerifier;
use valet_token::*;

#[derive(Arbitrary, Debug)]
enum Pred {
    /// `list("t", $v)`
    List(u8),
    /// `field("s", $s)`
    Long,
    /// `p($v)`, facts of the block
    P(u8),
    /// `big($x)`, a fact holding a set
    Big,
    /// `none($v)`, matched by nothing
    Nothing(u8),
}

#[derive(Arbitrary, Debug)]
enum Expr {
    SetContains(u8, u8),
    StrContains(u8),
    Prefix(u8),
    Suffix(u8),
    Concat(u8),
    TypeOf(u8),
    Sum(u8, u8),
    SetOps,
    Ge(u8),
    Ne(u8, u8),
}

#[derive(Arbitrary, Debug)]
struct Check {
    kind: u8,
    preds: Vec<Pred>,
    exprs: Vec<Expr>,
    copies: u8,
}

#[derive(Arbitrary, Debug)]
struct Block {
    p_facts: u8,
    fill_facts: u16,
    big_set: u16,
    checks: Vec<Check>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    blocks: Vec<Block>,
    list_items: u8,
    long: u16,
}

const VARS: [&str; 3] = ["$a", "$b", "$c"];

fn var(v: u8) -> &'static str {
    VARS[usize::from(v) % VARS.len()]
}

fn code(block: &Block) -> String {
    let mut out = String::new();
    for i in 0..block.p_facts % 101 {
        out.push_str(&format!("p({i});"));
    }
    for i in 0..block.fill_facts % 901 {
        out.push_str(&format!("q({i});"));
    }
    if block.big_set > 0 {
        let items: Vec<String> = (0..block.big_set % 1500).map(|i| i.to_string()).collect();
        out.push_str(&format!("big({{{}}});", items.join(",")));
    }
    for c in block.checks.iter().take(64) {
        let mut parts: Vec<String> = c
            .preds
            .iter()
            .take(64)
            .map(|p| match p {
                Pred::List(v) => format!("list(\"t\", {})", var(*v)),
                Pred::Long => "field(\"s\", $s)".to_owned(),
                Pred::P(v) => format!("p({})", var(*v)),
                Pred::Big => "big($x)".to_owned(),
                Pred::Nothing(v) => format!("none({})", var(*v)),
            })
            .collect();
        if parts.is_empty() {
            parts.push("true".to_owned());
        }
        for e in c.exprs.iter().take(32) {
            parts.push(match e {
                Expr::SetContains(v, n) => {
                    let items: Vec<String> =
                        (0..u16::from(*n) * 2).map(|i| format!("\"{i:04}\"")).collect();
                    format!("!{{{}}}.contains({})", items.join(","), var(*v))
                }
                Expr::StrContains(n) => {
                    format!("!$s.contains(\"{}\")", "b".repeat(usize::from(*n)))
                }
                Expr::Prefix(v) => format!("!$s.starts_with({})", var(*v)),
                Expr::Suffix(n) => format!("!$s.ends_with(\"{}\")", "b".repeat(usize::from(*n))),
                Expr::Concat(n) => {
                    let terms = vec!["$s"; usize::from(*n % 16) + 1];
                    format!("({}).length() > 0", terms.join(" + "))
                }
                Expr::TypeOf(v) => format!("{}.type() != \"x\"", var(*v)),
                Expr::Sum(v, n) => {
                    let terms: Vec<String> = (0..usize::from(*n % 80) + 1)
                        .map(|i| format!("{}.length() + {i}", var(*v)))
                        .collect();
                    format!("{} > 0", terms.join(" + "))
                }
                Expr::SetOps => "$x.union($x).contains($x), $x.intersection($x) == $x".to_owned(),
                Expr::Ge(v) => format!("{} != \"\"", var(*v)),
                Expr::Ne(v, w) => format!("{} != {}", var(*v), var(*w)),
            });
        }
        let kind = match c.kind % 3 {
            0 => "check if",
            1 => "check all",
            _ => "reject if",
        };
        for _ in 0..=c.copies % 8 {
            out.push_str(&format!("{kind} {};", parts.join(", ")));
        }
    }
    out
}

fn append(token: &Token, code: &str) -> Option<Token> {
    let builder = biscuit_auth::builder::BlockBuilder::new().code(code).ok()?;
    let appended = biscuit_auth::UnverifiedBiscuit::from(token.to_bytes())
        .ok()?
        .append(builder)
        .ok()?;
    Token::from_bytes(&appended.to_vec().ok()?).ok()
}

static SLOWEST: Mutex<Duration> = Mutex::new(Duration::ZERO);

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::arbitrary(&mut Unstructured::new(data)) else {
        return;
    };
    let mut token = common::root_token().clone();
    for block in input.blocks.iter().take(15) {
        if let Some(next) = append(&token, &code(block)) {
            token = next;
        }
    }
    let items = (0..input.list_items % 61).map(|i| format!("item{i:02}")).collect();
    let mut details = TransactionDetails::new("job").field("t", FieldValue::List(items));
    if input.long > 0 {
        details = details.with("s", "a".repeat(usize::from(input.long % 60_001)));
    }
    let request = Request::new(common::audience(), "run").details(details);
    // A fresh verifier, so the chain is prepared for every input as for a new token; it
    // accepts the bearer token, so that every check runs.
    let verifier =
        Verifier::new(KeySet::new().with(common::root().public())).accept_bearer_tokens();
    let start = Instant::now();
    let verdict = verifier.verify(&token, &request, common::now(), &NoRevocations);
    let took = start.elapsed();
    let mut slowest = SLOWEST.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if took > *slowest {
        *slowest = took;
        let outcome = verdict
            .reasons()
            .first()
            .map_or("allowed".to_owned(), |r| r.message.chars().take(100).collect());
        eprintln!(
            "slow_token: slowest decision {took:?} ({} token bytes, {} blocks): {outcome}",
            token.to_bytes().len(),
            token.block_count(),
        );
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/artifacts/slow_token");
        if std::fs::create_dir_all(dir).is_ok() {
            let _ = std::fs::write(format!("{dir}/slowest"), data);
        }
    }
    if let Some(max) = std::env::var("SLOW_TOKEN_MAX_MS")
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
    {
        assert!(
            took <= Duration::from_millis(max),
            "a decision took {took:?}, more than {max} ms"
        );
    }
});
