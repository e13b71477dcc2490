#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The shared test vectors in `fixtures/`: every case in `cases.json` holds.

use std::path::PathBuf;
use std::time::SystemTime;

use serde_json::Value;
use valet_token::danger::DangerousVerifier;
use valet_token::*;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn read(path: &str) -> String {
    let full = fixtures().join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn cases() -> Vec<Value> {
    serde_json::from_str::<Value>(&read("cases.json"))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn parse_time(text: &str) -> SystemTime {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap()
        .into()
}

#[test]
fn every_case_holds() {
    let cases = cases();
    assert!(cases.len() >= 15, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let token = Token::from_base64(&read(case["token"].as_str().unwrap())).unwrap();
        let mut keys = KeySet::new();
        for k in case["keys"].as_array().unwrap() {
            keys.insert(RootPublicKey::from_text(&read(k.as_str().unwrap())).unwrap());
        }
        let verifier = Verifier::new(keys).accept_bearer_tokens();
        let request = Request::from_json_value(&case["request"], verifier.limits()).unwrap();
        let now = parse_time(case["now"].as_str().unwrap());
        let verdict = verifier.verify(&token, &request, now, &NoRevocations);
        // The same through the binary entry point.
        let again = verifier.verify_bytes(token.to_bytes(), &request, now, &NoRevocations);
        assert_eq!(verdict.is_allowed(), again.is_allowed(), "{name}");
        let expect = case["expect"].as_str().unwrap();
        assert!(
            matches!(expect, "allow" | "deny"),
            "{name}: expect {expect}"
        );
        if verdict.is_allowed() != (expect == "allow") {
            failures.push(format!(
                "{name}: expected {expect}, got {:?}",
                verdict.reasons()
            ));
            continue;
        }
        if let Some(text) = case.get("reason_contains").and_then(Value::as_str) {
            assert_eq!(expect, "deny", "{name}: reason_contains on an allow");
            if !verdict.reasons().iter().any(|r| r.message.contains(text)) {
                failures.push(format!(
                    "{name}: no reason contains {text:?}: {:?}",
                    verdict.reasons()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // Both outcomes are covered.
    assert!(cases.iter().any(|c| c["expect"] == "allow"));
    assert!(cases.iter().any(|c| c["expect"] == "deny"));
}

#[test]
fn a_verifier_with_the_defaults_refuses_every_fixture_token_as_a_bearer_token() {
    // The cases that allow need the bearer opt-in: the fixture tokens bind no holder key.
    for case in cases().iter().filter(|c| c["expect"] == "allow") {
        let name = case["name"].as_str().unwrap();
        let token = Token::from_base64(&read(case["token"].as_str().unwrap())).unwrap();
        assert_eq!(token.unverified_claims().unwrap().holder, None, "{name}");
        let mut keys = KeySet::new();
        for k in case["keys"].as_array().unwrap() {
            keys.insert(RootPublicKey::from_text(&read(k.as_str().unwrap())).unwrap());
        }
        let verifier = Verifier::new(keys);
        let request = Request::from_json_value(&case["request"], verifier.limits()).unwrap();
        let now = parse_time(case["now"].as_str().unwrap());
        let verdict = verifier.verify(&token, &request, now, &NoRevocations);
        assert!(!verdict.is_allowed(), "{name}");
        assert!(
            verdict
                .reasons()
                .iter()
                .any(|r| r.kind == ReasonKind::Holder && r.message.contains("bearer token")),
            "{name}: {:?}",
            verdict.reasons()
        );
    }
}

#[test]
fn fixture_tokens_say_what_the_readme_says() {
    let root = Token::from_base64(&read("tokens/root.b64")).unwrap();
    let c = root.unverified_claims().unwrap();
    assert_eq!(c.subject, "alice@example.com");
    assert_eq!(c.client, "https://orchestrator.example/client");
    assert_eq!(
        c.audiences.iter().map(Audience::as_str).collect::<Vec<_>>(),
        ["https://pay.example.com", "https://tools.example.com"]
    );
    let mut scopes: Vec<&str> = c.scopes.iter().map(Scope::as_str).collect();
    scopes.sort_unstable();
    assert_eq!(
        scopes,
        [
            "calendar:read",
            "email:send",
            "payments:write",
            "tools:read",
            "tools:write"
        ]
    );
    assert_eq!(c.key_id, Some(KeyId(1)));
    assert_eq!(rfc3339(c.expires_at), "2026-11-23T13:00:00Z");
    assert_eq!(
        c.effective_limit("payment", "amount"),
        Some(Limit::at_most("1000.00".parse().unwrap()))
    );
    assert_eq!(
        c.effective_limit("payment", "currency"),
        Some(Limit::OneOf(["USD".to_string(), "EUR".to_string()].into()))
    );

    let child = Token::from_base64(&read("tokens/invoice-agent.b64")).unwrap();
    let c = child.unverified_claims().unwrap();
    assert_eq!(c.agent(), "invoice-agent");
    assert_eq!(child.revocation_ids()[0], root.revocation_ids()[0]);
    assert_eq!(
        c.effective_limit("payment", "amount"),
        Some(Limit::at_most("50.00".parse().unwrap()))
    );
    assert_eq!(
        c.effective_limit("payment", "recipient"),
        Some(Limit::OneOf(["alice@example.com".to_string()].into()))
    );

    let two = Token::from_base64(&read("tokens/root-key-2.b64")).unwrap();
    assert_eq!(two.key_id(), Some(KeyId(2)));
}

#[test]
fn fixture_keys_pair_up() {
    for id in [1, 2] {
        let private =
            RootKeyPair::from_private_text(&read(&format!("keys/root-{id}.private"))).unwrap();
        let public = RootPublicKey::from_text(&read(&format!("keys/root-{id}.public"))).unwrap();
        assert_eq!(private.id(), KeyId(id));
        assert_eq!(private.public(), public);
    }
    let k1 = RootPublicKey::from_text(&read("keys/root-1.public")).unwrap();
    let k2 = RootPublicKey::from_text(&read("keys/root-2.public")).unwrap();
    assert_ne!(k1.key(), k2.key());
    // Written 0600 by the generator; a fresh checkout may need `chmod 600` (see the README).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let path = fixtures().join("keys/root-1.private");
        if std::fs::metadata(&path).unwrap().permissions().mode() & 0o077 == 0 {
            assert_eq!(RootKeyPair::read_file(&path).unwrap().id(), KeyId(1));
        } else {
            assert!(matches!(
                RootKeyPair::read_file(&path),
                Err(KeyError::Permissions { .. })
            ));
        }
    }
}
