#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Holder binding: proofs of possession, their freshness and single use, and delegation
//! chains signed by each holder.

mod common;

use std::time::Duration;

use common::*;
use valet_token::*;

fn prove(key: &SigningKey, token: &Token, request: &Request) -> HolderProof {
    HolderProof::sign(key, token, request, now()).unwrap()
}

fn verify_proved(
    f: &Fixture,
    token: &Token,
    request: &Request,
    proof: Option<&HolderProof>,
) -> Verdict {
    f.verifier
        .verify_with_proof(token, request, proof, now(), &NoRevocations)
}

#[track_caller]
fn only_reason(verdict: &Verdict, kind: ReasonKind, contains: &str) {
    let reasons = denied(verdict);
    assert!(
        reasons
            .iter()
            .any(|r| r.kind == kind && r.message.contains(contains)),
        "no {kind:?} reason containing {contains:?}: {reasons:#?}"
    );
}

#[test]
fn a_bound_token_with_a_fresh_proof_is_allowed() {
    let f = fixture();
    let agent = SigningKey::generate();
    let token = f.mint(grant().holder(agent.public()));
    let pay = payment("50.00", "USD", "bob@example.com");
    let verdict = verify_proved(&f, &token, &pay, Some(&prove(&agent, &token, &pay)));
    assert!(verdict.is_allowed(), "{:?}", verdict.reasons());
    assert_eq!(verdict.claims().unwrap().holder, Some(agent.public()));
}

#[test]
fn a_stolen_bound_token_is_refused_without_the_key() {
    let f = fixture();
    let agent = SigningKey::generate();
    let token = f.mint(grant().holder(agent.public()));
    let pay = payment("50.00", "USD", "bob@example.com");
    // No proof at all.
    let verdict = verify_proved(&f, &token, &pay, None);
    only_reason(
        &verdict,
        ReasonKind::Holder,
        &format!(
            "the token is bound to holder key {}; the request carries no valid proof of possession",
            agent.public()
        ),
    );
    // The plain entry point refuses it the same way.
    only_reason(
        &f.verify(&token, &pay),
        ReasonKind::Holder,
        "bound to holder key",
    );
    // A proof signed by the thief's own key: refused before its nonce takes room.
    let thief = SigningKey::generate();
    let verdict = verify_proved(&f, &token, &pay, Some(&prove(&thief, &token, &pay)));
    only_reason(
        &verdict,
        ReasonKind::Proof,
        "a key this token is not bound to",
    );
    // The thief's proof, relabelled with the holder's public key.
    let mut forged = prove(&thief, &token, &pay);
    forged.key = agent.public();
    let verdict = verify_proved(&f, &token, &pay, Some(&forged));
    only_reason(&verdict, ReasonKind::Proof, "does not verify");
}

#[test]
fn a_stolen_bound_token_cannot_be_rebound_to_the_thief() {
    let f = fixture();
    let agent = SigningKey::generate();
    let thief = SigningKey::generate();
    let token = f.mint(grant().holder(agent.public()));
    let pay = payment("50.00", "USD", "bob@example.com");
    // Unsigned rebinding: the root's binding stays unmet.
    let rebound = token
        .attenuate(Attenuation::new().holder(thief.public()))
        .unwrap();
    let verdict = verify_proved(&f, &rebound, &pay, Some(&prove(&thief, &rebound, &pay)));
    only_reason(&verdict, ReasonKind::Holder, "bound to holder key");
    // Signing the rebinding with the thief's key is refused by the library...
    assert!(token
        .attenuate_signed(Attenuation::new().holder(thief.public()), &thief)
        .is_err());
    // ...and by the verifier, when the thief signs a block on top of the unsigned one.
    let signed = rebound
        .attenuate_signed(Attenuation::new().holder(thief.public()), &thief)
        .unwrap();
    let verdict = verify_proved(&f, &signed, &pay, Some(&prove(&thief, &signed, &pay)));
    only_reason(
        &verdict,
        ReasonKind::Holder,
        "the token is bound to holder key",
    );
}

