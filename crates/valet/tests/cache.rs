#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail by panicking"
)]
//! The verified-chain cache and the policy index change no decision: an authorizer with
//! both on and one with both off give the same outcomes and reasons, over random
//! sequences of presentations, clock moves, revocations and tampered tokens.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use valet::danger::{BearerMinting, DangerousAuthorizerBuilder};
use valet::*;

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_600)
}

fn tokens(root: &RootKeyPair) -> Vec<Token> {
    let pay = Audience::parse("https://pay.example.com").unwrap();
    let mut t = Issuer::new(root.clone())
        .mint_at(
            TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
                .bearer()
                .audience(pay)
                .scope(Scope::parse("payments:write").unwrap())
                .expires_in(Duration::from_secs(600))
                .detail(
                    AuthorizationDetail::new("payment").max("amount", "1000.00".parse().unwrap()),
                ),
            now(),
        )
        .unwrap();
    let mut all = vec![t.clone()];
    for i in 1..4u64 {
        t = t
            .attenuate(
                Attenuation::new()
                    .delegate(format!("agent-{i}"))
                    .max(
                        "payment",
                        "amount",
                        format!("{}.00", 1000 - 300 * i).parse().unwrap(),
                    )
                    .expires_in(Duration::from_secs(600 - 100 * i))
                    .now(now()),
            )
            .unwrap();
        all.push(t.clone());
    }
    all
}

#[derive(Clone, Debug)]
enum Op {
    Present {
        token: usize,
        amount: u32,
        audience: bool,
        action: bool,
        tamper: Option<usize>,
    },
    Advance(u64),
    Revoke {
        token: usize,
        block: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..4, 0u32..1200, any::<bool>(), any::<bool>(), prop::option::of(0usize..2000))
            .prop_map(|(token, amount, audience, action, tamper)| Op::Present { token, amount, audience, action, tamper }),
        1 => (0u64..300).prop_map(Op::Advance),
        1 => (0usize..4, 0usize..4).prop_map(|(token, block)| Op::Revoke { token, block }),
    ]
}

