#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Ways around the token layer's promises, each pinned by a test: a binding a thief appends
//! does not meet a required binding, a flood of proofs cannot lock other holders out, and
//! forged or large tokens cannot fill the verifier's memory.

mod common;

use std::sync::Arc;

use common::*;
use valet_token::danger::{BearerMinting, DangerousVerifier};
use valet_token::*;

fn prove(key: &SigningKey, token: &Token, request: &Request) -> HolderProof {
    HolderProof::sign(key, token, request, now()).unwrap()
}

/// The common grant, for another person and agent.
fn grant_for(subject: &str, client: &str) -> TokenBuilder {
    let mut g = TokenBuilder::new(subject, client)
        .audience(aud("https://pay.example.com"))
        .scope(scope("payments:write"))
        .expires_in(std::time::Duration::from_secs(3600));
    g = g.detail(
        AuthorizationDetail::new("payment")
            .max("amount", dec("1000.00"))
            .one_of("currency", ["USD", "EUR"]),
    );
    g.bearer()
}

/// A verifier with the defaults, which require a binding the issuer made.
fn binding_verifier(f: &Fixture) -> Verifier {
    f.strict()
}

#[test]
fn a_required_binding_is_not_met_by_a_binding_the_thief_appends() {
    let f = fixture();
    let verifier = binding_verifier(&f);
    let pay = payment("50.00", "USD", "bob@example.com");
    // A stolen bearer token, rebound by the thief to its own key: no key is needed to
    // append the block, so the binding proves nothing about who holds the token.
    let stolen = f.mint(grant());
    let thief = SigningKey::generate();
    let rebound = stolen
        .attenuate(Attenuation::new().holder(thief.public()))
        .unwrap();
    let verdict = verifier.verify_with_proof(
        &rebound,
        &pay,
        Some(&prove(&thief, &rebound, &pay)),
        now(),
        &NoRevocations,
    );
    let reasons = denied(&verdict);
    assert!(
        reasons
            .iter()
            .any(|r| r.kind == ReasonKind::Holder && r.message.contains("issuer bound")),
        "{reasons:#?}"
    );
    // A binding signed by the thief's own key is no better: no key was bound before it.
    let signed = stolen
        .attenuate_signed(Attenuation::new().holder(thief.public()), &thief)
        .unwrap();
    let verdict = verifier.verify_with_proof(
        &signed,
        &pay,
        Some(&prove(&thief, &signed, &pay)),
        now(),
        &NoRevocations,
    );
    assert!(!verdict.is_allowed(), "{:?}", verdict.reasons());
}

#[test]
fn a_required_binding_is_met_by_the_issuer_and_by_delegations_the_bound_key_signs() {
    let f = fixture();
    let verifier = binding_verifier(&f);
    let pay = payment("50.00", "USD", "bob@example.com");
    let agent = SigningKey::generate();
    let token = f.mint(grant().holder(agent.public()));
    let verdict = verifier.verify_with_proof(
        &token,
        &pay,
        Some(&prove(&agent, &token, &pay)),
        now(),
        &NoRevocations,
    );
    assert!(verdict.is_allowed(), "{:?}", verdict.reasons());
    // The bound agent hands the token to a sub-agent's key, signing the delegation.
    let sub = SigningKey::generate();
    let child = token
        .attenuate_signed(
            Attenuation::new().delegate("sub").holder(sub.public()),
            &agent,
        )
        .unwrap();
    let verdict = verifier.verify_with_proof(
        &child,
        &pay,
        Some(&prove(&sub, &child, &pay)),
        now(),
        &NoRevocations,
    );
    assert!(verdict.is_allowed(), "{:?}", verdict.reasons());
}

