//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use valet_token::danger::{BearerMinting, DangerousVerifier};
use valet_token::*;

/// 2026-11-23T12:00:00Z: every test runs on a fixed clock.
pub const NOW_SECS: u64 = 1_795_435_200;

pub const PAY: &str = "https://pay.example.com";
pub const TOOLS: &str = "https://tools.example.com";
pub const MAIL: &str = "https://mail.example.com";

pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

pub fn now() -> SystemTime {
    at(NOW_SECS)
}

/// `secs` (Unix seconds) as a Datalog date literal, e.g. `2026-11-23T12:00:00Z`.
pub fn date(secs: u64) -> String {
    biscuit_auth::builder::Term::Date(secs).to_string()
}

pub fn aud(uri: &str) -> Audience {
    Audience::parse(uri).unwrap()
}

pub fn scope(s: &str) -> Scope {
    Scope::parse(s).unwrap()
}

pub fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// A grant with everything the tests usually need: two audiences, three scopes, a payment
/// detail (`pay_invoice`/`refund`, at most 1000.00, USD or EUR, three recipients), 1 h.
/// It may be minted as a bearer token (the `danger` opt-in), for the tests about
/// something else than holder binding; `.holder(key)` binds it.
pub fn grant() -> TokenBuilder {
    TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
        .audience(aud(PAY))
        .audience(aud(TOOLS))
        .scope(scope("payments:write"))
        .scope(scope("tools:read"))
        .scope(scope("email:send"))
        .expires_in(Duration::from_secs(3600))
        .detail(
            AuthorizationDetail::new("payment")
                .actions(["pay_invoice", "refund"])
                .max("amount", dec("1000.00"))
                .one_of("currency", ["USD", "EUR"])
                .one_of(
                    "recipient",
                    ["alice@example.com", "bob@example.com", "carol@example.com"],
                ),
        )
        .bearer()
}

/// An issuer, and a verifier of its tokens that also accepts bearer tokens (the `danger`
/// opt-in), for the tests about something else than holder binding. `strict` is a
/// verifier with the defaults: it requires a holder binding.
pub struct Fixture {
    pub key: RootKeyPair,
    pub issuer: Issuer,
    pub verifier: Verifier,
}

pub fn fixture() -> Fixture {
    let key = RootKeyPair::generate(KeyId(1));
    Fixture {
        issuer: Issuer::new(key.clone()),
        verifier: Verifier::new(KeySet::new().with(key.public())).accept_bearer_tokens(),
        key,
    }
}

impl Fixture {
    pub fn mint(&self, grant: TokenBuilder) -> Token {
        self.issuer.mint_at(grant, now()).unwrap()
    }

    pub fn verify(&self, token: &Token, request: &Request) -> Verdict {
        self.verifier.verify(token, request, now(), &NoRevocations)
    }

    /// A verifier of this issuer's tokens with the defaults: bearer tokens are refused.
    pub fn strict(&self) -> Verifier {
        Verifier::new(KeySet::new().with(self.key.public()))
    }

    pub fn verify_at(&self, token: &Token, request: &Request, t: SystemTime) -> Verdict {
        self.verifier.verify(token, request, t, &NoRevocations)
    }
}

/// A payment request at the pay audience.
pub fn payment(amount: &str, currency: &str, recipient: &str) -> Request {
    Request::new(aud(PAY), "pay_invoice").details(
        TransactionDetails::new("payment")
            .with("amount", amount)
            .with("currency", currency)
            .with("recipient", recipient),
    )
}

/// A request without transaction details.
pub fn plain(audience: &str, action: &str) -> Request {
    Request::new(aud(audience), action)
}

/// The reasons of a deny; panics on an allow.
#[track_caller]
pub fn denied(verdict: &Verdict) -> &[Reason] {
    assert!(
        !verdict.is_allowed(),
        "expected a deny, got an allow: {verdict:?}"
    );
    let reasons = verdict.reasons();
    assert!(!reasons.is_empty(), "a deny must carry a reason");
    reasons
}

/// Asserts a deny whose reasons include one of `kind` whose message contains `text`.
#[track_caller]
pub fn assert_denied(verdict: &Verdict, kind: ReasonKind, text: &str) {
    let reasons = denied(verdict);
    assert!(
        reasons
            .iter()
            .any(|r| r.kind == kind && r.message.contains(text)),
        "expected a {kind:?} reason containing {text:?}, got {reasons:#?}"
    );
}

#[track_caller]
pub fn assert_allowed(verdict: &Verdict) {
    assert!(
        verdict.is_allowed(),
        "expected an allow, got {:#?}",
        verdict.reasons()
    );
}

/// A unique scratch directory under the system temp dir.
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "valet-token-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Appends a block built by hand with biscuit-auth (no valet validation) whose Datalog is
/// `code`.
pub fn append_raw(token: &Token, code: &str) -> Token {
    Token::from_bytes(&append_raw_bytes(token, code)).unwrap()
}

/// The bytes of [`append_raw`]'s token, for blocks that reading the token refuses.
pub fn append_raw_bytes(token: &Token, code: &str) -> Vec<u8> {
    let builder = biscuit_auth::builder::BlockBuilder::new()
        .code(code)
        .unwrap();
    biscuit_auth::UnverifiedBiscuit::from(token.to_bytes())
        .unwrap()
        .append(builder)
        .unwrap()
        .to_vec()
        .unwrap()
}
