//! Writes the shared test vectors: keys, tokens and `cases.json`.
//!
//! ```text
//! cargo run -p valet-token --example make_fixtures [-- <fixtures dir>]
//! ```
//!
//! The default directory is `fixtures/` at the repository root. New keys are generated on
//! every run, so every token changes; the cases do not. Every case is checked before
//! anything is written.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use valet_token::danger::{BearerMinting, DangerousVerifier};
use valet_token::*;

/// 2026-11-23T12:00:00Z, the fixed minting time.
const MINTED: u64 = 1_795_435_200;

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"));
    std::fs::create_dir_all(dir.join("keys"))?;
    std::fs::create_dir_all(dir.join("tokens"))?;
    let dir = dir.canonicalize()?;

    let key1 = RootKeyPair::generate(KeyId(1));
    let key2 = RootKeyPair::generate(KeyId(2));
    let minted = UNIX_EPOCH + Duration::from_secs(MINTED);
    let pay = Audience::parse("https://pay.example.com")?;
    let tools = Audience::parse("https://tools.example.com")?;

    let mut grant = TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
        .bearer()
        .audience(pay)
        .audience(tools)
        .expires_in(Duration::from_secs(3600))
        .token_id("fixture-root")
        .detail(
            AuthorizationDetail::new("payment")
                .max("amount", "1000.00".parse()?)
                .one_of("currency", ["USD", "EUR"]),
        );
    for s in [
        "payments:write",
        "tools:read",
        "tools:write",
        "email:send",
        "calendar:read",
    ] {
        grant = grant.scope(Scope::parse(s)?);
    }
    let root = Issuer::new(key1.clone()).mint_at(grant.clone(), minted)?;
    let invoice = root.attenuate(
        Attenuation::new()
            .delegate("invoice-agent")
            .max("payment", "amount", "50.00".parse()?)
            .one_of("payment", "recipient", ["alice@example.com"]),
    )?;
    let key2_root = Issuer::new(key2.clone()).mint_at(grant, minted)?;

    let tokens = [
        ("root", &root),
        ("invoice-agent", &invoice),
        ("root-key-2", &key2_root),
    ];
    let cases = cases();
    check(&cases, &tokens, &[&key1, &key2])?;

    key1.write_private_file(dir.join("keys/root-1.private"), true)?;
    key1.public()
        .write_file(dir.join("keys/root-1.public"), true)?;
    key2.write_private_file(dir.join("keys/root-2.private"), true)?;
    key2.public()
        .write_file(dir.join("keys/root-2.public"), true)?;
    for (name, token) in tokens {
        std::fs::write(
            dir.join(format!("tokens/{name}.b64")),
            format!("{}\n", token.to_base64()),
        )?;
    }
    std::fs::write(
        dir.join("cases.json"),
        format!("{}\n", serde_json::to_string_pretty(&cases)?),
    )?;
    println!("wrote {} cases to {}", cases.len(), dir.display());
    Ok(())
}

/// Runs every case against the tokens and keys about to be written.
fn check(cases: &[Value], tokens: &[(&str, &Token)], keys: &[&RootKeyPair]) -> Result<(), Error> {
    for case in cases {
        let name = case["name"].as_str().unwrap_or_default();
        let file = case["token"].as_str().unwrap_or_default();
        let token = tokens
            .iter()
            .find(|(n, _)| format!("tokens/{n}.b64") == file)
            .map(|(_, t)| *t)
            .ok_or_else(|| format!("{name}: no token {file}"))?;
        let mut set = KeySet::new();
        for k in case["keys"].as_array().into_iter().flatten() {
            let k = k.as_str().unwrap_or_default();
            let key = keys
                .iter()
                .find(|p| format!("keys/root-{}.public", p.id()) == k)
                .ok_or_else(|| format!("{name}: no key {k}"))?;
            set.insert(key.public());
        }
        let now = time::OffsetDateTime::parse(
            case["now"].as_str().unwrap_or_default(),
            &time::format_description::well_known::Rfc3339,
        )?;
        let now = SystemTime::from(now);
        let verifier = Verifier::new(set).accept_bearer_tokens();
        let request = Request::from_json_value(&case["request"], verifier.limits())?;
        let verdict = verifier.verify(token, &request, now, &NoRevocations);
        let expect_allow = case["expect"] == "allow";
        if verdict.is_allowed() != expect_allow {
            return Err(format!("{name}: expected {}, got {verdict:?}", case["expect"]).into());
        }
        if let Some(text) = case["reason_contains"].as_str() {
            if !verdict.reasons().iter().any(|r| r.message.contains(text)) {
                return Err(format!("{name}: no reason contains {text:?}: {verdict:?}").into());
            }
        }
    }
    Ok(())
}

