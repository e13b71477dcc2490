#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Properties of minting, attenuation and verification, over random grants, chains and
//! requests.

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use common::*;
use proptest::prelude::*;
use proptest::sample::subsequence;
use valet_token::danger::BearerMinting;
use valet_token::*;

const AUDIENCES: [&str; 4] = [
    "https://a.example",
    "https://b.example",
    "https://c.example",
    "urn:example:d",
];
const SCOPES: [&str; 3] = ["payments:write", "tools:read", "email:send"];
const RECIPIENTS: [&str; 4] = [
    "alice@example.com",
    "bob@example.com",
    "carol@example.com",
    "mallory@example.com",
];
const AMOUNTS: [&str; 8] = [
    "0.00", "1.00", "49.99", "50.00", "50.01", "100.00", "999.9999", "1000.00",
];
/// Lower bounds: below zero (refunds), zero, and above it.
const MINS: [&str; 5] = ["-100.00", "-0.01", "0.00", "1.00", "50.00"];
/// What requests ask for: the amounts above and negative ones.
const ASKED: [&str; 12] = [
    "-1000000.00",
    "-100.01",
    "-100.00",
    "-0.0001",
    "0.00",
    "1.00",
    "49.99",
    "50.00",
    "50.01",
    "100.00",
    "999.9999",
    "1000.00",
];

#[derive(Clone, Debug)]
struct Grant {
    audiences: Vec<&'static str>,
    scopes: Vec<&'static str>,
    max: &'static str,
    min: Option<&'static str>,
    recipients: Vec<&'static str>,
    lifetime: u64,
}

#[derive(Clone, Debug)]
struct Narrowing {
    audiences: Option<Vec<&'static str>>,
    scopes: Option<Vec<&'static str>>,
    expires_in: Option<u64>,
    max: Option<&'static str>,
    min: Option<&'static str>,
    recipients: Option<Vec<&'static str>>,
    delegate: bool,
}

#[derive(Clone, Debug)]
struct Ask {
    audience: &'static str,
    scopes: Vec<&'static str>,
    details: Option<(&'static str, &'static str)>,
    offset: u64,
}

fn some_of(items: &'static [&'static str]) -> impl Strategy<Value = Vec<&'static str>> {
    subsequence(items, 1..=items.len())
}

fn any_of(items: &'static [&'static str]) -> impl Strategy<Value = Vec<&'static str>> {
    subsequence(items, 0..=items.len())
}

fn grant_strategy() -> impl Strategy<Value = Grant> {
    (
        some_of(&AUDIENCES),
        any_of(&SCOPES),
        prop::sample::select(&AMOUNTS[..]),
        prop::option::of(prop::sample::select(&MINS[..])),
        some_of(&RECIPIENTS[..3]),
        60u64..=3600,
    )
        .prop_map(
            |(audiences, scopes, max, min, recipients, lifetime)| Grant {
                audiences,
                scopes,
                max,
                // A grant's min is at most its max (a mint refuses an empty range).
                min: min.filter(|m| dec(m) <= dec(max)),
                recipients,
                lifetime,
            },
        )
}

fn narrowing_strategy() -> impl Strategy<Value = Narrowing> {
    (
        prop::option::of(some_of(&AUDIENCES)),
        prop::option::of(any_of(&SCOPES)),
        prop::option::of(1u64..=3600),
        prop::option::of(prop::sample::select(&AMOUNTS[..])),
        prop::option::of(prop::sample::select(&MINS[..])),
        prop::option::of(any_of(&RECIPIENTS)),
        any::<bool>(),
    )
        .prop_map(
            |(audiences, scopes, expires_in, max, min, recipients, delegate)| Narrowing {
                audiences,
                scopes,
                expires_in,
                max,
                min,
                recipients,
                delegate,
            },
        )
}

fn ask_strategy() -> impl Strategy<Value = Ask> {
    (
        prop::sample::select(&AUDIENCES[..]),
        any_of(&SCOPES),
        prop::option::of((
            prop::sample::select(&ASKED[..]),
            prop::sample::select(&RECIPIENTS[..]),
        )),
        prop_oneof![0u64..=3700, Just(0), Just(3600)],
    )
        .prop_map(|(audience, scopes, details, offset)| Ask {
            audience,
            scopes,
            details,
            offset,
        })
}

