#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Offline attenuation: every narrowing works without a key, every widening is refused,
//! and a block that says more than its parent still grants nothing more.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use valet_token::*;

#[track_caller]
fn widening(result: Result<Token, TokenError>, text: &str) {
    match result {
        Err(TokenError::Widening(m)) => assert!(m.contains(text), "{m:?} lacks {text:?}"),
        other => panic!("expected a Widening error containing {text:?}, got {other:?}"),
    }
}

#[test]
fn attenuation_needs_only_the_token() {
    let f = fixture();
    // The holder has the token's text and nothing else.
    let text = f.mint(grant()).to_base64();
    let held = Token::from_base64(&text).unwrap();
    let child = held
        .attenuate(Attenuation::new().delegate("invoice-agent"))
        .unwrap();
    assert_eq!(child.block_count(), 2);
    assert_eq!(child.key_id(), Some(KeyId(1)));
    // The parent's blocks are kept as they were.
    assert_eq!(child.revocation_ids()[0], held.revocation_ids()[0]);
    assert_allowed(&f.verify(&child, &payment("10.00", "USD", "bob@example.com")));
}

#[test]
fn audiences_narrow_to_a_subset() {
    let f = fixture();
    let root = f.mint(grant());
    let child = root
        .attenuate(
            Attenuation::new()
                .delegate("pay-agent")
                .audiences([aud(PAY)]),
        )
        .unwrap();
    assert_eq!(
        child.unverified_claims().unwrap().audiences,
        BTreeSet::from([aud(PAY)])
    );
    assert_allowed(&f.verify(&child, &plain(PAY, "list")));
    assert_allowed(&f.verify(&root, &plain(TOOLS, "list")));
    assert_denied(
        &f.verify(&child, &plain(TOOLS, "list")),
        ReasonKind::Audience,
        "block 1 (delegate: pay-agent) limits audiences to https://pay.example.com, presented at https://tools.example.com",
    );
}

#[test]
fn scopes_narrow_to_a_subset() {
    let f = fixture();
    let root = f.mint(grant());
    let child = root
        .attenuate(Attenuation::new().scopes([scope("tools:read")]))
        .unwrap();
    assert_eq!(
        child.unverified_claims().unwrap().scopes,
        BTreeSet::from([scope("tools:read")])
    );
    let read = plain(TOOLS, "search").scope(scope("tools:read"));
    let pay = plain(PAY, "list").scope(scope("payments:write"));
    assert_allowed(&f.verify(&child, &read));
    assert_allowed(&f.verify(&root, &pay));
    assert_denied(
        &f.verify(&child, &pay),
        ReasonKind::Scope,
        "block 1 does not grant scope `payments:write`",
    );
    // No scope at all: every scoped request is refused, unscoped ones pass.
    let none = root.attenuate(Attenuation::new().scopes([])).unwrap();
    assert!(none.unverified_claims().unwrap().scopes.is_empty());
    assert_denied(&f.verify(&none, &read), ReasonKind::Scope, "tools:read");
    assert_allowed(&f.verify(&none, &plain(TOOLS, "search")));
}

#[test]
fn expiry_moves_earlier() {
    let f = fixture();
    let root = f.mint(grant());
    let child = root
        .attenuate(
            Attenuation::new()
                .delegate("quick")
                .now(now())
                .expires_in(Duration::from_secs(600)),
        )
        .unwrap();
    assert_eq!(
        child.unverified_claims().unwrap().expires_at,
        NOW_SECS + 600
    );
    let req = plain(PAY, "list");
    assert_allowed(&f.verify_at(&child, &req, at(NOW_SECS + 600)));
    assert_allowed(&f.verify_at(&root, &req, at(NOW_SECS + 601)));
    assert_denied(
        &f.verify_at(&child, &req, at(NOW_SECS + 601)),
        ReasonKind::Expired,
        "block 1 (delegate: quick) expired at 2026-11-23T12:10:00Z",
    );
    let at_time = root
        .attenuate(Attenuation::new().expires_at(at(NOW_SECS + 60)))
        .unwrap();
    assert_eq!(
        at_time.unverified_claims().unwrap().expires_at,
        NOW_SECS + 60
    );
}

