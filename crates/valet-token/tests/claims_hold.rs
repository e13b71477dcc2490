#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! What the claims say holds against blocks a holder appends by hand: the lifetime bound
//! reads the expiry the issuer signed, the holder named is the one whose proof meets every
//! binding, and a limit of another kind added over a grant's shows what both admit.

mod common;

use std::time::Duration;

use common::*;
use valet_token::*;

#[test]
fn an_appended_earlier_expiry_does_not_bring_a_long_lived_token_under_the_lifetime_bound() {
    let f = fixture();
    let long = Issuer::new(f.key.clone())
        .max_lifetime(Duration::from_secs(30 * 86_400))
        .mint_at(grant().expires_in(Duration::from_secs(30 * 86_400)), now())
        .unwrap();
    let request = Request::new(aud(TOOLS), "list_files");
    assert_denied(
        &f.verify(&long, &request),
        ReasonKind::NotYetValid,
        "lives longer than this verifier accepts",
    );
    let shortened = long
        .attenuate(
            Attenuation::new()
                .expires_in(Duration::from_secs(3600))
                .now(now()),
        )
        .unwrap();
    assert_eq!(
        shortened.unverified_claims().unwrap().expires_at,
        NOW_SECS + 3600
    );
    assert_denied(
        &f.verify(&shortened, &request),
        ReasonKind::NotYetValid,
        "lives longer than this verifier accepts",
    );
}

#[test]
fn the_holder_named_is_the_one_whose_proof_meets_every_binding() {
    let f = fixture();
    let a = SigningKey::generate();
    let b = SigningKey::generate();
    let root = f.mint(grant().holder(a.public()));
    let to_b = root
        .attenuate_signed(Attenuation::new().holder(b.public()), &a)
        .unwrap();
    assert_eq!(to_b.unverified_claims().unwrap().holder, Some(b.public()));
    // B binds the token again to A, unsigned: a proof by B still proves A (A signed the
    // block binding B), and a proof by A cannot meet B's binding.
    let rebound = to_b
        .attenuate(Attenuation::new().holder(a.public()))
        .unwrap();
    let claims = rebound.unverified_claims().unwrap();
    assert_eq!(claims.holder, Some(b.public()), "{claims:?}");
    let request = Request::new(aud(TOOLS), "list_files");
    let by = |key: &SigningKey| {
        let proof = HolderProof::sign(key, &rebound, &request, now()).unwrap();
        f.verifier
            .verify_with_proof(&rebound, &request, Some(&proof), now(), &NoRevocations)
    };
    assert_allowed(&by(&b));
    assert!(!by(&a).is_allowed());
    let verified = by(&b);
    assert_eq!(verified.claims().unwrap().holder, Some(b.public()));
}

#[test]
fn a_set_added_over_a_range_shows_what_both_admit() {
    let f = fixture();
    let root = f.mint(grant());
    let forged = append_raw(
        &root,
        r#"check if detail($v), $v !== "payment" or field("amount", $v), {"99999", "50.00"}.contains($v);"#,
    );
    let claims = forged.unverified_claims().unwrap();
    assert_eq!(
        claims.effective_limit("payment", "amount"),
        Some(Limit::OneOf(["50.00".to_owned()].into())),
        "99999 is above the grant's 1000.00"
    );
}

#[test]
fn an_expiry_past_year_9999_is_a_time_not_a_panic() {
    let f = fixture();
    let mut claims = f.mint(grant()).unverified_claims().unwrap();
    claims.expires_at = u64::MAX;
    assert!(claims.expiry() > std::time::UNIX_EPOCH);
}
