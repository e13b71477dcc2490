#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Verification: every kind of refusal, with the words it gives.

mod common;

use std::time::Duration;

use common::*;
use valet_token::danger::BearerMinting;
use valet_token::*;

fn single(verdict: &Verdict) -> &Reason {
    let reasons = denied(verdict);
    assert_eq!(reasons.len(), 1, "{reasons:#?}");
    &reasons[0]
}

#[test]
fn wrong_audience() {
    let f = fixture();
    let t = f.mint(
        TokenBuilder::new("alice@example.com", "https://c.example")
            .bearer()
            .audience(aud("https://a.example"))
            .expires_in(Duration::from_secs(60)),
    );
    assert_allowed(&f.verify(&t, &plain("https://a.example", "x")));
    let v = f.verify(&t, &plain("https://b.example", "x"));
    let r = single(&v);
    assert_eq!(r.kind, ReasonKind::Audience);
    assert_eq!(r.block, Some(0));
    assert_eq!(
        r.message,
        "token is for https://a.example, presented at https://b.example"
    );
    // Audiences compare exactly: no prefix, case or trailing-slash matching.
    for near in [
        "https://a.example/",
        "https://A.example",
        "https://a.example/x",
        "http://a.example",
    ] {
        assert_denied(
            &f.verify(&t, &plain(near, "x")),
            ReasonKind::Audience,
            "token is for https://a.example",
        );
    }
}

#[test]
fn expired() {
    let f = fixture();
    let t = f.mint(grant());
    let req = plain(PAY, "list");
    assert_allowed(&f.verify_at(&t, &req, at(NOW_SECS + 3600)));
    let v = f.verify_at(&t, &req, at(NOW_SECS + 3601));
    let r = single(&v);
    assert_eq!(r.kind, ReasonKind::Expired);
    assert_eq!(r.message, "token expired at 2026-11-23T13:00:00Z");
    assert_eq!(
        r.message,
        format!("token expired at {}", rfc3339(NOW_SECS + 3600))
    );
}

#[test]
fn not_yet_valid() {
    let f = fixture();
    let t = f.mint(grant().not_before(at(NOW_SECS + 60)));
    let req = plain(PAY, "list");
    let v = f.verify(&t, &req);
    let r = single(&v);
    assert_eq!(r.kind, ReasonKind::NotYetValid);
    assert_eq!(r.message, "token is not valid before 2026-11-23T12:01:00Z");
    assert_allowed(&f.verify_at(&t, &req, at(NOW_SECS + 60)));
    assert_allowed(&f.verify_at(&t, &req, at(NOW_SECS + 61)));
}

#[test]
fn limit_in_a_later_block_names_block_and_delegate() {
    let f = fixture();
    let t = f
        .mint(grant())
        .attenuate(Attenuation::new().delegate("orchestrator").max(
            "payment",
            "amount",
            dec("500.00"),
        ))
        .unwrap()
        .attenuate(Attenuation::new().delegate("planner-agent").max(
            "payment",
            "amount",
            dec("50.00"),
        ))
        .unwrap();
    assert_allowed(&f.verify(&t, &payment("50.00", "USD", "bob@example.com")));
    let v = f.verify(&t, &payment("50.01", "USD", "bob@example.com"));
    let r = single(&v);
    assert_eq!(r.kind, ReasonKind::Limit);
    assert_eq!(r.block, Some(2));
    assert_eq!(r.delegate.as_deref(), Some("planner-agent"));
    assert_eq!(
        r.message,
        "block 2 (delegate: planner-agent) limits payment amount to 50.00, requested `50.01`"
    );
    // Over both limits: both blocks explain.
    let v = f.verify(&t, &payment("600.00", "USD", "bob@example.com"));
    let reasons = denied(&v);
    assert_eq!(
        reasons.iter().map(|r| r.block).collect::<Vec<_>>(),
        [Some(1), Some(2)],
        "{reasons:#?}"
    );
}

#[test]
fn scopes_not_granted_are_refused() {
    let f = fixture();
    let t = f.mint(grant());
    assert_allowed(
        &f.verify(
            &t,
            &plain(PAY, "list")
                .scope(scope("payments:write"))
                .scope(scope("email:send")),
        ),
    );
    let v = f.verify(
        &t,
        &plain(PAY, "list")
            .scope(scope("payments:write"))
            .scope(scope("admin")),
    );
    let r = single(&v);
    assert_eq!(r.kind, ReasonKind::Scope);
    assert_eq!(r.message, "the token does not grant scope `admin`");
    // A token with no scope refuses any scoped request.
    let bare = f.mint(
        TokenBuilder::new("alice", "https://c.example")
            .bearer()
            .audience(aud(PAY))
            .expires_in(Duration::from_secs(60)),
    );
    assert_allowed(&f.verify(&bare, &plain(PAY, "list")));
    assert_denied(
        &f.verify(&bare, &plain(PAY, "list").scope(scope("tools:read"))),
        ReasonKind::Scope,
        "`tools:read`",
    );
}