fn payment(amount: &str, currency: &str, recipient: &str) -> Value {
    json!({
        "audience": "https://pay.example.com",
        "action": "pay_invoice",
        "authorization_details": {
            "type": "payment",
            "amount": amount,
            "currency": currency,
            "recipient": recipient
        },
        "scopes": ["payments:write"]
    })
}

/// `request` with the transaction member `name` set to `value`.
fn detail(mut request: Value, name: &str, value: Value) -> Value {
    if let Some(details) = request
        .get_mut("authorization_details")
        .and_then(Value::as_object_mut)
    {
        details.insert(name.to_owned(), value);
    }
    request
}

fn case(name: &str, token: &str, now: &str, request: Value, expect: &str) -> Value {
    json!({
        "name": name,
        "token": format!("tokens/{token}.b64"),
        "keys": ["keys/root-1.public"],
        "now": now,
        "request": request,
        "expect": expect,
    })
}

fn deny(name: &str, token: &str, now: &str, request: Value, reason: &str) -> Value {
    set(
        case(name, token, now, request, "deny"),
        "reason_contains",
        json!(reason),
    )
}

fn set(mut case: Value, member: &str, value: Value) -> Value {
    if let Some(obj) = case.as_object_mut() {
        obj.insert(member.to_owned(), value);
    }
    case
}

