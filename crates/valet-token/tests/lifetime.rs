#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A verifier refuses a token that has longer left to live, by its clock, than it accepts
//! (`Limits::max_remaining_lifetime`): a clock far behind the truth cannot honour tokens
//! until long after they expired.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::*;
use valet_token::danger::DangerousVerifier;
use valet_token::*;

fn token(root: &RootKeyPair, lifetime: Duration) -> Token {
    Issuer::new(root.clone())
        .max_lifetime(Duration::from_secs(7 * 86_400))
        .mint_at(grant().expires_in(lifetime), now())
        .unwrap()
}

fn request() -> Request {
    Request::new(aud(TOOLS), "list_files")
}

#[test]
fn a_clock_at_the_epoch_honours_no_token() {
    let root = RootKeyPair::generate(KeyId(1));
    let t = token(&root, Duration::from_secs(600));
    let v = Verifier::new(KeySet::new().with(root.public())).accept_bearer_tokens();
    assert_allowed(&v.verify(&t, &request(), now(), &NoRevocations));
    let verdict = v.verify(&t, &request(), UNIX_EPOCH, &NoRevocations);
    assert_denied(&verdict, ReasonKind::NotYetValid, "the clock is wrong");
    // The early refusal says the same without checking a signature.
    let early = v.early_refusal(&t, &request(), UNIX_EPOCH, &NoRevocations);
    assert!(early.unwrap().message.contains("more than 86400 s"));
}

#[test]
fn the_bound_is_the_limit_and_can_be_raised() {
    let root = RootKeyPair::generate(KeyId(1));
    let day = token(&root, Duration::from_secs(86_400));
    let longer = token(&root, Duration::from_secs(86_401));
    let v = Verifier::new(KeySet::new().with(root.public())).accept_bearer_tokens();
    assert_allowed(&v.verify(&day, &request(), now(), &NoRevocations));
    assert_denied(
        &v.verify(&longer, &request(), now(), &NoRevocations),
        ReasonKind::NotYetValid,
        "lives longer than this verifier accepts",
    );
    let lenient = Verifier::new(KeySet::new().with(root.public()))
        .accept_bearer_tokens()
        .with_limits(Limits {
            max_remaining_lifetime: Duration::from_secs(7 * 86_400),
            ..Limits::default()
        });
    assert_allowed(&lenient.verify(&longer, &request(), now(), &NoRevocations));
}