#[test]
fn payment_limits_narrow() {
    let f = fixture();
    let root = f.mint(grant());
    let child = root
        .attenuate(
            Attenuation::new()
                .delegate("invoice-agent")
                .max("payment", "amount", dec("50.00"))
                .one_of("payment", "currency", ["USD"])
                .one_of("payment", "recipient", ["alice@example.com"]),
        )
        .unwrap();
    let c = child.unverified_claims().unwrap();
    assert_eq!(
        c.effective_limit("payment", "amount"),
        Some(Limit::at_most(dec("50.00")))
    );
    assert_eq!(
        c.effective_limit("payment", "currency"),
        Some(Limit::OneOf(BTreeSet::from(["USD".to_string()])))
    );
    assert_allowed(&f.verify(&child, &payment("50.00", "USD", "alice@example.com")));
    assert_allowed(&f.verify(&root, &payment("900.00", "EUR", "bob@example.com")));
    assert_denied(
        &f.verify(&child, &payment("50.01", "USD", "alice@example.com")),
        ReasonKind::Limit,
        "block 1 (delegate: invoice-agent) limits payment amount to 50.00, requested `50.01`",
    );
    assert_denied(
        &f.verify(&child, &payment("5.00", "EUR", "alice@example.com")),
        ReasonKind::Limit,
        "limits payment currency to one of `USD`, requested `EUR`",
    );
    assert_denied(
        &f.verify(&child, &payment("5.00", "USD", "bob@example.com")),
        ReasonKind::Limit,
        "limits payment recipient to one of `alice@example.com`, requested `bob@example.com`",
    );
}

#[test]
fn actions_narrow() {
    let f = fixture();
    let root = f.mint(grant());
    let child = root
        .attenuate(Attenuation::new().actions("payment", ["pay_invoice"]))
        .unwrap();
    let refund = Request::new(aud(PAY), "refund").details(
        TransactionDetails::new("payment")
            .with("amount", "5.00")
            .with("currency", "USD")
            .with("recipient", "bob@example.com"),
    );
    assert_allowed(&f.verify(&root, &refund));
    assert_allowed(&f.verify(&child, &payment("5.00", "USD", "bob@example.com")));
    assert_denied(
        &f.verify(&child, &refund),
        ReasonKind::Action,
        "block 1 allows payment only for `pay_invoice`, requested `refund`",
    );
    // Narrowing further to an action already removed is a widening.
    widening(
        child.attenuate(Attenuation::new().actions("payment", ["refund"])),
        "action `refund`",
    );
}

#[test]
fn delegate_and_depth_caps() {
    let f = fixture();
    let root = f.mint(grant());
    let child = root
        .attenuate(Attenuation::new().delegate("planner-agent").max_depth(1))
        .unwrap();
    assert_eq!(child.unverified_claims().unwrap().remaining_depth, Some(1));
    assert_eq!(child.unverified_claims().unwrap().agent(), "planner-agent");
    let grandchild = child
        .attenuate(Attenuation::new().delegate("invoice-agent"))
        .unwrap();
    assert_eq!(
        grandchild.unverified_claims().unwrap().remaining_depth,
        Some(0)
    );
    assert_allowed(&f.verify(&grandchild, &plain(PAY, "list")));
    widening(
        grandchild.attenuate(Attenuation::new().delegate("third")),
        "depth cap",
    );
}