#[test]
fn listed_action_without_details_is_refused() {
    let f = fixture();
    let t = f.mint(grant());
    // pay_invoice is listed by the payment grant: it needs its transaction.
    let v = f.verify(&t, &plain(PAY, "pay_invoice"));
    let r = single(&v);
    assert_eq!(r.kind, ReasonKind::Action);
    assert!(
        r.message
            .contains("grants `pay_invoice` only with transaction details"),
        "{}",
        r.message
    );
    // An action no grant lists needs no details.
    assert_allowed(&f.verify(&t, &plain(PAY, "list_invoices")));
}

#[test]
fn detail_type_not_granted_is_refused() {
    let f = fixture();
    let t = f.mint(grant());
    let req = Request::new(aud(PAY), "transfer").details(
        TransactionDetails::new("transfer")
            .with("amount", "1.00")
            .with("currency", "USD"),
    );
    let v = f.verify(&t, &req);
    let r = single(&v);
    assert_eq!(r.kind, ReasonKind::Limit);
    assert_eq!(
        r.message,
        "the token grants no `transfer` transactions (it grants `payment`)"
    );
}

#[test]
fn grant_constraints_are_enforced_and_explained() {
    let f = fixture();
    let t = f.mint(grant());
    assert_allowed(&f.verify(&t, &payment("1000.00", "EUR", "carol@example.com")));
    assert_denied(
        &f.verify(&t, &payment("10.00", "USD", "mallory@example.com")),
        ReasonKind::Limit,
        "the token limits payment recipient to one of `alice@example.com`, `bob@example.com`, `carol@example.com`, requested `mallory@example.com`",
    );
    assert_denied(
        &f.verify(&t, &payment("10.00", "GBP", "bob@example.com")),
        ReasonKind::Limit,
        "currency",
    );
    assert_denied(
        &f.verify(&t, &payment("1000.01", "USD", "bob@example.com")),
        ReasonKind::Limit,
        "the token limits payment amount to at most 1000.00, requested `1000.01`",
    );
    // A limited field that is absent is refused.
    let no_recipient = Request::new(aud(PAY), "pay_invoice").details(
        TransactionDetails::new("payment")
            .with("amount", "1.00")
            .with("currency", "USD"),
    );
    assert_denied(
        &f.verify(&t, &no_recipient),
        ReasonKind::Limit,
        "recipient to one of `alice@example.com`, `bob@example.com`, `carol@example.com`, requested nothing",
    );
    // An action the grant does not list, with details of its type.
    let wire = Request::new(aud(PAY), "wire").details(
        TransactionDetails::new("payment")
            .with("amount", "1.00")
            .with("currency", "USD")
            .with("recipient", "bob@example.com"),
    );
    assert_denied(&f.verify(&t, &wire), ReasonKind::Limit, "action `wire`");
}

#[test]
fn locations_and_identifier_are_enforced() {
    let f = fixture();
    let t = f.mint(
        TokenBuilder::new("alice", "https://c.example")
            .bearer()
            .audience(aud(PAY))
            .audience(aud(TOOLS))
            .expires_in(Duration::from_secs(600))
            .detail(
                AuthorizationDetail::new("invoice")
                    .locations([PAY])
                    .identifier("inv-7"),
            ),
    );
    let inv = |audience: &str, id: &str| {
        Request::new(aud(audience), "read")
            .details(TransactionDetails::new("invoice").with("identifier", id))
    };
    assert_allowed(&f.verify(&t, &inv(PAY, "inv-7")));
    assert_denied(
        &f.verify(&t, &inv(TOOLS, "inv-7")),
        ReasonKind::Limit,
        "location https://tools.example.com is not among https://pay.example.com",
    );
    assert_denied(
        &f.verify(&t, &inv(PAY, "inv-8")),
        ReasonKind::Limit,
        "identifier must be `inv-7`",
    );
}

#[test]
fn raw_datalog_checks_are_enforced() {
    let f = fixture();
    let t = f
        .mint(grant())
        .attenuate(
            Attenuation::new()
                .delegate("calendar-agent")
                .check("check if operation(\"read_calendar\")"),
        )
        .unwrap();
    assert_allowed(&f.verify(&t, &plain(TOOLS, "read_calendar")));
    let v = f.verify(&t, &plain(TOOLS, "write_calendar"));
    let r = single(&v);
    assert_eq!(r.kind, ReasonKind::Check);
    assert_eq!(r.block, Some(1));
    assert!(
        r.message
            .starts_with("block 1 (delegate: calendar-agent): check failed"),
        "{}",
        r.message
    );
    assert!(r.message.contains("read_calendar"), "{}", r.message);
    // Raw checks are in the chain.
    assert_eq!(
        t.unverified_claims().unwrap().chain[0].checks,
        ["check if operation(\"read_calendar\")"]
    );
}