fn cases() -> Vec<Value> {
    const IN: &str = "2026-11-23T12:30:00Z";
    let alice = "alice@example.com";
    let key2_only_1 = deny(
        "token signed by key 2, verifier trusts only key 1",
        "root-key-2",
        IN,
        payment("10.00", "USD", alice),
        "key id 2",
    );
    let key2_both = case(
        "token signed by key 2, verifier trusts keys 1 and 2",
        "root-key-2",
        IN,
        payment("10.00", "USD", alice),
        "allow",
    );
    let key2_both = set(
        key2_both,
        "keys",
        json!(["keys/root-1.public", "keys/root-2.public"]),
    );
    vec![
        case(
            "root pays 500.00 USD",
            "root",
            IN,
            payment("500.00", "USD", "bob@example.com"),
            "allow",
        ),
        case(
            "root pays exactly its 1000.00 EUR maximum",
            "root",
            IN,
            payment("1000.00", "EUR", alice),
            "allow",
        ),
        deny(
            "root refuses 1000.01",
            "root",
            IN,
            payment("1000.01", "USD", alice),
            "the token limits payment amount to at most 1000.00, requested `1000.01`",
        ),
        deny(
            "root refuses a negative amount (a max alone has a min of 0.00)",
            "root",
            IN,
            payment("-0.01", "USD", alice),
            "the token limits payment amount to at least 0.00, requested `-0.01`",
        ),
        deny(
            "root refuses a currency outside its set",
            "root",
            IN,
            payment("10.00", "GBP", alice),
            "requested `GBP`",
        ),
        case(
            "root reads tools with a granted scope",
            "root",
            IN,
            json!({"audience": "https://tools.example.com", "action": "search", "scopes": ["tools:read"]}),
            "allow",
        ),
        deny(
            "root refuses a scope it does not grant",
            "root",
            IN,
            json!({"audience": "https://tools.example.com", "action": "search", "scopes": ["admin"]}),
            "the token does not grant scope `admin`",
        ),
        deny(
            "root refuses another audience",
            "root",
            IN,
            json!({"audience": "https://mail.example.com", "action": "send"}),
            "token is for https://pay.example.com, https://tools.example.com, presented at https://mail.example.com",
        ),
        deny(
            "root refuses a transaction type it does not grant",
            "root",
            IN,
            json!({"audience": "https://pay.example.com", "action": "transfer",
                   "authorization_details": {"type": "transfer", "amount": "1.00"}}),
            "the token grants no `transfer` transactions",
        ),
        case(
            "root is valid at its expiry second",
            "root",
            "2026-11-23T13:00:00Z",
            payment("10.00", "USD", alice),
            "allow",
        ),
        deny(
            "root is expired one second later",
            "root",
            "2026-11-23T13:00:01Z",
            payment("10.00", "USD", alice),
            "token expired at 2026-11-23T13:00:00Z",
        ),
        case(
            "invoice agent pays 50.00 to alice",
            "invoice-agent",
            IN,
            payment("50.00", "USD", alice),
            "allow",
        ),
        deny(
            "invoice agent refuses 50.01",
            "invoice-agent",
            IN,
            payment("50.01", "USD", alice),
            "block 1 (delegate: invoice-agent) limits payment amount to 50.00, requested `50.01`",
        ),
        deny(
            "invoice agent refuses 50.0001",
            "invoice-agent",
            IN,
            payment("50.0001", "USD", alice),
            "requested `50.0001`",
        ),
        deny(
            "invoice agent refuses an amount with five decimals",
            "invoice-agent",
            IN,
            payment("50.00001", "USD", alice),
            "50.00001",
        ),
        deny(
            "invoice agent refuses a negative amount (a max alone has a min of 0.00)",
            "invoice-agent",
            IN,
            payment("-1000000.00", "USD", alice),
            // The block states no floor of its own: the root's, which it keeps, refuses.
            "the token limits payment amount to at least 0.00, requested `-1000000.00`",
        ),
        deny(
            "invoice agent refuses another recipient",
            "invoice-agent",
            IN,
            payment("10.00", "USD", "bob@example.com"),
            "block 1 (delegate: invoice-agent) limits payment recipient to one of `alice@example.com`, requested `bob@example.com`",
        ),
        deny(
            "invoice agent still honours the root's currencies",
            "invoice-agent",
            IN,
            payment("10.00", "GBP", alice),
            "requested `GBP`",
        ),
        case(
            "invoice agent pays with objects and arrays in fields no limit names",
            "invoice-agent",
            IN,
            [
                (
                    "trip",
                    json!({"legs": [{"from": "CDG", "to": "JFK", "seats": 2}]}),
                ),
                (
                    "approver",
                    json!({"__entity": {"type": "User", "id": "bob@example.com"}}),
                ),
                ("codes", json!([1, "two", ["three"]])),
            ]
            .into_iter()
            .fold(payment("10.00", "USD", alice), |r, (name, value)| {
                detail(r, name, value)
            }),
            "allow",
        ),
        deny(
            "invoice agent refuses an amount sent as an object",
            "invoice-agent",
            IN,
            detail(
                payment("10.00", "USD", alice),
                "amount",
                json!({"__extn": {"fn": "decimal", "arg": "10.00"}}),
            ),
            "block 1 (delegate: invoice-agent) limits payment amount to 50.00, requested an object, which is not a decimal amount",
        ),
        deny(
            "root refuses a currency sent as an array",
            "root",
            IN,
            detail(payment("10.00", "USD", alice), "currency", json!(["USD", 1])),
            "the token limits payment currency to one of `EUR`, `USD`, requested an array, which is not a string",
        ),
        key2_only_1,
        key2_both,
    ]
}
