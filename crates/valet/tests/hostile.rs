//! Hostile input at the front door: limits give typed errors or denies, internal failures
//! give denies, and no secret reaches a message, a record or a `Debug` output.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valet::danger::{BearerMinting, DangerousAuthorizerBuilder};
use valet::token::{Limits, ReasonKind, RequestError};
use valet::*;

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

fn mint(root: &RootKeyPair, builder: TokenBuilder) -> Token {
    Issuer::new(root.clone()).mint_at(builder, now()).unwrap()
}

fn grant() -> TokenBuilder {
    TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
        .bearer()
        .audience(Audience::parse("https://pay.example.com").unwrap())
        .scope(Scope::parse("payments:write").unwrap())
        .expires_in(Duration::from_secs(600))
}

fn authorizer(root: &RootKeyPair, clock: Arc<FixedClock>, audit: Arc<MemoryAudit>) -> Authorizer {
    Authorizer::builder(
        KeySet::new().with(root.public()),
        PolicyStore::load(POLICIES).unwrap(),
    )
    .accept_bearer_tokens()
    .clock(clock)
    .audit(audit)
    .build()
}

fn request() -> Request {
    Request::new(
        Audience::parse("https://pay.example.com").unwrap(),
        "pay_invoice",
    )
    .details(
        TransactionDetails::new("payment")
            .with("amount", "10.00")
            .with("currency", "USD")
            .with("recipient", "alice@example.com"),
    )
}

#[test]
fn request_json_over_the_size_limit_is_a_typed_error() {
    let limits = Limits {
        max_request_bytes: 256,
        ..Limits::default()
    };
    let memo = "x".repeat(300);
    let text = format!(
        r#"{{"audience":"https://pay.example.com","action":"pay_invoice","authorization_details":{{"type":"payment","memo":"{memo}"}}}}"#
    );
    assert!(matches!(
        Request::from_json(&text, &limits),
        Err(RequestError::TooLarge { max: 256, .. })
    ));
}

#[test]
fn request_json_nested_too_deep_is_a_typed_error_in_bounded_time() {
    let depth = 100_000;
    let text = format!(
        r#"{{"audience":"https://pay.example.com","action":"a","authorization_details":{}{}}}"#,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let limits = Limits {
        max_request_bytes: 1 << 20,
        ..Limits::default()
    };
    assert!(matches!(
        Request::from_json(&text, &limits),
        Err(RequestError::TooDeep { max: 10 })
    ));
}

