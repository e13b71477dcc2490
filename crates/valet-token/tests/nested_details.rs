#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Transaction fields holding records and arrays: every limit a token sets on such a field
//! refuses the request (the token's Datalog sees no fact of the value), with a refusal that
//! says what was sent; fields no limit names may hold any value, within the bounds on
//! nesting and on the number of values.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use valet_token::danger::{BearerMinting, DangerousVerifier};
use valet_token::details::{DEFAULT_MAX_DETAIL_VALUES, MAX_DETAIL_DEPTH};
use valet_token::*;

fn s(x: &str) -> FieldValue {
    FieldValue::Str(x.to_owned())
}

fn record(members: &[(&str, FieldValue)]) -> FieldValue {
    FieldValue::Record(
        members
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// Values that are neither strings nor decimals, most holding inside them a value the
/// limits of the tests would admit, with the words a refusal names them by.
fn nested_values() -> Vec<(FieldValue, &'static str)> {
    vec![
        (record(&[("amount", s("10.00"))]), "an object"),
        (record(&[("value", s("USD"))]), "an object"),
        (
            record(&[(
                "__extn",
                record(&[("fn", s("decimal")), ("arg", s("10.00"))]),
            )]),
            "an object",
        ),
        (
            record(&[(
                "__entity",
                record(&[("type", s("User")), ("id", s("alice@example.com"))]),
            )]),
            "an object",
        ),
        (record(&[]), "an object"),
        (FieldValue::Array(vec![FieldValue::Long(10)]), "an array"),
        (
            FieldValue::Array(vec![s("USD"), s("10.00"), FieldValue::Long(1)]),
            "an array",
        ),
        (
            FieldValue::Array(vec![record(&[("amount", s("10.00"))])]),
            "an array",
        ),
    ]
}

/// The verdict of the prepared checks, after asserting that Biscuit's own authorizer,
/// given the facts built the other way, decides the same with the same reasons.
fn verify(f: &Fixture, token: &Token, request: &Request) -> Verdict {
    let reference = Verifier::new(KeySet::new().with(f.key.public()))
        .accept_bearer_tokens()
        .reference_datalog();
    let expected = reference.verify(token, request, now(), &NoRevocations);
    let got = f.verify(token, request);
    assert_eq!(got.is_allowed(), expected.is_allowed(), "{request:?}");
    assert_eq!(got.reasons(), expected.reasons(), "{request:?}");
    got
}

/// A payment the `grant()` fixture allows, with `field` set to `value`.
fn payment_with(field: &str, value: FieldValue) -> Request {
    let d = TransactionDetails::new("payment")
        .with("amount", "10.00")
        .with("currency", "USD")
        .with("recipient", "alice@example.com")
        .field(field, value);
    Request::new(aud(PAY), "pay_invoice").details(d)
}

/// What a refusal says a limit of `kind` reads, after naming what was sent.
fn not_read(limit: &str) -> &'static str {
    if limit == "range" {
        "which is not a decimal amount"
    } else {
        "which is not a string"
    }
}

#[test]
fn a_grant_limit_refuses_a_record_or_an_array() {
    let f = fixture();
    let root = f.mint(grant());
    assert_allowed(&verify(&f, &root, &payment_with("memo", s("x"))));
    for (field, limit, bound) in [
        ("amount", "range", "at most 1000.00"),
        ("currency", "one_of", "one of `EUR`, `USD`"),
        (
            "recipient",
            "one_of",
            "one of `alice@example.com`, `bob@example.com`, `carol@example.com`",
        ),
    ] {
        for (value, shown) in nested_values() {
            let v = verify(&f, &root, &payment_with(field, value.clone()));
            assert_denied(
                &v,
                ReasonKind::Limit,
                &format!(
                    "the token limits payment {field} to {bound}, requested {shown}, {}",
                    not_read(limit)
                ),
            );
        }
    }
}

#[test]
fn a_grant_min_and_a_grant_identifier_refuse_a_record_or_an_array() {
    let f = fixture();
    let token = f.mint(
        TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .bearer()
            .audience(aud(PAY))
            .expires_in(Duration::from_secs(3600))
            .detail(
                AuthorizationDetail::new("payment")
                    .min("amount", dec("-100.00"))
                    .max("amount", dec("1000.00")),
            )
            .detail(
                AuthorizationDetail::new("payment")
                    .actions(["refund"])
                    .min("amount", dec("-50.00")),
            )
            .detail(AuthorizationDetail::new("file").identifier("/reports/q3.pdf")),
    );
    let refund = |amount: FieldValue| {
        Request::new(aud(PAY), "refund")
            .details(TransactionDetails::new("payment").field("amount", amount))
    };
    let file = |identifier: FieldValue| {
        Request::new(aud(PAY), "read_file")
            .details(TransactionDetails::new("file").field("identifier", identifier))
    };
    assert_allowed(&verify(&f, &token, &refund(s("-40.00"))));
    assert_allowed(&verify(&f, &token, &file(s("/reports/q3.pdf"))));
    for (value, shown) in nested_values() {
        assert_denied(
            &verify(&f, &token, &refund(value.clone())),
            ReasonKind::Limit,
            &format!(
                "the token limits payment amount to at least -100.00 and at most 1000.00, requested {shown}, which is not a decimal amount"
            ),
        );
        assert_denied(
            &verify(&f, &token, &file(value.clone())),
            ReasonKind::Limit,
            "identifier must be `/reports/q3.pdf`",
        );
    }
    // A record holding the identifier is not the identifier.
    assert_denied(
        &verify(
            &f,
            &token,
            &file(record(&[("identifier", s("/reports/q3.pdf"))])),
        ),
        ReasonKind::Limit,
        "identifier must be `/reports/q3.pdf`",
    );
}

#[test]
fn a_block_limit_refuses_a_record_or_an_array() {
    let f = fixture();
    // A grant that limits no field: only the block's limits apply.
    let open = f.mint(
        TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .bearer()
            .audience(aud(PAY))
            .expires_in(Duration::from_secs(3600))
            .detail(AuthorizationDetail::new("payment")),
    );
    let child = open
        .attenuate(
            Attenuation::new()
                .delegate("invoice-agent")
                .max("payment", "amount", dec("50.00"))
                .min("payment", "fee", dec("-1.00"))
                .max("payment", "fee", dec("1.00"))
                .min("payment", "priority", dec("1.00"))
                .one_of("payment", "currency", ["USD"]),
        )
        .unwrap();
    let request = |field: &str, value: FieldValue| {
        let d = TransactionDetails::new("payment")
            .with("amount", "10.00")
            .with("fee", "0.50")
            .with("priority", "2")
            .with("currency", "USD")
            .field(field, value);
        Request::new(aud(PAY), "pay_invoice").details(d)
    };
    assert_allowed(&verify(&f, &child, &request("memo", s("x"))));
    for (field, limit, bound) in [
        ("amount", "range", "50.00"),
        ("fee", "range", "1.00"),
        ("priority", "range", "at least 1.00"),
        ("currency", "one_of", "one of `USD`"),
    ] {
        for (value, shown) in nested_values() {
            assert_denied(
                &verify(&f, &child, &request(field, value.clone())),
                ReasonKind::Limit,
                &format!(
                    "block 1 (delegate: invoice-agent) limits payment {field} to {bound}, requested {shown}, {}",
                    not_read(limit)
                ),
            );
        }
    }
    // Under the fixture's grant too, the block and the grant both refuse.
    let child = f
        .mint(grant())
        .attenuate(Attenuation::new().max("payment", "amount", dec("50.00")))
        .unwrap();
    for (value, _) in nested_values() {
        let v = verify(&f, &child, &payment_with("amount", value));
        assert!(
            denied(&v).iter().all(|r| r.kind == ReasonKind::Limit),
            "{v:?}"
        );
    }
}

#[test]
fn other_kinds_of_values_are_named_in_refusals() {
    let f = fixture();
    let root = f.mint(grant());
    for (field, value, said) in [
        (
            "amount",
            FieldValue::Long(1001),
            "at most 1000.00, requested `1001`",
        ),
        (
            "amount",
            FieldValue::Bool(true),
            "requested a boolean, which is not a decimal amount",
        ),
        (
            "currency",
            FieldValue::List(vec!["USD".into()]),
            "requested an array of strings, which is not a string",
        ),
        (
            "currency",
            FieldValue::Long(840),
            "requested `840`, which is not a string",
        ),
    ] {
        assert_denied(
            &verify(&f, &root, &payment_with(field, value)),
            ReasonKind::Limit,
            said,
        );
    }
}

/// A value nesting `depth` records and arrays, alternating, around a string.
fn nested(depth: usize) -> serde_json::Value {
    (0..depth).fold(serde_json::json!("x"), |inner, i| {
        if i % 2 == 0 {
            serde_json::json!({ "k": inner, "n": i })
        } else {
            serde_json::json!([inner, true])
        }
    })
}

fn request_json(extra: &serde_json::Value) -> serde_json::Value {
    let mut details = serde_json::json!({
        "type": "payment",
        "amount": "10.00",
        "currency": "USD",
        "recipient": "alice@example.com",
    });
    for (k, v) in extra.as_object().unwrap() {
        details[k] = v.clone();
    }
    serde_json::json!({
        "audience": PAY,
        "action": "pay_invoice",
        "authorization_details": details,
    })
}

#[test]
fn nested_values_on_fields_no_limit_names_are_accepted() {
    let f = fixture();
    let root = f.mint(grant());
    let child = root
        .attenuate(
            Attenuation::new()
                .delegate("invoice-agent")
                .max("payment", "amount", dec("50.00"))
                .one_of("payment", "recipient", ["alice@example.com"]),
        )
        .unwrap();
    let extra = serde_json::json!({
        "trip": {"legs": [{"from": "CDG", "to": "JFK", "seats": 2}], "refundable": false},
        "approver": {"__entity": {"type": "User", "id": "bob@example.com"}},
        "source_ip": {"__extn": {"fn": "ip", "arg": "10.0.0.1"}},
        "codes": [1, "two", ["three"]],
        "tags": ["q3", "travel"],
        "none": [],
        "deep": nested(MAX_DETAIL_DEPTH),
    });
    let text = request_json(&extra).to_string();
    let request = Request::from_json(&text, &Limits::default()).unwrap();
    let details = request.details.as_ref().unwrap();
    assert_eq!(details.get("trip").map(FieldValue::kind), Some("object"));
    assert_eq!(details.get("codes").map(FieldValue::kind), Some("array"));
    assert_eq!(
        details.get("tags"),
        Some(&FieldValue::List(vec!["q3".into(), "travel".into()]))
    );
    assert_eq!(details.get("none"), Some(&FieldValue::List(vec![])));
    for token in [&root, &child] {
        assert_allowed(&verify(&f, token, &request));
    }
    // The limited fields still decide.
    let over = Request::from_json(
        &request_json(&serde_json::json!({"amount": "50.01", "trip": {"a": [1]}})).to_string(),
        &Limits::default(),
    )
    .unwrap();
    assert_allowed(&verify(&f, &root, &over));
    assert_denied(
        &verify(&f, &child, &over),
        ReasonKind::Limit,
        "limits payment amount to 50.00, requested `50.01`",
    );
}

#[test]
fn a_request_s_nested_values_are_bounded() {
    let limits = Limits::default();
    let read = |extra: serde_json::Value, limits: &Limits| {
        Request::from_json(&request_json(&extra).to_string(), limits)
    };
    assert!(read(
        serde_json::json!({ "deep": nested(MAX_DETAIL_DEPTH) }),
        &limits
    )
    .is_ok());
    let e = read(
        serde_json::json!({ "deep": nested(MAX_DETAIL_DEPTH + 1) }),
        &limits,
    )
    .unwrap_err();
    assert!(
        matches!(
            &e,
            RequestError::TooDeep { .. } | RequestError::FieldTooDeep { .. }
        ),
        "{e:?}"
    );
    // A value read already parsed is bounded by the field's depth.
    let e = Request::from_json_value(
        &request_json(&serde_json::json!({ "deep": nested(MAX_DETAIL_DEPTH + 1) })),
        &limits,
    )
    .unwrap_err();
    assert_eq!(
        e,
        RequestError::FieldTooDeep {
            path: "deep.k[0].k[0].k[0].k[0]".into(),
            max: MAX_DETAIL_DEPTH
        }
    );
    assert_eq!(
        e.to_string(),
        "transaction field `deep.k[0].k[0].k[0].k[0]` is nested more than 8 arrays and objects deep: send a flatter value, or move the inner part to a field of its own"
    );

    // Every nested value counts: the three fields of `request_json`, `items` and each
    // item's two values (the first over the bound is an item or its member, as the
    // members of the details are read in sorted or in sent order).
    let items = |n: usize| serde_json::json!({ "items": vec![serde_json::json!({"n": 1}); n] });
    let fits = (DEFAULT_MAX_DETAIL_VALUES - 4) / 2;
    assert!(read(items(fits), &limits).is_ok());
    let e = read(items(fits + 1), &limits).unwrap_err();
    assert!(
        matches!(&e, RequestError::TooManyValues { path, max } if path.starts_with(&format!("items[{fits}]")) && *max == DEFAULT_MAX_DETAIL_VALUES),
        "{e:?}"
    );
    let small = Limits {
        max_detail_values: 5,
        ..Limits::default()
    };
    assert!(read(serde_json::json!({"trip": {"to": "JFK"}}), &small).is_ok());
    let e = read(
        serde_json::json!({"trip": {"to": "JFK", "from": "CDG"}}),
        &small,
    )
    .unwrap_err();
    assert!(
        matches!(&e, RequestError::TooManyValues { max: 5, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("send fewer values"), "{e}");

    // Null and fractions are refused at any depth, named by their path.
    for (extra, path) in [
        (
            serde_json::json!({"trip": {"legs": [{}, {}, {"from": null}]}}),
            "`trip.legs[2].from`",
        ),
        (serde_json::json!({"trip": {"fare": 12.5}}), "`trip.fare`"),
        (serde_json::json!({"codes": [1, [2.5]]}), "`codes[1][0]`"),
    ] {
        let e = read(extra.clone(), &limits).unwrap_err();
        assert!(matches!(&e, RequestError::Field { .. }), "{extra}: {e:?}");
        assert!(e.to_string().contains(path), "{extra}: {e}");
    }
}

#[test]
fn proofs_and_approvals_bind_nested_values() {
    let a = TransactionDetails::new("trip").field(
        "legs",
        FieldValue::Array(vec![record(&[
            ("from", s("CDG")),
            ("seats", FieldValue::Long(1)),
        ])]),
    );
    let b = TransactionDetails::new("trip").field(
        "legs",
        FieldValue::Array(vec![record(&[
            ("from", s("CDG")),
            ("seats", FieldValue::Long(2)),
        ])]),
    );
    assert_ne!(details_digest(Some(&a)), details_digest(Some(&b)));
    assert_eq!(
        a.canonical_json(),
        r#"{"type":"trip","legs":[{"from":"CDG","seats":1}]}"#
    );
    // What is read back from the canonical JSON digests the same.
    let read = TransactionDetails::from_json(&a.canonical_json()).unwrap();
    assert_eq!(details_digest(Some(&read)), details_digest(Some(&a)));
}