#[test]
fn a_flood_of_proofs_by_throwaway_keys_does_not_lock_out_a_bound_holder() {
    let f = fixture();
    let verifier =
        // Bearer tokens accepted: the attacker's rebound tokens reach the replay cache.
        Verifier::new(KeySet::new().with(f.key.public()))
            .accept_bearer_tokens()
            .with_holder_options(HolderOptions {
                replay_capacity: 64,
                replay_per_agent: 8,
                ..HolderOptions::default()
            });
    let pay = payment("50.00", "USD", "bob@example.com");
    let holder = SigningKey::generate();
    let bound = f.mint(grant().holder(holder.public()));
    // The attacker's agent holds valid bearer tokens of its own: many of them.
    let attacker = |_: usize| {
        f.mint(grant_for(
            "mallory@example.com",
            "https://mallory.example/client",
        ))
    };
    let own = attacker(0);
    // Proofs by keys the token does not bind are refused before they take room.
    for _ in 0..200 {
        let key = SigningKey::generate();
        let verdict = verifier.verify_with_proof(
            &own,
            &pay,
            Some(&prove(&key, &own, &pay)),
            now(),
            &NoRevocations,
        );
        assert!(!verdict.is_allowed());
    }
    // Proofs on its tokens rebound to throwaway keys are admitted only up to its agent's
    // quota, however many tokens it holds.
    let mut admitted = 0;
    for i in 0..200 {
        let key = SigningKey::generate();
        let rebound = attacker(i)
            .attenuate(Attenuation::new().holder(key.public()))
            .unwrap();
        let verdict = verifier.verify_with_proof(
            &rebound,
            &pay,
            Some(&prove(&key, &rebound, &pay)),
            now(),
            &NoRevocations,
        );
        if verdict.is_allowed() {
            admitted += 1;
        } else {
            assert!(
                verdict.reasons()[0]
                    .message
                    .contains("the most one person's agent may hold"),
                "{:?}",
                verdict.reasons()
            );
        }
    }
    assert_eq!(admitted, 8);
    // A proof the token's own checks refuse (a payment over the grant) takes no room.
    let big = payment("5000.00", "USD", "bob@example.com");
    for _ in 0..200 {
        let verdict = verifier.verify_with_proof(
            &bound,
            &big,
            Some(&prove(&holder, &bound, &big)),
            now(),
            &NoRevocations,
        );
        assert!(!verdict.is_allowed());
    }
    // The bound holder of another token still gets through, every time.
    for _ in 0..8 {
        let verdict = verifier.verify_with_proof(
            &bound,
            &pay,
            Some(&prove(&holder, &bound, &pay)),
            now(),
            &NoRevocations,
        );
        assert!(verdict.is_allowed(), "{:?}", verdict.reasons());
    }
}

#[test]
fn a_forged_token_is_not_cached() {
    let f = fixture();
    let verifier = Verifier::new(KeySet::new().with(f.key.public()))
        .accept_bearer_tokens()
        .with_cache(16);
    let pay = payment("50.00", "USD", "bob@example.com");
    // A token signed by a key the verifier does not trust, under the trusted key's id.
    let forger = RootKeyPair::generate(KeyId(1));
    let forged = Issuer::new(forger).mint_at(grant(), now()).unwrap();
    let bytes = forged.to_bytes().to_vec();
    let first = verifier.read_token(&bytes).unwrap();
    assert!(!verifier
        .verify(&first, &pay, now(), &NoRevocations)
        .is_allowed());
    let second = verifier.read_token(&bytes).unwrap();
    assert!(!Arc::ptr_eq(&first, &second), "a forged token was cached");
    assert_eq!(verifier.cache_usage().entries, 0);
    // A genuine one is shared once its signatures verified.
    let genuine = f.mint(grant()).to_bytes().to_vec();
    let first = verifier.read_token(&genuine).unwrap();
    assert!(verifier
        .verify(&first, &pay, now(), &NoRevocations)
        .is_allowed());
    let second = verifier.read_token(&genuine).unwrap();
    let third = verifier.read_token(&genuine).unwrap();
    assert!(Arc::ptr_eq(&second, &third));
    assert_eq!(verifier.cache_usage().entries, 1);
}

#[test]
fn the_verified_token_cache_is_bounded_by_bytes() {
    let f = fixture();
    let budget = 16 * 1024 * 1024;
    let verifier = Verifier::new(KeySet::new().with(f.key.public()))
        .accept_bearer_tokens()
        .with_cache(4096)
        .with_cache_bytes(budget);
    let pay = payment("50.00", "USD", "bob@example.com");
    let root = f.mint(grant());
    // Large tokens: each block carries a long raw check.
    let padding = format!("check if operation($a), $a != \"{}\"", "x".repeat(2000));
    for i in 0..400 {
        let t = root
            .attenuate(
                Attenuation::new()
                    .delegate(format!("agent-{i}"))
                    .check(&padding),
            )
            .unwrap();
        let t = verifier.read_token(t.to_bytes()).unwrap();
        assert!(verifier
            .verify(&t, &pay, now(), &NoRevocations)
            .is_allowed());
        let usage = verifier.cache_usage();
        assert!(usage.bytes <= budget, "{usage:?}");
    }
    let usage = verifier.cache_usage();
    assert!(usage.entries > 0 && usage.entries < 400, "{usage:?}");
}