#[test]
fn a_proof_for_another_audience_action_transaction_or_token_is_refused() {
    let f = fixture();
    let agent = SigningKey::generate();
    let token = f.mint(grant().holder(agent.public()));
    let pay = payment("50.00", "USD", "bob@example.com");
    let other_amount = payment("900.00", "USD", "bob@example.com");
    let other_recipient = payment("50.00", "USD", "carol@example.com");
    let other_audience = Request::new(aud(TOOLS), "pay_invoice").details(
        TransactionDetails::new("payment")
            .with("amount", "50.00")
            .with("currency", "USD")
            .with("recipient", "bob@example.com"),
    );
    let other_action = Request::new(aud(PAY), "refund").details(
        TransactionDetails::new("payment")
            .with("amount", "50.00")
            .with("currency", "USD")
            .with("recipient", "bob@example.com"),
    );
    for wrong in [
        &other_amount,
        &other_recipient,
        &other_audience,
        &other_action,
    ] {
        let proof = prove(&agent, &token, wrong);
        let verdict = verify_proved(&f, &token, &pay, Some(&proof));
        only_reason(&verdict, ReasonKind::Proof, "does not verify");
    }
    // A proof made for another token (a sibling minted for the same agent).
    let sibling = f.mint(grant().holder(agent.public()).token_id("sibling"));
    let verdict = verify_proved(&f, &token, &pay, Some(&prove(&agent, &sibling, &pay)));
    only_reason(&verdict, ReasonKind::Proof, "does not verify");
    // The right proof still passes.
    let verdict = verify_proved(&f, &token, &pay, Some(&prove(&agent, &token, &pay)));
    assert!(verdict.is_allowed(), "{:?}", verdict.reasons());
}

#[test]
fn a_replayed_proof_is_refused() {
    let f = fixture();
    let agent = SigningKey::generate();
    let token = f.mint(grant().holder(agent.public()));
    let pay = payment("50.00", "USD", "bob@example.com");
    let proof = prove(&agent, &token, &pay);
    assert!(verify_proved(&f, &token, &pay, Some(&proof)).is_allowed());
    let again = verify_proved(&f, &token, &pay, Some(&proof));
    only_reason(&again, ReasonKind::Proof, "already used");
    // Clones of the verifier share the cache.
    let clone = f.verifier.clone();
    let verdict = clone.verify_with_proof(&token, &pay, Some(&proof), now(), &NoRevocations);
    only_reason(&verdict, ReasonKind::Proof, "already used");
    // A fresh nonce is fine.
    assert!(verify_proved(&f, &token, &pay, Some(&prove(&agent, &token, &pay))).is_allowed());
}

#[test]
fn a_proof_outside_the_freshness_window_is_refused() {
    let f = fixture();
    let agent = SigningKey::generate();
    let token = f.mint(grant().holder(agent.public()));
    let pay = payment("50.00", "USD", "bob@example.com");
    let old = HolderProof::sign(&agent, &token, &pay, at(NOW_SECS - 61)).unwrap();
    only_reason(
        &verify_proved(&f, &token, &pay, Some(&old)),
        ReasonKind::Proof,
        "more than 60 s before",
    );
    let ahead = HolderProof::sign(&agent, &token, &pay, at(NOW_SECS + 6)).unwrap();
    only_reason(
        &verify_proved(&f, &token, &pay, Some(&ahead)),
        ReasonKind::Proof,
        "more than 5 s after",
    );
    // The edges of the window pass.
    let edge = HolderProof::sign(&agent, &token, &pay, at(NOW_SECS - 60)).unwrap();
    assert!(verify_proved(&f, &token, &pay, Some(&edge)).is_allowed());
    let skew = HolderProof::sign(&agent, &token, &pay, at(NOW_SECS + 5)).unwrap();
    assert!(verify_proved(&f, &token, &pay, Some(&skew)).is_allowed());
    // The window is configurable.
    let strict = Verifier::new(KeySet::new().with(f.key.public()))
        .proof_window(Duration::from_secs(10), Duration::ZERO);
    let proof = HolderProof::sign(&agent, &token, &pay, at(NOW_SECS - 11)).unwrap();
    let verdict = strict.verify_with_proof(&token, &pay, Some(&proof), now(), &NoRevocations);
    only_reason(&verdict, ReasonKind::Proof, "more than 10 s before");
}

#[test]
fn a_full_replay_cache_refuses_new_proofs() {
    let f = fixture();
    let verifier =
        Verifier::new(KeySet::new().with(f.key.public())).with_holder_options(HolderOptions {
            replay_capacity: 2,
            ..HolderOptions::default()
        });
    let agent = SigningKey::generate();
    let token = f.mint(grant().holder(agent.public()));
    let pay = payment("50.00", "USD", "bob@example.com");
    for _ in 0..2 {
        let proof = prove(&agent, &token, &pay);
        let verdict = verifier.verify_with_proof(&token, &pay, Some(&proof), now(), &NoRevocations);
        assert!(verdict.is_allowed(), "{:?}", verdict.reasons());
    }
    let proof = prove(&agent, &token, &pay);
    let verdict = verifier.verify_with_proof(&token, &pay, Some(&proof), now(), &NoRevocations);
    only_reason(&verdict, ReasonKind::Proof, "replay cache");
    // Once the first proofs expire, there is room again.
    let later = at(NOW_SECS + 61);
    let proof = HolderProof::sign(&agent, &token, &pay, later).unwrap();
    let verdict = verifier.verify_with_proof(&token, &pay, Some(&proof), later, &NoRevocations);
    assert!(verdict.is_allowed(), "{:?}", verdict.reasons());
}