fn mint(f: &Fixture, g: &Grant) -> Token {
    let mut detail = AuthorizationDetail::new("payment")
        .max("amount", dec(g.max))
        .one_of("recipient", g.recipients.iter().copied());
    if let Some(min) = g.min {
        detail = detail.min("amount", dec(min));
    }
    let mut b = TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
        .bearer()
        .expires_in(Duration::from_secs(g.lifetime))
        .detail(detail);
    for a in &g.audiences {
        b = b.audience(aud(a));
    }
    for s in &g.scopes {
        b = b.scope(scope(s));
    }
    f.issuer.mint_at(b, now()).unwrap()
}

fn attenuation(n: &Narrowing, i: usize) -> Attenuation {
    let mut a = Attenuation::new().now(now());
    if n.delegate {
        a = a.delegate(format!("agent-{i}"));
    }
    if let Some(auds) = &n.audiences {
        a = a.audiences(auds.iter().map(|x| aud(x)));
    }
    if let Some(scopes) = &n.scopes {
        a = a.scopes(scopes.iter().map(|x| scope(x)));
    }
    if let Some(secs) = n.expires_in {
        a = a.expires_in(Duration::from_secs(secs));
    }
    if let Some(max) = n.max {
        a = a.max("payment", "amount", dec(max));
    }
    if let Some(min) = n.min {
        a = a.min("payment", "amount", dec(min));
    }
    if let Some(r) = &n.recipients {
        a = a.one_of("payment", "recipient", r.iter().copied());
    }
    a
}

