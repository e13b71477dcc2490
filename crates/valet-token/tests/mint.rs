#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Minting: required claims, audiences, lifetimes, and optional claims round-tripping.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use valet_token::danger::BearerMinting;
use valet_token::*;

fn base() -> TokenBuilder {
    TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
        .bearer()
        .audience(aud(PAY))
        .expires_in(Duration::from_secs(600))
}

#[test]
fn minimal_grant_mints() {
    let f = fixture();
    let t = f.mint(base());
    let c = t.unverified_claims().unwrap();
    assert_eq!(c.subject, "alice@example.com");
    assert_eq!(c.client, "https://orchestrator.example/client");
    assert_eq!(c.audiences, BTreeSet::from([aud(PAY)]));
    assert!(c.scopes.is_empty());
    assert_eq!(c.expires_at, NOW_SECS + 600);
    assert_eq!(c.not_before, None, "no lower bound unless one is asked for");
    assert_eq!(c.token_id, None);
    assert!(c.authorization_details.is_empty());
    assert_eq!(t.block_count(), 1);
}

#[test]
fn a_grant_without_a_holder_key_is_refused_unless_it_opts_into_a_bearer_token() {
    let f = fixture();
    let unbound = || {
        TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .audience(aud(PAY))
            .expires_in(Duration::from_secs(600))
    };
    let err = f.issuer.mint_at(unbound(), now()).unwrap_err();
    assert!(matches!(err, TokenError::NoHolder), "{err:?}");
    assert_eq!(
        err.to_string(),
        "cannot mint a token bound to no holder key: bind the token to the agent's key with `TokenBuilder::holder`, or mint a bearer token, which anyone holding a copy can use, through `valet_token::danger`"
    );
    // `mint` refuses it too.
    assert!(matches!(
        f.issuer.mint(unbound()),
        Err(TokenError::NoHolder)
    ));
    // Bound to the agent's key: minted, and bound.
    let agent = SigningKey::generate();
    let bound = f.mint(unbound().holder(agent.public()));
    assert_eq!(
        bound.unverified_claims().unwrap().holder,
        Some(agent.public())
    );
    // The explicit bearer opt-in mints a token bound to no key.
    let bearer = f.mint(unbound().bearer());
    assert_eq!(bearer.unverified_claims().unwrap().holder, None);
    // A holder key given with the opt-in still binds the token.
    let both = f.mint(unbound().bearer().holder(agent.public()));
    assert_eq!(
        both.unverified_claims().unwrap().holder,
        Some(agent.public())
    );
    // Attenuating an existing token needs no opt-in, bound or bearer.
    for token in [&bound, &bearer] {
        let child = token
            .attenuate(Attenuation::new().delegate("sub-agent"))
            .unwrap();
        assert_eq!(child.block_count(), 2);
    }
}

#[test]
fn each_required_claim_missing_is_a_missing_error() {
    let f = fixture();
    let cases: [(&str, TokenBuilder); 4] = [
        (
            "a subject",
            TokenBuilder::new("", "https://c.example")
                .bearer()
                .audience(aud(PAY))
                .expires_in(Duration::from_secs(60)),
        ),
        (
            "a client",
            TokenBuilder::new("alice", "")
                .bearer()
                .audience(aud(PAY))
                .expires_in(Duration::from_secs(60)),
        ),
        (
            "an audience",
            TokenBuilder::new("alice", "https://c.example")
                .bearer()
                .expires_in(Duration::from_secs(60)),
        ),
        (
            "an expiry",
            TokenBuilder::new("alice", "https://c.example")
                .bearer()
                .audience(aud(PAY)),
        ),
    ];
    for (what, builder) in cases {
        match f.issuer.mint_at(builder, now()) {
            Err(TokenError::Missing(m)) => {
                assert_eq!(m, what);
                let msg = TokenError::Missing(m).to_string();
                assert!(msg.contains(what), "{msg}");
            }
            other => panic!("{what}: expected Missing, got {other:?}"),
        }
    }
}

