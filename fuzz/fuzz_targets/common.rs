//! Shared setup for the fuzz targets: a fixed test key, a token and the bundled policies.
//! The token is a bearer token, and the verifier and the authorizer accept bearer tokens
//! (the `danger` opt-ins), so that fuzzed tokens reach every block's checks without a
//! proof of possession.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valet::danger::DangerousAuthorizerBuilder;
use valet_token::danger::{BearerMinting, DangerousVerifier};
use valet_token::*;

/// A fixed test key (never use it for anything else).
pub const TEST_KEY: &str = "key-id: 1\nprivate-key: ed25519-private/0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a\n";

pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

pub fn root() -> &'static RootKeyPair {
    static ROOT: OnceLock<RootKeyPair> = OnceLock::new();
    ROOT.get_or_init(|| RootKeyPair::from_private_text(TEST_KEY).expect("test key"))
}

pub fn audience() -> Audience {
    Audience::parse("https://pay.example.com").expect("audience")
}

pub fn root_token() -> &'static Token {
    static TOKEN: OnceLock<Token> = OnceLock::new();
    TOKEN.get_or_init(|| {
        Issuer::new(root().clone())
            .mint_at(
                TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
                    .audience(audience())
                    .audience(Audience::parse("https://tools.example.com").expect("audience"))
                    .scope(Scope::parse("payments:write").expect("scope"))
                    .scope(Scope::parse("tools:read").expect("scope"))
                    .expires_in(Duration::from_secs(3600))
                    .detail(
                        AuthorizationDetail::new("payment")
                            .max("amount", "1000.00".parse().expect("decimal"))
                            .one_of("currency", ["USD", "EUR"]),
                    )
                    .bearer(),
                now(),
            )
            .expect("mint")
    })
}

pub fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| Verifier::new(KeySet::new().with(root().public())).accept_bearer_tokens())
}

pub fn authorizer() -> &'static valet::Authorizer {
    static A: OnceLock<valet::Authorizer> = OnceLock::new();
    A.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies");
        let store = valet::PolicyStore::load(dir).expect("bundled policies load");
        valet::Authorizer::builder(KeySet::new().with(root().public()), store)
            .accept_bearer_tokens()
            .clock(std::sync::Arc::new(valet::FixedClock::new(now())))
            .build()
    })
}

pub fn payment_request(amount: &str, recipient: &str) -> Request {
    Request::new(audience(), "pay_invoice").details(
        TransactionDetails::new("payment")
            .with("amount", amount)
            .with("currency", "USD")
            .with("recipient", recipient),
    )
}

/// A per-process scratch directory for targets that load policy files.
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("valet-fuzz-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}
