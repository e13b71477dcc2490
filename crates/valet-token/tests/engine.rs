#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The prepared evaluation of a chain's Datalog gives the verdicts and reasons Biscuit's
//! own authorizer gives, over random chains (typed narrowings, raw checks with scopes,
//! third-party blocks) and random requests.

mod common;

use std::time::Duration;

use common::*;
use proptest::prelude::*;
use valet_token::danger::DangerousVerifier;
use valet_token::*;

const RECIPIENTS: [&str; 4] = [
    "alice@example.com",
    "bob@example.com",
    "carol@example.com",
    "mallory@example.com",
];
const AMOUNTS: [&str; 5] = ["1.00", "50.00", "50.01", "999.9999", "1000.00"];
/// Raw checks, some of which look at facts of other blocks (visible only with a scope), and
/// some at request fields of every kind (string, integer, boolean, list).
const CHECKS: [&str; 14] = [
    "check if decimal(\"count\", $n), $n <= 30000",
    "reject if field(\"urgent\", true)",
    "check all list(\"tags\", $t), [\"ops\", \"billing\"].contains($t)",
    "check if list(\"tags\", \"ops\") or detail(\"\")",
    "check if field(\"recipient\", $r), $r.starts_with(\"a\")",
    "check all decimal($f, $v), $v <= 5000000",
    "reject if field(\"recipient\", \"mallory@example.com\")",
    "check if time($t), $t < 2030-01-01T00:00:00Z",
    "check if delegate(\"agent-1\")",
    "check if delegate(\"agent-1\") trusting previous",
    "check if scope(\"tools:read\") or scope(\"email:send\")",
    "check if blocks($n), $n <= 3",
    "check if subject($s), client($c), $s.length() < $c.length()",
    "check if operation(\"pay_invoice\"), detail($t), $t != \"\"",
];