#[test]
fn too_many_transaction_fields_is_a_typed_error() {
    let fields: Vec<String> = (0..40).map(|i| format!(r#""f{i}":"v""#)).collect();
    let text = format!(
        r#"{{"audience":"https://pay.example.com","action":"a","authorization_details":{{"type":"payment",{}}}}}"#,
        fields.join(",")
    );
    assert!(matches!(
        Request::from_json(&text, &Limits::default()),
        Err(RequestError::TooManyFields { count: 40, max: 32 })
    ));
}

#[test]
fn the_request_cannot_set_the_clock() {
    let text = r#"{"audience":"https://pay.example.com","action":"pay_invoice","time":"2020-01-01T00:00:00Z"}"#;
    let e = Request::from_json(text, &Limits::default()).unwrap_err();
    assert!(
        e.to_string().contains("unknown request member `time`"),
        "{e}"
    );
}

#[test]
fn clock_before_not_before_or_after_expiry_is_refused() {
    let root = RootKeyPair::generate(KeyId(1));
    let token = mint(&root, grant().not_before(now() + Duration::from_secs(60)));
    let clock = Arc::new(FixedClock::new(now()));
    let az = authorizer(&root, clock.clone(), Arc::new(MemoryAudit::new()));
    let d = az.authorize(&token, &request(), &valet::Presentation::new());
    assert_eq!(d.outcome(), Outcome::Deny);
    assert_eq!(d.reasons()[0].kind, Some(ReasonKind::NotYetValid));
    clock.set(now() + Duration::from_secs(60));
    assert!(az
        .authorize(&token, &request(), &valet::Presentation::new())
        .allowed());
    clock.set(now() + Duration::from_secs(600));
    assert!(az
        .authorize(&token, &request(), &valet::Presentation::new())
        .allowed());
    clock.set(now() + Duration::from_secs(601));
    let d = az.authorize(&token, &request(), &valet::Presentation::new());
    assert_eq!(d.reasons()[0].kind, Some(ReasonKind::Expired));
}

#[test]
fn internal_failures_on_the_decision_path_are_denies() {
    let root = RootKeyPair::generate(KeyId(1));
    let token = mint(&root, grant());
    // A clock before 1970.
    let before_epoch = Arc::new(FixedClock::new(UNIX_EPOCH));
    struct Broken;
    impl Clock for Broken {
        fn now(&self) -> SystemTime {
            UNIX_EPOCH - Duration::from_secs(10)
        }
    }
    let az = Authorizer::builder(
        KeySet::new().with(root.public()),
        PolicyStore::load(POLICIES).unwrap(),
    )
    .accept_bearer_tokens()
    .clock(Arc::new(Broken))
    .build();
    let d = az.authorize(&token, &request(), &valet::Presentation::new());
    assert_eq!(d.outcome(), Outcome::Deny);
    // A clock at the epoch would see the token live for 56 years: a deny that says so.
    let az = authorizer(&root, before_epoch, Arc::new(MemoryAudit::new()));
    let d = az.authorize(&token, &request(), &valet::Presentation::new());
    assert_eq!(d.outcome(), Outcome::Deny);
    assert!(
        d.reasons()[0].message.contains("the clock is wrong"),
        "{:?}",
        d.reasons()
    );
    // An empty key set trusts nothing.
    let az = Authorizer::builder(KeySet::new(), PolicyStore::load(POLICIES).unwrap())
        .accept_bearer_tokens()
        .clock(Arc::new(FixedClock::new(now())))
        .build();
    let d = az.authorize(&token, &request(), &valet::Presentation::new());
    assert_eq!(d.outcome(), Outcome::Deny);
    assert_eq!(d.reasons()[0].kind, Some(ReasonKind::UnknownKey));
    // A Datalog budget of nothing.
    let az = Authorizer::builder(
        KeySet::new().with(root.public()),
        PolicyStore::load(POLICIES).unwrap(),
    )
    .accept_bearer_tokens()
    .clock(Arc::new(FixedClock::new(now())))
    .limits(Limits {
        max_facts: 1,
        ..Limits::default()
    })
    .build();
    let d = az.authorize(&token, &request(), &valet::Presentation::new());
    assert_eq!(d.outcome(), Outcome::Deny);
    assert_eq!(d.reasons()[0].kind, Some(ReasonKind::RunLimit));
}

#[test]
fn no_secret_in_messages_records_or_debug_output() {
    let root = RootKeyPair::generate(KeyId(1));
    let other = RootKeyPair::generate(KeyId(1));
    let private_text = root.to_private_text();
    let private_hex = private_text
        .lines()
        .find_map(|l| l.strip_prefix("private-key: ed25519-private/"))
        .unwrap()
        .to_owned();
    let token = mint(&root, grant().token_id("t-1"));
    let token_text = token.to_base64();
    let forged = mint(&other, grant());
    let clock = Arc::new(FixedClock::new(now()));
    let audit = Arc::new(MemoryAudit::new());
    let az = authorizer(&root, clock.clone(), audit.clone());

    let mut outputs: Vec<String> = Vec::new();
    let mut decide = |t: &Token, r: &Request| {
        let d = az.authorize(t, r, &valet::Presentation::new());
        outputs.push(format!("{d}"));
        outputs.push(format!("{d:?}"));
        outputs.push(d.audit().to_json_line());
        outputs.push(serde_json::to_string(&d).unwrap());
    };
    decide(&token, &request());
    decide(&forged, &request());
    decide(
        &token,
        &Request::new(Audience::parse("https://b.example").unwrap(), "pay_invoice"),
    );
    clock.advance(Duration::from_secs(3600));
    decide(&token, &request());
    outputs.push(format!(
        "{:?}",
        az.authorize_encoded(
            valet::Encoded::Base64(&token_text[..60]),
            &request(),
            &valet::Presentation::new()
        )
    ));
    outputs.push(format!("{token:?}"));
    outputs.push(format!("{root:?}"));
    outputs.push(format!("{az:?}"));
    outputs.push(
        token
            .attenuate(Attenuation::new().scopes([Scope::parse("admin").unwrap()]))
            .unwrap_err()
            .to_string(),
    );
    outputs.push(
        Token::from_base64(&token_text[..50])
            .unwrap_err()
            .to_string(),
    );
    for r in audit.records() {
        outputs.push(r.to_json_line());
    }
    let token_prefix = &token_text[..24];
    for out in &outputs {
        assert!(!out.contains(token_prefix), "token text leaked: {out}");
        assert!(!out.contains(&private_hex), "private key leaked: {out}");
    }
}
