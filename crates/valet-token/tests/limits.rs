#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Lower bounds of decimal limits: a `max` refuses negative values unless a `min` below
//! zero is granted, and a `min` narrows as a `max` does.

mod common;

use common::*;
use valet_token::*;

/// A `max` alone once let any negative amount through: with `max 50.00`,
/// `-1000000.00` passed the token layer.
#[test]
fn a_max_limit_refuses_a_negative_amount() {
    let f = fixture();
    let root = f.mint(grant());
    let child = root
        .attenuate(Attenuation::new().delegate("invoice-agent").max(
            "payment",
            "amount",
            dec("50.00"),
        ))
        .unwrap();
    for token in [&root, &child] {
        for amount in ["-1000000.00", "-0.0001", "-1.00"] {
            assert_denied(
                &f.verify(token, &payment(amount, "USD", "alice@example.com")),
                ReasonKind::Limit,
                &format!("requested `{amount}`"),
            );
        }
        assert_allowed(&f.verify(token, &payment("0.00", "USD", "alice@example.com")));
    }
    assert_denied(
        &f.verify(&child, &payment("-1.00", "USD", "alice@example.com")),
        ReasonKind::Limit,
        "block 1 (delegate: invoice-agent) limits payment amount to at least 0.00, requested `-1.00`",
    );
    assert_denied(
        &f.verify(&root, &payment("-1.00", "USD", "alice@example.com")),
        ReasonKind::Limit,
        "the token limits payment amount to at least 0.00, requested `-1.00`",
    );
}