#[test]
fn bearer_tokens_are_refused_unless_the_verifier_opts_in() {
    let f = fixture();
    let token = f.mint(grant());
    let pay = payment("50.00", "USD", "bob@example.com");
    // The fixture's verifier opts in (`danger::DangerousVerifier::accept_bearer_tokens`).
    assert!(f.verifier.accepts_bearer_tokens());
    assert!(f.verify(&token, &pay).is_allowed());
    // A verifier with the defaults refuses it, and says what to do.
    let strict = f.strict();
    assert!(!strict.accepts_bearer_tokens());
    let verdict = strict.verify(&token, &pay, now(), &NoRevocations);
    only_reason(
        &verdict,
        ReasonKind::Holder,
        "accepts only tokens bound to a holder key, and this token is a bearer token, which anyone holding a copy of it can use: mint the token with the agent's public key and sign a proof of possession for each request",
    );
    assert_eq!(denied(&verdict).len(), 1);
    // A proof by some key does not make a bearer token bound.
    let agent = SigningKey::generate();
    let verdict = strict.verify_with_proof(
        &token,
        &pay,
        Some(&prove(&agent, &token, &pay)),
        now(),
        &NoRevocations,
    );
    only_reason(&verdict, ReasonKind::Holder, "is a bearer token");
    // Replacing the holder options keeps the opt-in as it was, either way.
    assert!(f
        .verifier
        .clone()
        .with_holder_options(HolderOptions::default())
        .accepts_bearer_tokens());
    assert!(!strict
        .clone()
        .with_holder_options(HolderOptions::default())
        .accepts_bearer_tokens());
    // A bound token with its proof passes the strict verifier.
    let bound = f.mint(grant().holder(agent.public()));
    let proof = prove(&agent, &bound, &pay);
    let verdict = strict.verify_with_proof(&bound, &pay, Some(&proof), now(), &NoRevocations);
    assert!(verdict.is_allowed(), "{:?}", verdict.reasons());
    // A bad proof presented with a bearer token is still refused.
    let mut bad = prove(&agent, &token, &pay);
    bad.signature[0] ^= 1;
    only_reason(
        &verify_proved(&f, &token, &pay, Some(&bad)),
        ReasonKind::Proof,
        "does not verify",
    );
}

#[test]
fn a_chain_signed_link_by_link_shows_every_link_verified() {
    let f = fixture();
    let orchestrator = SigningKey::generate();
    let invoice = SigningKey::generate();
    let payer = SigningKey::generate();
    let root = f.mint(grant().holder(orchestrator.public()));
    let child = root
        .attenuate_signed(
            Attenuation::new()
                .delegate("invoice-agent")
                .holder(invoice.public())
                .max("payment", "amount", dec("100.00")),
            &orchestrator,
        )
        .unwrap();
    let grandchild = child
        .attenuate_signed(
            Attenuation::new()
                .delegate("payer")
                .holder(payer.public())
                .max("payment", "amount", dec("60.00")),
            &invoice,
        )
        .unwrap();
    let pay = payment("50.00", "USD", "bob@example.com");
    let verdict = verify_proved(
        &f,
        &grandchild,
        &pay,
        Some(&prove(&payer, &grandchild, &pay)),
    );
    assert!(verdict.is_allowed(), "{:?}", verdict.reasons());
    let claims = verdict.claims().unwrap();
    assert_eq!(claims.chain.len(), 2);
    let who = |k: &SigningKey| Some(k.public());
    assert_eq!(claims.chain[0].signed_by, who(&orchestrator));
    assert_eq!(claims.chain[0].holder, who(&invoice));
    assert_eq!(claims.chain[1].signed_by, who(&invoice));
    assert_eq!(claims.chain[1].holder, who(&payer));
    assert!(
        claims.chain.iter().all(|l| l.verified),
        "{:#?}",
        claims.chain
    );
    assert_eq!(claims.holder, who(&payer));
    // Before verification the same links are only asserted.
    let unverified = grandchild.unverified_claims().unwrap();
    assert!(unverified.chain.iter().all(|l| !l.verified));
    assert_eq!(unverified.chain[1].signed_by, who(&invoice));
    // The limits still apply.
    let too_much = payment("70.00", "USD", "bob@example.com");
    let verdict = verify_proved(
        &f,
        &grandchild,
        &too_much,
        Some(&prove(&payer, &grandchild, &too_much)),
    );
    only_reason(&verdict, ReasonKind::Limit, "60.00");
    // The middle agent's own proof does not satisfy the last binding.
    let verdict = verify_proved(
        &f,
        &grandchild,
        &pay,
        Some(&prove(&invoice, &grandchild, &pay)),
    );
    only_reason(
        &verdict,
        ReasonKind::Holder,
        "block 2 (delegate: payer) binds",
    );
    // An unsigned narrowing is a self-asserted link.
    let narrowed = grandchild
        .attenuate(Attenuation::new().delegate("helper"))
        .unwrap();
    let verdict = verify_proved(&f, &narrowed, &pay, Some(&prove(&payer, &narrowed, &pay)));
    assert!(verdict.is_allowed(), "{:?}", verdict.reasons());
    let chain = &verdict.claims().unwrap().chain;
    assert!(chain[0].verified && chain[1].verified && !chain[2].verified);
    assert_eq!(chain[2].signed_by, None);
}

