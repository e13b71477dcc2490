#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Claims and the chain of custody, unverified and verified.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use valet_token::*;

fn chain_of_three(f: &Fixture) -> (Token, Token, Token, Token) {
    let root = f.mint(grant().token_id("tok-1").max_depth(5));
    let a = root
        .attenuate(
            Attenuation::new()
                .delegate("planner-agent")
                .audiences([aud(PAY)])
                .expires_at(at(NOW_SECS + 1800))
                .max("payment", "amount", dec("500.00")),
        )
        .unwrap();
    // No delegate named on this one.
    let b = a
        .attenuate(
            Attenuation::new()
                .scopes([scope("payments:write"), scope("email:send")])
                .expires_at(at(NOW_SECS + 1200)),
        )
        .unwrap();
    let c = b
        .attenuate(
            Attenuation::new()
                .delegate("invoice-agent")
                .one_of("payment", "recipient", ["alice@example.com"])
                .actions("payment", ["pay_invoice"])
                .expires_at(at(NOW_SECS + 900))
                .max_depth(0)
                .check("check if operation(\"pay_invoice\")"),
        )
        .unwrap();
    (root, a, b, c)
}

#[test]
fn claims_of_a_chain() {
    let f = fixture();
    let (root, _, _, token) = chain_of_three(&f);
    let c = token.unverified_claims().unwrap();
    assert_eq!(c.subject, "alice@example.com");
    assert_eq!(c.client, "https://orchestrator.example/client");
    assert_eq!(c.token_id.as_deref(), Some("tok-1"));
    assert_eq!(c.key_id, Some(KeyId(1)));
    assert_eq!(c.audiences, BTreeSet::from([aud(PAY)]));
    assert_eq!(
        c.scopes,
        BTreeSet::from([scope("payments:write"), scope("email:send")])
    );
    // Expiry is the minimum over blocks.
    assert_eq!(c.expires_at, NOW_SECS + 900);
    assert_eq!(c.expiry(), at(NOW_SECS + 900));
    assert_eq!(c.not_before, None);
    // The root grant's details are reported as granted; the chain says how they narrow.
    assert_eq!(
        c.authorization_details,
        root.unverified_claims().unwrap().authorization_details
    );
    assert_eq!(
        c.effective_limit("payment", "amount"),
        Some(Limit::at_most(dec("500.00")))
    );
    assert_eq!(
        c.effective_limit("payment", "recipient"),
        Some(Limit::OneOf(BTreeSet::from([
            "alice@example.com".to_string()
        ])))
    );
    assert_eq!(
        c.effective_limit("payment", "currency"),
        Some(Limit::OneOf(BTreeSet::from([
            "USD".to_string(),
            "EUR".to_string()
        ])))
    );
    assert_eq!(c.effective_limit("payment", "nothing"), None);
    assert_eq!(c.effective_limit("transfer", "amount"), None);
    assert_eq!(c.remaining_depth, Some(0));

    assert_eq!(c.chain.len(), 3);
    let blocks: Vec<usize> = c.chain.iter().map(|l| l.block).collect();
    assert_eq!(blocks, [1, 2, 3]);
    let l1 = &c.chain[0];
    assert_eq!(l1.delegate.as_deref(), Some("planner-agent"));
    assert_eq!(l1.audiences, Some(BTreeSet::from([aud(PAY)])));
    assert_eq!(l1.scopes, None);
    assert_eq!(l1.expires_at, Some(NOW_SECS + 1800));
    assert_eq!(
        l1.limits,
        [FieldLimit {
            kind: "payment".into(),
            field: "amount".into(),
            limit: Limit::at_most(dec("500.00"))
        }]
    );
    let l2 = &c.chain[1];
    assert_eq!(l2.delegate, None);
    assert_eq!(l2.audiences, None);
    assert_eq!(
        l2.scopes,
        Some(BTreeSet::from([
            scope("payments:write"),
            scope("email:send")
        ]))
    );
    assert_eq!(l2.expires_at, Some(NOW_SECS + 1200));
    assert!(l2.limits.is_empty() && l2.actions.is_empty() && l2.checks.is_empty());
    let l3 = &c.chain[2];
    assert_eq!(l3.delegate.as_deref(), Some("invoice-agent"));
    assert_eq!(
        l3.actions,
        [ActionLimit {
            kind: "payment".into(),
            actions: BTreeSet::from(["pay_invoice".to_string()])
        }]
    );
    assert_eq!(l3.max_depth, Some(0));
    assert_eq!(l3.checks, ["check if operation(\"pay_invoice\")"]);

    assert_eq!(c.delegates(), ["planner-agent", "invoice-agent"]);
    assert_eq!(c.agent(), "invoice-agent");

    // One revocation id per block, authority first, all distinct, and equal to the token's.
    assert_eq!(c.revocation_ids.len(), 4);
    assert_eq!(c.revocation_ids, token.revocation_ids());
    let distinct: BTreeSet<_> = c.revocation_ids.iter().collect();
    assert_eq!(distinct.len(), 4);
    assert_eq!(c.revocation_ids[0], root.revocation_ids()[0]);
    for id in &c.revocation_ids {
        assert_eq!(RevocationId::from_hex(&id.to_string()).as_ref(), Some(id));
    }
}

