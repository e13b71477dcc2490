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
use valet_token::danger::BearerMinting;
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
    // The child's block states no floor of its own: the root's, which refuses negative
    // amounts, holds and is the one named.
    assert_denied(
        &f.verify(&child, &payment("-1.00", "USD", "alice@example.com")),
        ReasonKind::Limit,
        "the token limits payment amount to at least 0.00, requested `-1.00`",
    );
    assert_eq!(
        child.unverified_claims().unwrap().chain[0].limits[0].limit,
        Limit::at_most(dec("50.00"))
    );
    assert_denied(
        &f.verify(&root, &payment("-1.00", "USD", "alice@example.com")),
        ReasonKind::Limit,
        "the token limits payment amount to at least 0.00, requested `-1.00`",
    );
}

fn refunds() -> TokenBuilder {
    TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
        .bearer()
        .audience(aud(PAY))
        .expires_in(std::time::Duration::from_secs(3600))
        .detail(
            AuthorizationDetail::new("payment")
                .min("amount", dec("-100.00"))
                .max("amount", dec("1000.00")),
        )
}

#[test]
fn a_min_below_zero_grants_negative_amounts() {
    let f = fixture();
    let root = f.mint(refunds());
    assert_allowed(&f.verify(&root, &payment("-100.00", "USD", "x")));
    assert_denied(
        &f.verify(&root, &payment("-100.01", "USD", "x")),
        ReasonKind::Limit,
        "the token limits payment amount to at least -100.00, requested `-100.01`",
    );
    assert_denied(
        &f.verify(&root, &payment("1000.01", "USD", "x")),
        ReasonKind::Limit,
        "the token limits payment amount to at least -100.00 and at most 1000.00, requested `1000.01`",
    );
    // A child's max alone refuses negative amounts again.
    let capped = root
        .attenuate(Attenuation::new().max("payment", "amount", dec("50.00")))
        .unwrap();
    assert_denied(
        &f.verify(&capped, &payment("-1.00", "USD", "x")),
        ReasonKind::Limit,
        "block 1 limits payment amount to at least 0.00, requested `-1.00`",
    );
    // A child's min narrows, and keeps the parent's max.
    let small_refunds = root
        .attenuate(Attenuation::new().min("payment", "amount", dec("-10.00")))
        .unwrap();
    assert_allowed(&f.verify(&small_refunds, &payment("-10.00", "USD", "x")));
    assert_allowed(&f.verify(&small_refunds, &payment("1000.00", "USD", "x")));
    assert_denied(
        &f.verify(&small_refunds, &payment("-10.01", "USD", "x")),
        ReasonKind::Limit,
        "block 1 limits payment amount to at least -10.00, requested `-10.01`",
    );
    assert_denied(
        &f.verify(&small_refunds, &payment("1000.01", "USD", "x")),
        ReasonKind::Limit,
        "requested `1000.01`",
    );
    assert_eq!(
        small_refunds
            .unverified_claims()
            .unwrap()
            .effective_limit("payment", "amount"),
        Some(Limit::between(dec("-10.00"), dec("1000.00")))
    );
}

#[test]
fn a_block_cannot_lower_the_parent_min() {
    let f = fixture();
    let root = f.mint(grant());
    // Under a max alone the minimum is zero.
    let e = root
        .attenuate(Attenuation::new().min("payment", "amount", dec("-0.01")))
        .unwrap_err();
    assert!(matches!(e, TokenError::Widening(_)), "{e}");
    assert!(
        e.to_string().contains(
            "payment.amount at least -0.01 is lower than the parent token's minimum of 0.00"
        ),
        "{e}"
    );
    let ten = root
        .attenuate(
            Attenuation::new()
                .delegate("invoice-agent")
                .min("payment", "amount", dec("10.00"))
                .max("payment", "amount", dec("50.00")),
        )
        .unwrap();
    assert_denied(
        &f.verify(&ten, &payment("9.99", "USD", "alice@example.com")),
        ReasonKind::Limit,
        "block 1 (delegate: invoice-agent) limits payment amount to at least 10.00, requested `9.99`",
    );
    assert_allowed(&f.verify(&ten, &payment("10.00", "USD", "alice@example.com")));
    for lower in ["9.99", "0.00", "-5.00"] {
        let e = ten
            .attenuate(Attenuation::new().min("payment", "amount", dec(lower)))
            .unwrap_err();
        assert!(matches!(e, TokenError::Widening(_)), "{lower}: {e}");
    }
    // A max alone under a min of 10.00 does not lower it: the parent's min still holds.
    let grandchild = ten
        .attenuate(Attenuation::new().max("payment", "amount", dec("20.00")))
        .unwrap();
    assert_denied(
        &f.verify(&grandchild, &payment("5.00", "USD", "alice@example.com")),
        ReasonKind::Limit,
        "limits payment amount to at least 10.00, requested `5.00`",
    );
    let e = ten
        .attenuate(Attenuation::new().max("payment", "amount", dec("50.01")))
        .unwrap_err();
    assert!(matches!(e, TokenError::Widening(_)), "{e}");
    // A block whose min is above its max is refused.
    let e = root
        .attenuate(
            Attenuation::new()
                .min("payment", "amount", dec("60.00"))
                .max("payment", "amount", dec("50.00")),
        )
        .unwrap_err();
    assert!(matches!(e, TokenError::Invalid(_)), "{e}");
}

/// A block's `max` alone, written by hand in the shape valet writes, is a limit the claims
/// and refusals state as it is enforced: under a grant that refuses negative amounts it
/// is `at most 50.00`; under a grant with no limit on the field it refuses no negative
/// value, and the claims say so rather than show a floor of zero.
#[test]
fn a_max_check_without_a_floor_is_still_explained() {
    let check = r#"check if detail($v), $v !== "payment" or decimal("amount", $v), $v <= 500000;"#;
    let f = fixture();
    let root = f.mint(grant());
    let capped = append_raw(&root, check);
    let claims = capped.unverified_claims().unwrap();
    assert!(claims.chain[0].checks.is_empty(), "{:?}", claims.chain[0]);
    assert_eq!(
        claims.chain[0].limits[0].limit,
        Limit::at_most(dec("50.00"))
    );
    assert_denied(
        &f.verify(&capped, &payment("50.01", "USD", "alice@example.com")),
        ReasonKind::Limit,
        "block 1 limits payment amount to 50.00, requested `50.01`",
    );
    assert_denied(
        &f.verify(&capped, &payment("-1.00", "USD", "alice@example.com")),
        ReasonKind::Limit,
        "the token limits payment amount to at least 0.00, requested `-1.00`",
    );

    // No floor above the block: the block's check lets negative amounts through, and its
    // claims show no floor.
    let open = f.mint(
        TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .bearer()
            .audience(aud(PAY))
            .expires_in(std::time::Duration::from_secs(3600))
            .detail(AuthorizationDetail::new("payment")),
    );
    let capped = append_raw(&open, check);
    let claims = capped.unverified_claims().unwrap();
    let lowest = Decimal::from_scaled(i64::MIN);
    assert_eq!(
        claims.chain[0].limits[0].limit,
        Limit::between(lowest, dec("50.00"))
    );
    assert_eq!(
        claims.effective_limit("payment", "amount"),
        Some(Limit::between(lowest, dec("50.00")))
    );
    assert_allowed(&f.verify(&capped, &payment("-1000.00", "USD", "x")));
    assert_denied(
        &f.verify(&capped, &payment("50.01", "USD", "x")),
        ReasonKind::Limit,
        "block 1 limits payment amount to 50.00, requested `50.01`",
    );
}