#[test]
fn widenings_are_refused() {
    let f = fixture();
    let root = f.mint(grant().max_depth(2));
    widening(
        root.attenuate(Attenuation::new().audiences([aud(PAY), aud(MAIL)])),
        "audience `https://mail.example.com`",
    );
    widening(
        root.attenuate(Attenuation::new().audiences([])),
        "empty audience",
    );
    widening(
        root.attenuate(Attenuation::new().scopes([scope("tools:read"), scope("admin")])),
        "scope `admin`",
    );
    widening(
        root.attenuate(
            Attenuation::new()
                .now(now())
                .expires_in(Duration::from_secs(3601)),
        ),
        "later than the parent",
    );
    widening(
        root.attenuate(Attenuation::new().expires_at(at(NOW_SECS + 7200))),
        "later than the parent",
    );
    widening(
        root.attenuate(Attenuation::new().max("payment", "amount", dec("1000.0001"))),
        "payment.amount",
    );
    widening(
        root.attenuate(Attenuation::new().one_of(
            "payment",
            "recipient",
            ["alice@example.com", "mallory@example.com"],
        )),
        "payment.recipient",
    );
    widening(
        root.attenuate(Attenuation::new().one_of("payment", "currency", ["GBP"])),
        "payment.currency",
    );
    widening(
        root.attenuate(Attenuation::new().actions("payment", ["pay_invoice", "transfer"])),
        "action `transfer`",
    );
    // A limit of another kind than the parent's cannot be compared: refused.
    widening(
        root.attenuate(Attenuation::new().one_of("payment", "amount", ["1.00"])),
        "payment.amount",
    );
    // Depth: the root allows two further blocks.
    widening(
        root.attenuate(Attenuation::new().max_depth(2)),
        "depth cap of 2",
    );
    let one = root.attenuate(Attenuation::new().max_depth(1)).unwrap();
    widening(one.attenuate(Attenuation::new().max_depth(1)), "depth cap");
    let two = one.attenuate(Attenuation::new()).unwrap();
    widening(two.attenuate(Attenuation::new()), "depth cap");
    // A depth cap of zero on the root: no attenuation at all.
    let sealed = f.mint(grant().max_depth(0));
    widening(
        sealed.attenuate(Attenuation::new().delegate("x")),
        "depth cap",
    );
    // Exact equals are not widenings.
    root.attenuate(
        Attenuation::new()
            .audiences([aud(PAY), aud(TOOLS)])
            .max("payment", "amount", dec("1000.00"))
            .expires_at(at(NOW_SECS + 3600)),
    )
    .unwrap();
}

#[test]
fn widenings_are_measured_against_the_narrowed_parent() {
    let f = fixture();
    let child = f
        .mint(grant())
        .attenuate(
            Attenuation::new()
                .audiences([aud(PAY)])
                .scopes([scope("payments:write")])
                .expires_at(at(NOW_SECS + 600))
                .max("payment", "amount", dec("50.00"))
                .one_of("payment", "recipient", ["alice@example.com"]),
        )
        .unwrap();
    widening(
        child.attenuate(Attenuation::new().audiences([aud(TOOLS)])),
        "audience",
    );
    widening(
        child.attenuate(Attenuation::new().scopes([scope("tools:read")])),
        "scope `tools:read`",
    );
    widening(
        child.attenuate(Attenuation::new().expires_at(at(NOW_SECS + 601))),
        "later",
    );
    widening(
        child.attenuate(Attenuation::new().max("payment", "amount", dec("50.01"))),
        "payment.amount",
    );
    widening(
        child.attenuate(Attenuation::new().one_of("payment", "recipient", ["bob@example.com"])),
        "payment.recipient",
    );
    child
        .attenuate(Attenuation::new().max("payment", "amount", dec("20.00")))
        .unwrap();
}