#[test]
fn verified_claims_equal_unverified_claims() {
    let f = fixture();
    let (_, _, _, token) = chain_of_three(&f);
    let req = payment("20.00", "USD", "alice@example.com").scope(scope("payments:write"));
    match f.verify(&token, &req) {
        Verdict::Allowed(v) => {
            assert_eq!(v.claims(), &token.unverified_claims().unwrap());
            assert_eq!(v.clone().into_claims().agent(), "invoice-agent");
        }
        Verdict::Denied(d) => panic!("{:#?}", d.reasons),
    }
}

#[test]
fn agent_is_the_last_named_delegate_else_the_client() {
    let f = fixture();
    let (root, a, b, c) = chain_of_three(&f);
    assert_eq!(
        root.unverified_claims().unwrap().agent(),
        "https://orchestrator.example/client"
    );
    assert_eq!(a.unverified_claims().unwrap().agent(), "planner-agent");
    // Block 2 names no delegate: the last named one still acts.
    assert_eq!(b.unverified_claims().unwrap().agent(), "planner-agent");
    assert_eq!(c.unverified_claims().unwrap().agent(), "invoice-agent");
    let anonymous = root.attenuate(Attenuation::new()).unwrap();
    let claims = anonymous.unverified_claims().unwrap();
    assert_eq!(claims.agent(), "https://orchestrator.example/client");
    assert!(claims.delegates().is_empty());
    assert_eq!(claims.chain.len(), 1);
}

#[test]
fn each_block_enforces_what_its_link_says() {
    let f = fixture();
    let (_, _, _, token) = chain_of_three(&f);
    let ok = payment("20.00", "USD", "alice@example.com");
    assert_allowed(&f.verify(&token, &ok));
    assert_denied(
        &f.verify(&token, &plain(TOOLS, "list")),
        ReasonKind::Audience,
        "block 1 (delegate: planner-agent)",
    );
    assert_denied(
        &f.verify(&token, &ok.clone().scope(scope("tools:read"))),
        ReasonKind::Scope,
        "block 2 does not grant scope `tools:read`",
    );
    assert_denied(
        &f.verify(&token, &payment("20.00", "USD", "bob@example.com")),
        ReasonKind::Limit,
        "block 3 (delegate: invoice-agent) limits payment recipient",
    );
    assert_denied(
        &f.verify_at(&token, &ok, at(NOW_SECS + 901)),
        ReasonKind::Expired,
        "block 3 (delegate: invoice-agent) expired at 2026-11-23T12:15:00Z",
    );
}

#[test]
fn claims_serialise_as_json() {
    let f = fixture();
    let (_, _, _, token) = chain_of_three(&f);
    let json = serde_json::to_value(token.unverified_claims().unwrap()).unwrap();
    assert_eq!(json["subject"], "alice@example.com");
    assert_eq!(json["key_id"], 1);
    assert_eq!(json["audiences"][0], PAY);
    assert_eq!(json["chain"][0]["delegate"], "planner-agent");
    assert_eq!(json["chain"].as_array().unwrap().len(), 3);
    assert_eq!(json["revocation_ids"].as_array().unwrap().len(), 4);
    assert!(json["revocation_ids"][0].as_str().unwrap().len() >= 128);
}

#[test]
fn not_before_and_issue_time() {
    let f = fixture();
    let t = f.mint(
        grant()
            .not_before(at(NOW_SECS + 5))
            .expires_in(Duration::from_secs(100)),
    );
    let c = t.unverified_claims().unwrap();
    assert_eq!(c.not_before, Some(NOW_SECS + 5));
    assert_eq!(c.expires_at, NOW_SECS + 100);
}

#[test]
fn expiry_is_the_minimum_even_when_a_later_block_claims_more() {
    let f = fixture();
    let root = f.mint(grant());
    let short = root
        .attenuate(Attenuation::new().expires_at(at(NOW_SECS + 60)))
        .unwrap();
    // Built by hand: the library would refuse this later expiry.
    let later = append_raw(
        &short,
        &format!("check if time($v), $v <= {}", date(NOW_SECS + 3000)),
    );
    let c = later.unverified_claims().unwrap();
    assert_eq!(c.expires_at, NOW_SECS + 60);
    assert_eq!(c.chain[1].expires_at, Some(NOW_SECS + 3000));
    assert_denied(
        &f.verify_at(&later, &plain(PAY, "x"), at(NOW_SECS + 61)),
        ReasonKind::Expired,
        "block 1 expired at",
    );
}
