//! Regression tests for what fuzzing found, named after it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valet_token::danger::{BearerMinting, DangerousVerifier};
use valet_token::*;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

/// `fuzz/corpus/attenuation_sequence/regression-parent-timeout-under-load`: on a loaded
/// machine the parent's verification hit the Datalog time limit (a deny) while the child's
/// did not, which the fuzz target first read as a child allowing more than its parent.
/// The chain itself must be monotonic, and a time-limit deny is never an allow.
#[test]
fn parent_timeout_under_load_is_a_deny_and_the_chain_stays_monotonic() {
    let root = RootKeyPair::generate(KeyId(1));
    let pay = Audience::parse("https://pay.example.com").unwrap();
    let token = Issuer::new(root.clone())
        .mint_at(
            TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
                .bearer()
                .audience(pay.clone())
                .audience(Audience::parse("https://tools.example.com").unwrap())
                .scope(Scope::parse("payments:write").unwrap())
                .scope(Scope::parse("tools:read").unwrap())
                .expires_in(Duration::from_secs(3600))
                .detail(
                    AuthorizationDetail::new("payment")
                        .max("amount", "1000.00".parse().unwrap())
                        .one_of("currency", ["USD", "EUR"]),
                ),
            now(),
        )
        .unwrap();
    // The fuzzer's chain: a widening expiry (refused), an empty block, nine identical
    // recipient sets with a delegate, a depth cap.
    assert!(matches!(
        token.attenuate(
            Attenuation::new()
                .now(now())
                .expires_in(Duration::from_secs(28_265))
        ),
        Err(TokenError::Widening(_))
    ));
    let b1 = token.attenuate(Attenuation::new().now(now())).unwrap();
    let mut a = Attenuation::new().now(now());
    for _ in 0..9 {
        a = a.one_of(
            "payment",
            "recipient",
            ["alice@example.com", "carol@example.com"],
        );
    }
    let b2 = b1.attenuate(a.delegate("agent-5")).unwrap();
    let b3 = b2
        .attenuate(Attenuation::new().now(now()).max_depth(3))
        .unwrap();
    let request = Request::new(pay, "pay_invoice")
        .scope(Scope::parse("payments:write").unwrap())
        .details(
            TransactionDetails::new("payment")
                .with("amount", "0.00")
                .with("currency", "USD")
                .with("recipient", "alice@example.com"),
        );
    let verifier = Verifier::new(KeySet::new().with(root.public())).accept_bearer_tokens();
    let chain = [&token, &b1, &b2, &b3];
    let allowed: Vec<bool> = chain
        .iter()
        .map(|t| {
            verifier
                .verify(t, &request, now(), &NoRevocations)
                .is_allowed()
        })
        .collect();
    assert_eq!(allowed, [true, true, true, true]);

    // With no time at all for Datalog, every link is a deny, never an allow.
    let starved = Verifier::new(KeySet::new().with(root.public()))
        .accept_bearer_tokens()
        .with_limits(Limits {
            max_datalog_time: Duration::ZERO,
            ..Limits::default()
        });
    for t in chain {
        let v = starved.verify(t, &request, now(), &NoRevocations);
        assert!(!v.is_allowed());
        assert_eq!(v.reasons()[0].kind, ReasonKind::RunLimit);
    }
}