#[test]
fn a_delegation_not_signed_by_the_bound_holder_is_refused() {
    let f = fixture();
    let orchestrator = SigningKey::generate();
    let invoice = SigningKey::generate();
    let root = f.mint(grant().holder(orchestrator.public()));
    // Unsigned handover to the sub-agent: the orchestrator's binding is unmet.
    let child = root
        .attenuate(Attenuation::new().holder(invoice.public()))
        .unwrap();
    let pay = payment("50.00", "USD", "bob@example.com");
    let verdict = verify_proved(&f, &child, &pay, Some(&prove(&invoice, &child, &pay)));
    only_reason(
        &verdict,
        ReasonKind::Holder,
        "the token is bound to holder key",
    );
}

#[test]
fn tampering_with_a_signed_link_is_refused() {
    let f = fixture();
    let orchestrator = SigningKey::generate();
    let invoice = SigningKey::generate();
    let root = f.mint(grant().holder(orchestrator.public()));
    let child = root
        .attenuate_signed(
            Attenuation::new()
                .holder(invoice.public())
                .max("payment", "amount", dec("100.00")),
            &orchestrator,
        )
        .unwrap();
    let pay = payment("50.00", "USD", "bob@example.com");
    assert!(verify_proved(&f, &child, &pay, Some(&prove(&invoice, &child, &pay))).is_allowed());
    // Flip every byte of the token in turn: nothing that still parses may be allowed
    // with a proof made for the altered bytes.
    let bytes = child.to_bytes().to_vec();
    let mut allowed = Vec::new();
    for i in (0..bytes.len()).step_by(3) {
        let mut altered = bytes.clone();
        altered[i] ^= 0x01;
        let Ok(token) = Token::from_bytes(&altered) else {
            continue;
        };
        let proof = prove(&invoice, &token, &pay);
        if verify_proved(&f, &token, &pay, Some(&proof)).is_allowed() {
            allowed.push(i);
        }
    }
    assert!(allowed.is_empty(), "altered bytes allowed at {allowed:?}");
}

#[test]
fn proofs_round_trip_through_json() {
    let f = fixture();
    let agent = SigningKey::generate();
    let token = f.mint(grant().holder(agent.public()));
    let pay = payment("50.00", "USD", "bob@example.com");
    let proof = prove(&agent, &token, &pay);
    let json = proof.to_json().unwrap();
    assert!(json.contains("\"key\":\"ed25519/"), "{json}");
    let back = HolderProof::from_json(&json).unwrap();
    assert_eq!(back, proof);
    assert!(verify_proved(&f, &token, &pay, Some(&back)).is_allowed());
    assert!(HolderProof::from_json(
        r#"{"key":"ed25519/00","timestamp":1,"nonce":"x","signature":""}"#
    )
    .is_err());
    // The signing input is the documented text.
    let input = HolderProof::signing_input(&token, &pay, 7, "n");
    let text = String::from_utf8(input).unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines[0], PROOF_CONTEXT);
    assert_eq!(lines[1], PAY);
    assert_eq!(lines[2], "pay_invoice");
    assert_eq!(lines[3], details_digest(pay.details.as_ref()));
    assert_eq!(lines[4], token_digest(&token));
    assert_eq!(&lines[5..], ["7", "n"]);
}