#[test]
fn invalid_raw_datalog_is_refused_when_attenuating() {
    let f = fixture();
    let t = f.mint(grant());
    for bad in [
        "check if operation(",
        "this is not datalog",
        "allow if true",
        "fact(\"x\")",
        "rule($x) <- operation($x)",
        "check if operation(\"a\"); check if true",
        "",
    ] {
        match t.attenuate(Attenuation::new().check(bad)) {
            Err(TokenError::Datalog(m)) => assert!(!m.is_empty()),
            other => panic!("{bad:?}: expected a Datalog error, got {other:?}"),
        }
    }
}

#[test]
fn money_is_compared_exactly() {
    let f = fixture();
    let t = f
        .mint(grant())
        .attenuate(Attenuation::new().max("payment", "amount", dec("50.00")))
        .unwrap();
    let pay = |amount: FieldValue| {
        Request::new(aud(PAY), "pay_invoice").details(
            TransactionDetails::new("payment")
                .field("amount", amount)
                .with("currency", "USD")
                .with("recipient", "bob@example.com"),
        )
    };
    let s = |x: &str| FieldValue::Str(x.to_owned());
    for ok in ["50.00", "50", "50.0", "50.0000", "49.9999", "0.01", "0"] {
        assert_allowed(&f.verify(&t, &pay(s(ok))));
    }
    assert_allowed(&f.verify(&t, &pay(FieldValue::Long(50))));
    assert_denied(
        &f.verify(&t, &pay(s("50.0001"))),
        ReasonKind::Limit,
        "limits payment amount to 50.00, requested `50.0001`",
    );
    assert!(!f.verify(&t, &pay(FieldValue::Long(51))).is_allowed());
    // Not decimals: never allowed, never rounded.
    for bad in [
        "50.00001", "5e1", "50.", ".5", "fifty", "", " 50", "50,00", "+50", "0x32",
    ] {
        let v = f.verify(&t, &pay(s(bad)));
        let reasons = denied(&v);
        assert!(
            reasons.iter().all(|r| r.kind == ReasonKind::Limit),
            "{bad:?}: {reasons:#?}"
        );
    }
    for bad in [FieldValue::Bool(true), FieldValue::List(vec!["1".into()])] {
        assert!(!f.verify(&t, &pay(bad)).is_allowed());
    }
    // Floats cannot even enter a request.
    assert!(TransactionDetails::from_json(r#"{"type":"payment","amount":50.0}"#).is_err());
}

#[test]
fn requests_read_from_json() {
    let f = fixture();
    let t = f.mint(grant());
    let limits = Limits::default();
    let req = Request::from_json(
        r#"{"audience":"https://pay.example.com","action":"pay_invoice",
            "authorization_details":{"type":"payment","amount":"20.00","currency":"USD","recipient":"bob@example.com"},
            "scopes":["payments:write"]}"#,
        &limits,
    )
    .unwrap();
    assert_eq!(
        req,
        payment("20.00", "USD", "bob@example.com").scope(scope("payments:write"))
    );
    assert_allowed(&f.verify(&t, &req));
    for bad in [
        r#"{"action":"x"}"#,
        r#"{"audience":"/relative","action":"x"}"#,
        r#"{"audience":"https://a.example","action":""}"#,
        r#"{"audience":"https://a.example","action":"x","extra":1}"#,
        r#"{"audience":"https://a.example","action":"x","scopes":"a"}"#,
        r#"{"audience":"https://a.example","action":"x","authorization_details":{"amount":"1"}}"#,
        r#"[1]"#,
        "not json",
    ] {
        assert!(Request::from_json(bad, &limits).is_err(), "{bad}");
    }
}

#[test]
fn a_deny_reports_unverified_or_verified_claims() {
    let f = fixture();
    let t = f.mint(grant());
    // Refused before the signature is checked.
    match f.verify(&t, &plain(MAIL, "x")) {
        Verdict::Denied(d) => {
            assert!(!d.signature_verified);
            assert_eq!(d.claims.unwrap().subject, "alice@example.com");
        }
        Verdict::Allowed(_) => panic!("allowed at the wrong audience"),
    }
    // Refused by Datalog after the signature was checked.
    match f.verify(&t, &plain(PAY, "x").scope(scope("admin"))) {
        Verdict::Denied(d) => {
            assert!(d.signature_verified);
            assert!(d.claims.is_some());
        }
        Verdict::Allowed(_) => panic!("allowed an ungranted scope"),
    }
}

#[test]
fn verdicts_serialise_their_reasons() {
    let f = fixture();
    let t = f.mint(grant());
    let v = f.verify(&t, &plain(MAIL, "x"));
    let json = serde_json::to_value(&v.reasons()[0]).unwrap();
    assert_eq!(json["kind"], "audience");
    assert_eq!(json["block"], 0);
    assert!(json["message"].as_str().unwrap().contains("presented at"));
}