fn request(ask: &Ask) -> Request {
    let mut r = Request::new(aud(ask.audience), "pay_invoice");
    if let Some((amount, recipient)) = ask.details {
        r = r.details(
            TransactionDetails::new("payment")
                .with("amount", amount)
                .with("recipient", recipient),
        );
    }
    for s in &ask.scopes {
        r = r.scope(scope(s));
    }
    r
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// Whatever a child allows, its parent allows.
    #[test]
    fn attenuation_is_monotonic(
        g in grant_strategy(),
        chain in prop::collection::vec(narrowing_strategy(), 0..=3),
        asks in prop::collection::vec(ask_strategy(), 1..=6),
    ) {
        let f = fixture();
        let mut tokens = vec![mint(&f, &g)];
        for (i, n) in chain.iter().enumerate() {
            match tokens.last().unwrap().attenuate(attenuation(n, i)) {
                Ok(t) => tokens.push(t),
                // A widening, or a block whose min is above its max.
                Err(TokenError::Widening(_) | TokenError::Invalid(_)) => {}
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        for ask in &asks {
            let req = request(ask);
            let t = at(NOW_SECS + ask.offset);
            let allowed: Vec<bool> = tokens
                .iter()
                .map(|tok| f.verify_at(tok, &req, t).is_allowed())
                .collect();
            for pair in allowed.windows(2) {
                prop_assert!(
                    !pair[1] || pair[0],
                    "child allows what its parent refuses: {allowed:?} for {ask:?}"
                );
            }
            // The root grant itself is honoured exactly.
            let root_ok = g.audiences.contains(&ask.audience)
                && ask.scopes.iter().all(|s| g.scopes.contains(s))
                && ask.offset <= g.lifetime
                && ask.details.is_none_or(|(amount, recipient)| {
                    let low = g.min.map_or(Decimal::ZERO, dec);
                    (low..=dec(g.max)).contains(&dec(amount)) && g.recipients.contains(&recipient)
                });
            prop_assert_eq!(allowed[0], root_ok, "{:?}", ask);
        }
    }

    /// A token minted for one audience never verifies at another.
    #[test]
    fn audience_binding(
        a in prop::sample::select(&AUDIENCES[..]),
        b in prop::sample::select(&AUDIENCES[..]),
        narrow in any::<bool>(),
        ask in ask_strategy(),
    ) {
        prop_assume!(a != b);
        let f = fixture();
        let g = Grant {
            audiences: vec![a],
            scopes: SCOPES.to_vec(),
            max: "1000.00",
            min: None,
            recipients: RECIPIENTS.to_vec(),
            lifetime: 3600,
        };
        let mut t = mint(&f, &g);
        if narrow {
            t = t.attenuate(Attenuation::new().delegate("x").audiences([aud(a)])).unwrap();
        }
        let mut req = request(&ask);
        req.audience = aud(b);
        let v = f.verify_at(&t, &req, at(NOW_SECS + ask.offset.min(3600)));
        prop_assert!(!v.is_allowed());
        prop_assert!(v.reasons().iter().any(|r| r.kind == ReasonKind::Audience), "{:?}", v.reasons());
        req.audience = aud(a);
        req.details = None;
        prop_assert!(f.verify_at(&t, &req, at(NOW_SECS + ask.offset.min(3600))).is_allowed());
    }

    /// Expiry holds to the second: allowed at the expiry, refused one second later.
    #[test]
    fn expiry_boundary(
        lifetime in 1u64..=3600,
        child_in in prop::option::of(1u64..=3600),
        mint_offset in 0u64..100_000,
    ) {
        let f = fixture();
        let minted = NOW_SECS + mint_offset;
        let mut t = f
            .issuer
            .mint_at(grant().expires_in(Duration::from_secs(lifetime)), at(minted))
            .unwrap();
        let mut exp = minted + lifetime;
        if let Some(secs) = child_in {
            if let Ok(child) = t.attenuate(
                Attenuation::new().now(at(minted)).expires_in(Duration::from_secs(secs)),
            ) {
                t = child;
                exp = exp.min(minted + secs);
            }
        }
        prop_assert_eq!(t.unverified_claims().unwrap().expires_at, exp);
        let req = plain(PAY, "list");
        prop_assert!(f.verify_at(&t, &req, at(exp)).is_allowed());
        // Fractions of a second past the expiry still read as the expiry second.
        prop_assert!(f.verify_at(&t, &req, at(exp) + Duration::from_millis(999)).is_allowed());
        let v = f.verify_at(&t, &req, at(exp + 1));
        prop_assert!(!v.is_allowed());
        prop_assert_eq!(v.reasons()[0].kind, ReasonKind::Expired);
    }

    /// Binary and text forms round trip exactly.
    #[test]
    fn serialisation_round_trips(
        g in grant_strategy(),
        chain in prop::collection::vec(narrowing_strategy(), 0..=2),
    ) {
        let f = fixture();
        let mut t = mint(&f, &g);
        for (i, n) in chain.iter().enumerate() {
            if let Ok(c) = t.attenuate(attenuation(n, i)) {
                t = c;
            }
        }
        let from_bytes = Token::from_bytes(t.to_bytes()).unwrap();
        prop_assert_eq!(from_bytes.to_bytes(), t.to_bytes());
        prop_assert_eq!(from_bytes.unverified_claims().unwrap(), t.unverified_claims().unwrap());
        let text = t.to_base64();
        prop_assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let from_text = Token::from_base64(&text).unwrap();
        prop_assert_eq!(from_text.to_bytes(), t.to_bytes());
        prop_assert_eq!(from_text.to_base64(), text.clone());
        prop_assert_eq!(from_text.revocation_ids(), t.revocation_ids());
        // Padding and surrounding whitespace are accepted.
        let padded = format!("  {text}{}\n", "=".repeat((4 - text.len() % 4) % 4));
        let from_padded = Token::from_base64(&padded).unwrap();
        prop_assert_eq!(from_padded.to_bytes(), t.to_bytes());
        // And the biscuit-auth reading agrees.
        let biscuit = biscuit_auth::UnverifiedBiscuit::from(t.to_bytes()).unwrap();
        prop_assert_eq!(biscuit.block_count(), t.block_count());
    }
}

struct Flip {
    fixture: Fixture,
    token: Token,
    request: Request,
}

fn flip_fixture() -> &'static Flip {
    static FLIP: OnceLock<Flip> = OnceLock::new();
    FLIP.get_or_init(|| {
        let fixture = fixture();
        let token = fixture
            .mint(grant().token_id("t-1"))
            .attenuate(Attenuation::new().delegate("invoice-agent").max(
                "payment",
                "amount",
                dec("50.00"),
            ))
            .unwrap();
        let request = payment("20.00", "USD", "bob@example.com");
        assert_allowed(&fixture.verify(&token, &request));
        Flip {
            fixture,
            token,
            request,
        }
    })
}

proptest! {
    #![proptest_config(config(128))]

    /// No single changed byte turns a token into one that is allowed.
    #[test]
    fn flipping_a_byte_never_allows(index in any::<prop::sample::Index>(), mask in 1u8..=255) {
        let flip = flip_fixture();
        let mut bytes = flip.token.to_bytes().to_vec();
        let i = index.index(bytes.len());
        bytes[i] ^= mask;
        let v = flip.fixture.verifier.verify_bytes(&bytes, &flip.request, now(), &NoRevocations);
        prop_assert!(!v.is_allowed(), "byte {i} ^ {mask:#x} still allowed");
    }
}