fn summary(d: &Decision) -> (Outcome, Vec<String>) {
    (
        d.outcome(),
        d.reasons().iter().map(|r| r.message.clone()).collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn cache_and_index_change_no_decision(ops in prop::collection::vec(op(), 1..40)) {
        let root = RootKeyPair::generate(KeyId(1));
        let tokens = tokens(&root);
        let clock = Arc::new(FixedClock::new(now()));
        let revocations = Arc::new(MemoryRevocations::new());
        let build = |fast: bool| {
            let b = Authorizer::builder(
                KeySet::new().with(root.public()),
                PolicyStore::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies")).unwrap(),
            )
    .accept_bearer_tokens()
            .clock(clock.clone())
            .revocations(revocations.clone());
            if fast { b } else { b.verified_cache(0).unindexed_policies() }.build()
        };
        let (fast, plain) = (build(true), build(false));
        for op in ops {
            match op {
                Op::Present { token, amount, audience, action, tamper } => {
                    let t = &tokens[token];
                    let mut bytes = t.to_bytes().to_vec();
                    if let Some(i) = tamper {
                        let i = i % bytes.len();
                        bytes[i] ^= 0x01;
                    }
                    let aud = if audience { "https://pay.example.com" } else { "https://evil.example" };
                    let req = Request::new(Audience::parse(aud).unwrap(), if action { "pay_invoice" } else { "read_file" })
                        .details(
                            TransactionDetails::new("payment")
                                .with("amount", format!("{amount}.00"))
                                .with("currency", "USD")
                                .with("recipient", "alice@example.com"),
                        );
                    // Twice each: the second presentation of the same bytes hits the cache.
                    for _ in 0..2 {
                        prop_assert_eq!(
                            summary(&fast.authorize_encoded(valet::Encoded::Bytes(&bytes), &req, &valet::Presentation::new())),
                            summary(&plain.authorize_encoded(valet::Encoded::Bytes(&bytes), &req, &valet::Presentation::new()))
                        );
                    }
                }
                Op::Advance(s) => clock.advance(Duration::from_secs(s)),
                Op::Revoke { token, block } => {
                    if let Some(id) = tokens[token].revocation_ids().get(block) {
                        revocations.revoke(id.clone()).unwrap();
                    }
                }
            }
        }
    }
}

#[test]
fn a_cached_token_is_refused_once_revoked_or_expired_or_tampered() {
    let root = RootKeyPair::generate(KeyId(1));
    let tokens = tokens(&root);
    let clock = Arc::new(FixedClock::new(now()));
    let revocations = Arc::new(MemoryRevocations::new());
    let az = Authorizer::builder(
        KeySet::new().with(root.public()),
        PolicyStore::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies")).unwrap(),
    )
    .accept_bearer_tokens()
    .clock(clock.clone())
    .revocations(revocations.clone())
    .build();
    let req = Request::new(
        Audience::parse("https://pay.example.com").unwrap(),
        "pay_invoice",
    )
    .details(
        TransactionDetails::new("payment")
            .with("amount", "50.00")
            .with("currency", "USD")
            .with("recipient", "alice@example.com"),
    );
    let bytes = tokens[2].to_bytes().to_vec();
    assert!(az
        .authorize_encoded(
            valet::Encoded::Bytes(&bytes),
            &req,
            &valet::Presentation::new()
        )
        .allowed());
    assert!(az
        .authorize_encoded(
            valet::Encoded::Bytes(&bytes),
            &req,
            &valet::Presentation::new()
        )
        .allowed());
    // A flipped bit in the last signature: different bytes, verified afresh, refused.
    let mut tampered = bytes.clone();
    let last = tampered.len() - 40;
    tampered[last] ^= 0x80;
    assert!(!az
        .authorize_encoded(
            valet::Encoded::Bytes(&tampered),
            &req,
            &valet::Presentation::new()
        )
        .allowed());
    // Expiry still applies to a cached chain.
    clock.advance(Duration::from_secs(500));
    assert!(!az
        .authorize_encoded(
            valet::Encoded::Bytes(&bytes),
            &req,
            &valet::Presentation::new()
        )
        .allowed());
    clock.set(now());
    assert!(az
        .authorize_encoded(
            valet::Encoded::Bytes(&bytes),
            &req,
            &valet::Presentation::new()
        )
        .allowed());
    // So does revocation.
    revocations
        .revoke(tokens[2].revocation_ids()[1].clone())
        .unwrap();
    let d = az.authorize_encoded(
        valet::Encoded::Bytes(&bytes),
        &req,
        &valet::Presentation::new(),
    );
    assert!(!d.allowed());
    assert!(d.reasons()[0].message.contains("revoked"));
}

#[test]
fn early_refusals_are_denies_and_passing_them_still_needs_the_signatures() {
    let root = RootKeyPair::generate(KeyId(1));
    // The same key id under another key: every claim reads well, no signature verifies.
    let forger = RootKeyPair::generate(KeyId(1));
    let az = Authorizer::builder(
        KeySet::new().with(root.public()),
        PolicyStore::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies")).unwrap(),
    )
    .accept_bearer_tokens()
    .clock(Arc::new(FixedClock::new(now())))
    .build();
    let req = |aud: &str| {
        Request::new(Audience::parse(aud).unwrap(), "pay_invoice").details(
            TransactionDetails::new("payment")
                .with("amount", "50.00")
                .with("currency", "USD")
                .with("recipient", "alice@example.com"),
        )
    };
    let good = req("https://pay.example.com");
    let elsewhere = req("https://evil.example");
    for (t, forged) in tokens(&root)
        .into_iter()
        .map(|t| (t, false))
        .chain(tokens(&forger).into_iter().map(|t| (t, true)))
    {
        let d = az.authorize(&t, &elsewhere, &valet::Presentation::new());
        assert!(!d.allowed());
        assert!(!d.token_verified());
        assert_eq!(d.reasons()[0].kind, Some(valet_token::ReasonKind::Audience));
        let d = az.authorize(&t, &good, &valet::Presentation::new());
        assert_eq!(d.allowed(), !forged);
        if forged {
            assert_eq!(
                d.reasons()[0].kind,
                Some(valet_token::ReasonKind::Signature)
            );
        }
    }
}

#[test]
fn a_token_read_again_is_shared_only_with_the_cache_on() {
    let root = RootKeyPair::generate(KeyId(1));
    let tokens = tokens(&root);
    let build = |capacity: usize| {
        Authorizer::builder(
            KeySet::new().with(root.public()),
            PolicyStore::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies")).unwrap(),
        )
        .accept_bearer_tokens()
        .verified_cache(capacity)
        .clock(Arc::new(FixedClock::new(now())))
        .build()
    };
    let bytes = tokens[1].to_bytes();
    let cached = build(16);
    let (first, unverified) = (
        cached.read_token(bytes).unwrap(),
        cached.read_token(bytes).unwrap(),
    );
    assert!(
        !Arc::ptr_eq(&first, &unverified),
        "a token is shared only once its signatures verified"
    );
    // Judged once (its signatures verify, whatever the policies say): shared from then on.
    let req = Request::new(
        Audience::parse("https://pay.example.com").unwrap(),
        "read_file",
    );
    let _ = cached.authorize(&first, &req, &valet::Presentation::new());
    let (a, b) = (
        cached.read_token(bytes).unwrap(),
        cached.read_token(bytes).unwrap(),
    );
    assert!(Arc::ptr_eq(&a, &b), "the second read must share the first");
    let text = tokens[1].to_base64();
    assert!(Arc::ptr_eq(&a, &cached.read_token_base64(&text).unwrap()));
    let uncached = build(0);
    let (c, d) = (
        uncached.read_token(bytes).unwrap(),
        uncached.read_token(bytes).unwrap(),
    );
    assert!(!Arc::ptr_eq(&c, &d));
    assert_eq!(c.to_bytes(), bytes);
    // Over the size limit: refused unread, with the limit in the message.
    let huge = vec![0u8; cached.limits().max_token_bytes + 1];
    let err = cached.read_token(&huge).unwrap_err().to_string();
    assert!(err.contains("more than the limit"), "{err}");
}