#[test]
fn audiences_must_be_absolute_uris_without_fragments() {
    for bad in [
        "/pay",
        "pay.example.com",
        "//pay.example.com",
        "https://pay.example.com/#x",
        "https://pay.example.com#",
        "",
        "https://pay example.com",
        "https:",
        "9p://x",
    ] {
        match Audience::parse(bad) {
            Err(TokenError::Invalid(msg)) => assert!(msg.contains("audience"), "{msg}"),
            other => panic!("{bad:?}: expected Invalid, got {other:?}"),
        }
    }
    for good in [
        "https://pay.example.com",
        "https://pay.example.com/v1?x=1",
        "urn:example:pay",
    ] {
        assert_eq!(Audience::parse(good).unwrap().as_str(), good);
    }
    // Deserialising goes through the same check.
    assert!(serde_json::from_str::<Audience>("\"/relative\"").is_err());
    assert!(serde_json::from_str::<Audience>("\"https://a.example/#f\"").is_err());
}

#[test]
fn lifetime_over_the_default_maximum_is_refused() {
    let f = fixture();
    assert_eq!(DEFAULT_MAX_LIFETIME, Duration::from_secs(3600));
    f.issuer
        .mint_at(base().expires_in(Duration::from_secs(3600)), now())
        .unwrap();
    match f
        .issuer
        .mint_at(base().expires_in(Duration::from_secs(3601)), now())
    {
        Err(TokenError::LifetimeTooLong {
            requested_secs,
            max_secs,
        }) => {
            assert_eq!((requested_secs, max_secs), (3601, 3600));
        }
        other => panic!("expected LifetimeTooLong, got {other:?}"),
    }
    // expires_at is measured from the mint time too.
    assert!(matches!(
        f.issuer
            .mint_at(base().expires_at(at(NOW_SECS + 7200)), now()),
        Err(TokenError::LifetimeTooLong {
            requested_secs: 7200,
            ..
        })
    ));
}

#[test]
fn lifetime_over_a_configured_maximum_is_refused() {
    let f = fixture();
    let short = f.issuer.clone().max_lifetime(Duration::from_secs(300));
    short
        .mint_at(base().expires_in(Duration::from_secs(300)), now())
        .unwrap();
    assert!(matches!(
        short.mint_at(base().expires_in(Duration::from_secs(301)), now()),
        Err(TokenError::LifetimeTooLong {
            requested_secs: 301,
            max_secs: 300
        })
    ));
    let long = f.issuer.clone().max_lifetime(Duration::from_secs(86_400));
    long.mint_at(base().expires_in(Duration::from_secs(86_400)), now())
        .unwrap();
    assert!(matches!(
        long.mint_at(base().expires_in(Duration::from_secs(86_401)), now()),
        Err(TokenError::LifetimeTooLong { .. })
    ));
}

#[test]
fn expiry_in_the_past_or_now_is_refused() {
    let f = fixture();
    for exp in [NOW_SECS, NOW_SECS - 1] {
        assert!(matches!(
            f.issuer.mint_at(base().expires_at(at(exp)), now()),
            Err(TokenError::Invalid(_))
        ));
    }
    assert!(matches!(
        f.issuer.mint_at(base().expires_in(Duration::ZERO), now()),
        Err(TokenError::Invalid(_))
    ));
}

fn rich_detail() -> AuthorizationDetail {
    let mut d = AuthorizationDetail::new("payment")
        .actions(["pay_invoice", "refund"])
        .locations(["https://pay.example.com"])
        .identifier("invoice-42")
        .max("amount", dec("1000.00"))
        .one_of("currency", ["USD", "EUR"]);
    d.datatypes.insert("invoice".into());
    d.privileges.insert("approver".into());
    d
}