#[derive(Clone, Debug)]
struct Step {
    delegate: bool,
    max: Option<&'static str>,
    check: Option<usize>,
    third_party: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (
        any::<bool>(),
        prop::option::of(prop::sample::select(&AMOUNTS[..])),
        prop::option::weighted(0.7, 0..CHECKS.len()),
        any::<bool>(),
    )
        .prop_map(|(delegate, max, check, third_party)| Step {
            delegate,
            max,
            check,
            third_party,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn prepared_datalog_decides_as_biscuit_does(
        steps in prop::collection::vec(step(), 0..4),
        // Mostly before the grant expires (3600 s), so the checks run.
        amount in prop::sample::select(&AMOUNTS[..]),
        recipient in prop::sample::select(&RECIPIENTS[..]),
        with_details in prop::bool::weighted(0.8),
        extra_scope in any::<bool>(),
        extras in (prop::bool::weighted(0.8), 0i64..5, any::<bool>(), prop::sample::subsequence(&["ops", "billing", "legal"][..], 0..=3)),
        later in prop_oneof![3 => 0u64..3000, 1 => 0u64..7200],
    ) {
        let f = fixture();
        let signer = SigningKey::generate();
        let mut token = f.mint(grant());
        for (i, s) in steps.iter().enumerate() {
            let mut a = Attenuation::new().now(now());
            if s.delegate {
                a = a.delegate(format!("agent-{}", i + 1));
            }
            if let Some(max) = s.max {
                a = a.max("payment", "amount", dec(max));
            }
            if let Some(c) = s.check {
                a = a.check(CHECKS[c]);
            }
            let next = if s.third_party {
                token.attenuate_signed(a, &signer)
            } else {
                token.attenuate(a)
            };
            if let Ok(t) = next {
                token = t;
            }
        }
        let mut req = if with_details {
            let (more, count, urgent, tags) = extras;
            let mut d = TransactionDetails::new("payment")
                .with("amount", amount)
                .with("currency", "USD")
                .with("recipient", recipient);
            if more {
                d = d
                    .field("count", FieldValue::Long(count))
                    .field("urgent", FieldValue::Bool(urgent))
                    .field("tags", FieldValue::List(tags.iter().map(|t| (*t).to_owned()).collect()))
                    // Stated by no fact, whatever they hold.
                    .field("trip", FieldValue::Record(
                        [("count".to_owned(), FieldValue::Long(count))].into(),
                    ))
                    .field("codes", FieldValue::Array(vec![
                        FieldValue::Bool(urgent),
                        FieldValue::Str(amount.to_owned()),
                    ]));
            }
            Request::new(aud(PAY), "pay_invoice").details(d)
        } else {
            plain(PAY, "pay_invoice")
        };
        for s in ["payments:write", "tools:read"] {
            req = req.scope(scope(s));
        }
        if extra_scope {
            req = req.scope(scope("email:send"));
        }
        let t = now() + Duration::from_secs(later);
        let reference = Verifier::new(KeySet::new().with(f.key.public()))
            .accept_bearer_tokens()
            .reference_datalog();
        let expected = reference.verify(&token, &req, t, &NoRevocations);
        let got = f.verify_at(&token, &req, t);
        prop_assert_eq!(got.is_allowed(), expected.is_allowed());
        prop_assert_eq!(got.reasons(), expected.reasons());
    }
}

#[test]
fn a_check_on_another_block_s_fact_needs_a_scope_to_see_it() {
    // Block 2's check looks for the delegate named in block 1: by default a block trusts
    // only the authority, itself and the verifier, so the check fails; trusting previous
    // blocks, it passes. Both evaluations agree.
    let f = fixture();
    let base = f
        .mint(grant())
        .attenuate(Attenuation::new().delegate("agent-1"))
        .unwrap();
    let req = payment("10.00", "USD", "alice@example.com")
        .scope(scope("payments:write"))
        .scope(scope("tools:read"))
        .scope(scope("email:send"));
    let reference = Verifier::new(KeySet::new().with(f.key.public()))
        .accept_bearer_tokens()
        .reference_datalog();
    for (check, allowed) in [
        ("check if delegate(\"agent-1\")", false),
        ("check if delegate(\"agent-1\") trusting previous", true),
    ] {
        let token = base.attenuate(Attenuation::new().check(check)).unwrap();
        let got = f.verify(&token, &req);
        let expected = reference.verify(&token, &req, now(), &NoRevocations);
        assert_eq!(got.is_allowed(), allowed, "{check}: {:?}", got.reasons());
        assert_eq!(got.reasons(), expected.reasons(), "{check}");
    }
}

#[test]
fn every_kind_of_request_field_reaches_the_checks() {
    // One check per kind of field (decimal from an integer, boolean, list); each decides
    // the request, and both evaluations agree.
    let f = fixture();
    let reference = Verifier::new(KeySet::new().with(f.key.public()))
        .accept_bearer_tokens()
        .reference_datalog();
    let request = |count: i64, urgent: bool, tags: &[&str]| {
        Request::new(aud(PAY), "pay_invoice")
            .details(
                TransactionDetails::new("payment")
                    .with("amount", "1.00")
                    .with("currency", "USD")
                    .with("recipient", "alice@example.com")
                    .field("count", FieldValue::Long(count))
                    .field("urgent", FieldValue::Bool(urgent))
                    .field(
                        "tags",
                        FieldValue::List(tags.iter().map(|t| (*t).to_owned()).collect()),
                    ),
            )
            .scope(scope("payments:write"))
            .scope(scope("tools:read"))
            .scope(scope("email:send"))
    };
    for (check, pass, fail) in [
        (CHECKS[0], request(2, false, &[]), request(4, false, &[])),
        (CHECKS[1], request(1, false, &[]), request(1, true, &[])),
        (
            CHECKS[2],
            request(1, false, &["ops"]),
            request(1, false, &["ops", "legal"]),
        ),
        (
            CHECKS[3],
            request(1, false, &["ops"]),
            request(1, false, &["legal"]),
        ),
    ] {
        let token = f
            .mint(grant())
            .attenuate(Attenuation::new().check(check))
            .unwrap();
        for (req, allowed) in [(&pass, true), (&fail, false)] {
            let got = f.verify(&token, req);
            let expected = reference.verify(&token, req, now(), &NoRevocations);
            assert_eq!(got.is_allowed(), allowed, "{check}: {:?}", got.reasons());
            assert_eq!(got.reasons(), expected.reasons(), "{check}");
        }
    }
}

/// Blocks built at the protobuf level, as anyone holding a token can append them.
mod hand_made {
    use super::*;
    use biscuit_auth::format::schema;
    use biscuit_auth::format::SerializedBiscuit;
    use prost::Message;

    fn last_block(t: &Token) -> schema::Block {
        let raw = schema::Biscuit::decode(t.to_bytes()).unwrap();
        schema::Block::decode(raw.blocks.last().unwrap().block.as_slice()).unwrap()
    }

    /// The bytes of `t` with `block` appended, signed as an ordinary attenuation is.
    fn append(f: &Fixture, t: &Token, block: &schema::Block) -> Vec<u8> {
        let ser = SerializedBiscuit::from_slice(t.to_bytes(), *f.key.public().key()).unwrap();
        let next = biscuit_auth::KeyPair::new();
        let ser = ser
            .append_serialized(&next, block.encode_to_vec(), None)
            .unwrap();
        ser.to_vec().unwrap()
    }

    fn both(f: &Fixture, bytes: &[u8]) -> (Verdict, Verdict) {
        let req = plain(PAY, "list");
        let keys = KeySet::new().with(f.key.public());
        let engine = Verifier::new(keys.clone())
            .accept_bearer_tokens()
            .verify_bytes(bytes, &req, now(), &NoRevocations);
        let reference = Verifier::new(keys)
            .accept_bearer_tokens()
            .reference_datalog()
            .verify_bytes(bytes, &req, now(), &NoRevocations);
        (engine, reference)
    }

    #[test]
    fn a_symbol_id_no_table_defines_refuses_the_token() {
        // Biscuit refuses such a token when it evaluates it; evaluating the raw id would
        // let the check say whatever the request's first new string is. Valet refuses it
        // when it reads it, before any Datalog runs.
        let f = fixture();
        let t = f.mint(grant());
        let mut b = last_block(&append_raw(&t, "check if true"));
        b.checks[0].queries[0].head.name = 99_999;
        let bytes = append(&f, &t, &b);
        match Token::from_bytes(&bytes) {
            Err(TokenError::Format(m)) => assert!(m.contains("block 1"), "{m}"),
            other => panic!("expected a format error, got {other:?}"),
        }
        let (engine, reference) = both(&f, &bytes);
        assert!(!reference.is_allowed());
        assert!(!engine.is_allowed(), "{:?}", engine.reasons());
        assert_eq!(engine.reasons()[0].kind, ReasonKind::Format);
        assert_eq!(engine.reasons(), reference.reasons());
    }

    #[test]
    fn a_string_listed_twice_refuses_the_token() {
        // The block's reject names "dupx" through its second copy. Comparing raw ids would
        // let the token through (the fact uses the first copy); Biscuit forbids a symbol
        // table that repeats a string, and so does valet: the token is refused when read.
        let f = fixture();
        let t = f.mint(grant());
        let raw = schema::Biscuit::decode(t.to_bytes()).unwrap();
        let authority = schema::Block::decode(raw.authority.block.as_slice()).unwrap();
        let base = 1024 + authority.symbols.len() as u64;
        let mut b = last_block(&append_raw(
            &t,
            "dupfact(\"dupx\"); reject if dupfact(\"dupx\")",
        ));
        b.symbols.push("dupx".into());
        let second = base + b.symbols.len() as u64 - 1;
        b.checks[0].queries[0].body[0].terms[0].content =
            Some(schema::term::Content::String(second));
        let bytes = append(&f, &t, &b);
        match Token::from_bytes(&bytes) {
            Err(TokenError::Format(m)) => assert!(m.contains("block 1"), "{m}"),
            other => panic!("expected a format error, got {other:?}"),
        }
        let (engine, reference) = both(&f, &bytes);
        assert!(!reference.is_allowed());
        assert!(
            !engine.is_allowed(),
            "the duplicate symbol disabled the check"
        );
        assert_eq!(engine.reasons(), reference.reasons());
    }

    #[test]
    fn a_check_with_a_closure_is_refused_before_it_runs() {
        // One fact, no join: a join budget counts 1, while nested closures over a 200-item
        // set run 8 million times. Refused before any check runs.
        let f = fixture();
        let t = f.mint(grant());
        let set = (0..200)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let code = format!(
            "big([{set}]); check if big($s), $s.all($a -> $s.all($b -> $s.all($c -> $c >= 0)))"
        );
        let t = append_raw(&t, &code);
        let start = std::time::Instant::now();
        let v = f.verify(&t, &plain(PAY, "list"));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        assert_denied(&v, ReasonKind::Format, "closure");
    }
}