#[test]
fn appending_past_a_depth_cap_by_hand_is_refused_at_verification() {
    let f = fixture();
    let root = f.mint(grant().max_depth(1));
    let child = root.attenuate(Attenuation::new().delegate("a")).unwrap();
    assert_allowed(&f.verify(&child, &plain(PAY, "list")));
    // The library refuses, so build the block with biscuit-auth directly.
    let forced = append_raw(&child, r#"delegate("b");"#);
    assert_eq!(forced.block_count(), 3);
    assert_denied(
        &f.verify(&forced, &plain(PAY, "list")),
        ReasonKind::Depth,
        "at most 1 attenuation blocks",
    );
    // Same for a block's own cap.
    let capped = f
        .mint(grant())
        .attenuate(Attenuation::new().max_depth(0))
        .unwrap();
    let forced = append_raw(&capped, "");
    assert_denied(
        &f.verify(&forced, &plain(PAY, "list")),
        ReasonKind::Depth,
        "block 1",
    );
}

/// A block written by hand in valet's own shapes to say it grants more than its parent
/// (another audience, another scope, a later expiry, higher limits), with facts naming
/// other audiences and request values and a permissive check: none of it grants anything
/// the root did not, and the claims never widen.
#[test]
fn a_block_that_says_more_grants_nothing_more() {
    let f = fixture();
    let root = f.mint(grant());
    let code = r#"
        delegate("mallory");
        audience("https://other.example");
        expires(2100-01-01T00:00:00Z);
        request_audience("https://pay.example.com");
        request_decimal("amount", 0);
        check if time($v), $v <= 2100-01-01T00:00:00Z;
        check if resource("https://other.example") or resource("https://pay.example.com");
        reject if scope($v), !{"admin", "payments:write"}.contains($v);
        check if detail($v), $v !== "payment" or decimal("amount", $v), $v <= 10000000000;
        check if detail($v), $v !== "payment" or field("recipient", $v), {"alice@example.com", "mallory@example.com"}.contains($v);
        check if true;
    "#;
    let forged = append_raw(&root, code);
    let claims = forged.unverified_claims().unwrap();
    // The block is read as what it says...
    let link = &claims.chain[0];
    assert_eq!(link.delegate.as_deref(), Some("mallory"));
    assert_eq!(
        link.audiences,
        Some(BTreeSet::from([aud(PAY), aud("https://other.example")]))
    );
    assert_eq!(
        link.scopes,
        Some(BTreeSet::from([scope("payments:write"), scope("admin")]))
    );
    assert_eq!(link.expires_at, Some(4_102_444_800));
    assert_eq!(link.limits.len(), 2, "{link:?}");
    assert_eq!(link.checks, ["check if true"]);
    assert_eq!(link.facts.len(), 4, "{link:?}");
    // ...and the claims never widen.
    assert_eq!(claims.audiences, BTreeSet::from([aud(PAY)]));
    assert_eq!(claims.scopes, BTreeSet::from([scope("payments:write")]));
    assert_eq!(claims.expires_at, NOW_SECS + 3600);
    assert_eq!(
        claims.effective_limit("payment", "amount"),
        Some(Limit::at_most(dec("1000.00")))
    );
    assert_eq!(
        claims.effective_limit("payment", "recipient"),
        Some(Limit::OneOf(BTreeSet::from([
            "alice@example.com".to_owned()
        ])))
    );

    // Inside the root grant (and the block's checks) it still works: the token is valid.
    assert_allowed(&f.verify(&forged, &payment("10.00", "USD", "alice@example.com")));

    // Outside the root grant it is refused.
    let other = Request::new(aud("https://other.example"), "list");
    assert!(!f.verify(&forged, &other).is_allowed());
    let admin = plain(PAY, "list").scope(scope("admin"));
    assert_denied(&f.verify(&forged, &admin), ReasonKind::Scope, "admin");
    assert_denied(
        &f.verify(&forged, &payment("5000.00", "USD", "alice@example.com")),
        ReasonKind::Limit,
        "1000.00",
    );
    assert!(!f
        .verify(&forged, &payment("10.00", "USD", "mallory@example.com"))
        .is_allowed());
    assert!(!f
        .verify(&forged, &payment("10.00", "GBP", "alice@example.com"))
        .is_allowed());
    assert_denied(
        &f.verify_at(&forged, &plain(PAY, "list"), at(NOW_SECS + 3601)),
        ReasonKind::Expired,
        "token expired",
    );

    // A block of facts alone can only add checks: facts of other names are invisible to
    // the authority block's checks.
    let quiet = append_raw(
        &root,
        r#"
        audience("https://other.example");
        expires(2100-01-01T00:00:00Z);
        request_audience("https://other.example");
        request_decimal("amount", 0);
        check if true;
    "#,
    );
    assert!(!f.verify(&quiet, &other).is_allowed());
    assert!(!f.verify(&quiet, &admin).is_allowed());
    assert!(!f
        .verify(&quiet, &payment("5000.00", "USD", "alice@example.com"))
        .is_allowed());
    assert!(!f
        .verify_at(&quiet, &plain(PAY, "list"), at(NOW_SECS + 3601))
        .is_allowed());
    assert_allowed(&f.verify(&quiet, &plain(TOOLS, "list")));

    // A block stating a fact the verifier supplies (standing in for the request) is not a
    // valet block: refused when read.
    let key = hex::encode(SigningKey::generate().public().to_bytes());
    for fact in [
        r#"resource("https://other.example")"#.to_owned(),
        r#"scope("admin")"#.to_owned(),
        "time(2026-11-23T12:00:00Z)".to_owned(),
        r#"operation("pay_invoice")"#.to_owned(),
        "blocks(1)".to_owned(),
        r#"detail("")"#.to_owned(),
        r#"field("recipient", "mallory@example.com")"#.to_owned(),
        r#"decimal("amount", 0)"#.to_owned(),
        r#"list("tags", "ops")"#.to_owned(),
        format!("holder(hex:{key})"),
    ] {
        let bytes = append_raw_bytes(&root, &format!("{fact};"));
        match Token::from_bytes(&bytes) {
            Err(TokenError::Format(m)) => {
                assert!(
                    m.contains("a fact only the verifier supplies"),
                    "{fact}: {m}"
                )
            }
            other => panic!("{fact}: expected a format error, got {other:?}"),
        }
        let v = f
            .verifier
            .verify_bytes(&bytes, &plain(PAY, "list"), now(), &NoRevocations);
        assert_denied(&v, ReasonKind::Format, "block 1");
    }

    // A block with a rule deriving request facts is not a valet block: refused outright.
    let ruled = append_raw(
        &root,
        r#"resource("https://other.example") <- operation($a);"#,
    );
    assert_denied(
        &f.verify(&ruled, &plain(PAY, "list")),
        ReasonKind::Format,
        "rules",
    );
    assert!(!f.verify(&ruled, &other).is_allowed());
}

/// Only the issuer sets the subject, the client and the grant: a block stating them, in
/// the very Datalog the authority block uses, is refused when read.
#[test]
fn a_block_cannot_restate_the_grant() {
    let f = fixture();
    let root = f.mint(grant());
    for code in [
        r#"subject("mallory@example.com");"#,
        r#"client("https://evil.example/client");"#,
        r#"check if detail("") or detail("payment"), decimal("amount", $v), $v >= 0, $v <= 10000000000;"#,
    ] {
        let bytes = append_raw_bytes(&root, code);
        match Token::from_bytes(&bytes) {
            Err(TokenError::Format(m)) => assert!(m.contains("block 1"), "{code}: {m}"),
            other => panic!("{code}: expected a format error, got {other:?}"),
        }
        let v = f
            .verifier
            .verify_bytes(&bytes, &plain(PAY, "list"), now(), &NoRevocations);
        assert_denied(&v, ReasonKind::Format, "block 1");
    }
}

/// A check that looks like an expiry but enforces more is not an expiry: the claims do not
/// show it as one, and its refusal quotes its Datalog rather than explaining an expiry.
#[test]
fn a_check_that_looks_like_an_expiry_is_explained_by_its_datalog() {
    let f = fixture();
    let root = f.mint(grant());
    let code = r#"check if time($v), operation("nothing"), $v <= 2100-01-01T00:00:00Z"#;
    let liar = append_raw(&root, code);
    let link = &liar.unverified_claims().unwrap().chain[0];
    assert_eq!(link.expires_at, None);
    assert_eq!(link.checks, [code]);
    let v = f.verify(&liar, &plain(PAY, "pay_invoice"));
    assert_denied(
        &v,
        ReasonKind::Check,
        &format!("block 1: check failed: {code}"),
    );
    assert!(
        v.reasons().iter().all(|r| r.kind != ReasonKind::Expired),
        "{:?}",
        v.reasons()
    );
}