#[test]
fn optional_claims_round_trip_into_unverified_and_verified_claims() {
    let f = fixture();
    let reading = AuthorizationDetail::new("calendar").actions(["read_calendar"]);
    let t = f.mint(
        base()
            .audience(aud(TOOLS))
            .scope(scope("payments:write"))
            .scope(scope("calendar:read"))
            .token_id("tok-123")
            .not_before(at(NOW_SECS - 10))
            .max_depth(3)
            .detail(rich_detail())
            .detail(reading.clone()),
    );
    let c = t.unverified_claims().unwrap();
    assert_eq!(c.token_id.as_deref(), Some("tok-123"));
    assert_eq!(c.audiences, BTreeSet::from([aud(PAY), aud(TOOLS)]));
    assert_eq!(
        c.scopes,
        BTreeSet::from([scope("payments:write"), scope("calendar:read")])
    );
    assert_eq!(c.not_before, Some(NOW_SECS - 10));
    assert_eq!(c.remaining_depth, Some(3));
    assert_eq!(c.key_id, Some(KeyId(1)));
    assert_eq!(c.authorization_details, vec![rich_detail(), reading]);
    let d = &c.authorization_details[0];
    assert_eq!(d.kind, "payment");
    assert_eq!(
        d.actions,
        BTreeSet::from(["pay_invoice".to_string(), "refund".to_string()])
    );
    assert_eq!(
        d.locations,
        BTreeSet::from(["https://pay.example.com".to_string()])
    );
    assert_eq!(d.datatypes, BTreeSet::from(["invoice".to_string()]));
    assert_eq!(d.privileges, BTreeSet::from(["approver".to_string()]));
    assert_eq!(d.identifier.as_deref(), Some("invoice-42"));
    assert_eq!(d.limits["amount"], Limit::at_most(dec("1000.00")));
    assert_eq!(
        d.limits["currency"],
        Limit::OneOf(BTreeSet::from(["USD".to_string(), "EUR".to_string()]))
    );

    // Verified claims equal the unverified ones.
    let req = Request::new(aud(PAY), "pay_invoice").details(
        TransactionDetails::new("payment")
            .with("amount", "10.00")
            .with("currency", "EUR")
            .with("identifier", "invoice-42"),
    );
    match f.verify(&t, &req) {
        Verdict::Allowed(v) => assert_eq!(v.claims(), &c),
        Verdict::Denied(d) => panic!("{:#?}", d.reasons),
    }

    // And the same after a trip through base64.
    let back = Token::from_base64(&t.to_base64()).unwrap();
    assert_eq!(back.unverified_claims().unwrap(), c);
}

#[test]
fn authorization_details_read_from_rfc9396_json() {
    let f = fixture();
    let details = AuthorizationDetail::list_from_json(
        r#"[{"type":"payment","actions":["pay_invoice"],"locations":["https://pay.example.com"],
             "datatypes":["invoice"],"identifier":"inv-1","privileges":["approver"],
             "limits":{"amount":{"max":"250.5"},"recipient":{"one_of":["bob@example.com"]}}}]"#,
    )
    .unwrap();
    let mut b = base();
    for d in details.clone() {
        b = b.detail(d);
    }
    let c = f.mint(b).unverified_claims().unwrap();
    assert_eq!(c.authorization_details, details);
    assert_eq!(
        c.authorization_details[0].limits["amount"],
        Limit::at_most(dec("250.50"))
    );
    // The claims serialise the detail back in RFC 9396 shape.
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["authorization_details"][0]["type"], "payment");
    assert_eq!(
        json["authorization_details"][0]["limits"]["amount"]["max"],
        "250.50"
    );
}

#[test]
fn invalid_details_are_refused_at_mint() {
    let f = fixture();
    assert!(matches!(
        f.issuer
            .mint_at(base().detail(AuthorizationDetail::new("")), now()),
        Err(TokenError::Invalid(_))
    ));
    for reserved in ["type", "actions", "locations", "identifier"] {
        let d = AuthorizationDetail::new("payment").one_of(reserved, ["x"]);
        assert!(
            matches!(
                f.issuer.mint_at(base().detail(d), now()),
                Err(TokenError::Invalid(_))
            ),
            "{reserved}"
        );
    }
}

#[test]
fn scopes_are_validated() {
    for bad in ["", "two words", "quote\"", "back\\slash", "tab\t", "é"] {
        assert!(
            matches!(Scope::parse(bad), Err(TokenError::Invalid(_))),
            "{bad:?}"
        );
    }
    assert!(serde_json::from_str::<Scope>("\"a b\"").is_err());
}
