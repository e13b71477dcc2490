#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Safety: size and block caps, Datalog limits, hostile input, secrets kept out of Debug.

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::*;
use valet_token::danger::{BearerMinting, DangerousVerifier};
use valet_token::*;

fn verifier_with(f: &Fixture, limits: Limits) -> Verifier {
    Verifier::new(KeySet::new().with(f.key.public()))
        .accept_bearer_tokens()
        .with_limits(limits)
}

#[test]
fn token_size_cap() {
    let f = fixture();
    let t = f.mint(grant());
    let len = t.to_bytes().len();
    let req = plain(PAY, "list");
    let exact = verifier_with(
        &f,
        Limits {
            max_token_bytes: len,
            ..Limits::default()
        },
    );
    assert_allowed(&exact.verify(&t, &req, now(), &NoRevocations));
    let small = verifier_with(
        &f,
        Limits {
            max_token_bytes: len - 1,
            ..Limits::default()
        },
    );
    for v in [
        small.verify(&t, &req, now(), &NoRevocations),
        small.verify_bytes(t.to_bytes(), &req, now(), &NoRevocations),
    ] {
        assert_denied(
            &v,
            ReasonKind::TooLarge,
            &format!(
                "the token is {len} bytes, more than the limit of {}",
                len - 1
            ),
        );
    }
    // The default cap refuses a 17 KiB blob before parsing it.
    let big = vec![0u8; 17 * 1024];
    assert_denied(
        &f.verifier.verify_bytes(&big, &req, now(), &NoRevocations),
        ReasonKind::TooLarge,
        "more than the limit of 16384",
    );
}

#[test]
fn block_count_cap() {
    let f = fixture();
    let mut t = f.mint(grant());
    for i in 0..3 {
        t = t
            .attenuate(Attenuation::new().delegate(format!("agent-{i}")))
            .unwrap();
    }
    assert_eq!(t.block_count(), 4);
    let req = plain(PAY, "list");
    let four = Limits {
        max_blocks: 4,
        ..Limits::default()
    };
    assert_allowed(&verifier_with(&f, four).verify(&t, &req, now(), &NoRevocations));
    let three = Limits {
        max_blocks: 3,
        ..Limits::default()
    };
    let v = verifier_with(&f, three.clone());
    for verdict in [
        v.verify(&t, &req, now(), &NoRevocations),
        v.verify_bytes(t.to_bytes(), &req, now(), &NoRevocations),
    ] {
        assert_denied(
            &verdict,
            ReasonKind::TooLarge,
            "the token has 4 blocks, more than the limit of 3",
        );
    }
    // The default cap is 16 blocks.
    for i in 3..15 {
        t = t
            .attenuate(Attenuation::new().delegate(format!("agent-{i}")))
            .unwrap();
    }
    assert_eq!(t.block_count(), 16);
    assert_allowed(&f.verify(&t, &req));
    let t = t.attenuate(Attenuation::new()).unwrap();
    assert_denied(&f.verify(&t, &req), ReasonKind::TooLarge, "17 blocks");
}

#[test]
fn too_many_facts_is_a_run_limit_deny() {
    let f = fixture();
    let t = f.mint(grant());
    let req = payment("10.00", "USD", "bob@example.com");
    assert_allowed(&f.verify(&t, &req));
    let tiny = verifier_with(
        &f,
        Limits {
            max_facts: 5,
            ..Limits::default()
        },
    );
    let v = tiny.verify(&t, &req, now(), &NoRevocations);
    let reasons = denied(&v);
    assert_eq!(reasons[0].kind, ReasonKind::RunLimit, "{reasons:#?}");
    assert!(
        reasons[0].message.contains("more than 5 facts"),
        "{reasons:#?}"
    );
    // A request whose list field holds thousands of items hits the default.
    let items: Vec<String> = (0..1500).map(|i| format!("i{i}")).collect();
    let huge = Request::new(aud(PAY), "list")
        .details(TransactionDetails::new("report").field("rows", FieldValue::List(items)));
    let t = f.mint(
        TokenBuilder::new("alice", "https://c.example")
            .bearer()
            .audience(aud(PAY))
            .expires_in(Duration::from_secs(60)),
    );
    assert_denied(
        &f.verify(&t, &huge),
        ReasonKind::RunLimit,
        "more than 1000 facts",
    );
}

#[test]
fn an_expensive_raw_check_is_a_run_limit_deny_and_fast() {
    let f = fixture();
    // Four joins over 32 fields: a million combinations, a few seconds of Datalog if run.
    let bare = TokenBuilder::new("alice", "https://c.example")
        .bearer()
        .audience(aud(PAY))
        .expires_in(Duration::from_secs(60));
    let t = f
        .mint(bare)
        .attenuate(Attenuation::new().delegate("slow").check(
            "check if field($a, $b), field($c, $d), field($e, $g), field($h, $i), $a == \"none\"",
        ))
        .unwrap();
    let mut d = TransactionDetails::new("survey");
    for i in 0..32 {
        d = d.with(format!("f{i}"), "v");
    }
    let req = Request::new(aud(PAY), "answer").details(d);
    let start = std::time::Instant::now();
    let v = f.verify(&t, &req);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_denied(
        &v,
        ReasonKind::RunLimit,
        "block 1 has a check that could try",
    );
    // The same check over a small request runs and passes or fails on its merits.
    let small = Request::new(aud(PAY), "answer")
        .details(TransactionDetails::new("survey").with("none", "x"));
    assert_allowed(&f.verify(&t, &small));
    // A raw check joining nothing big is fine.
    let cheap =
        f.mint(grant())
            .attenuate(Attenuation::new().check(
                "check if operation($a), resource($b), time($t), $t <= 2030-01-01T00:00:00Z",
            ))
            .unwrap();
    assert_allowed(&f.verify(&cheap, &plain(PAY, "x")));
    // A tight time limit is also a run-limit deny, never an allow.
    let no_time = verifier_with(
        &f,
        Limits {
            max_datalog_time: Duration::ZERO,
            ..Limits::default()
        },
    );
    assert_denied(
        &no_time.verify(&cheap, &plain(PAY, "x"), now(), &NoRevocations),
        ReasonKind::RunLimit,
        "longer than",
    );
}

#[test]
fn rules_in_a_block_are_refused() {
    let f = fixture();
    let t = f.mint(grant());
    let with_rule = append_raw(&t, "pair($a, $b) <- field($a, $x), field($b, $y);");
    assert_denied(
        &f.verify(&with_rule, &plain(PAY, "x")),
        ReasonKind::Format,
        "block 1 carries Datalog rules",
    );
}

#[test]
fn garbage_truncated_and_empty_input_never_panic() {
    let f = fixture();
    let t = f
        .mint(grant())
        .attenuate(Attenuation::new().delegate("a"))
        .unwrap();
    let bytes = t.to_bytes().to_vec();
    let req = plain(PAY, "list");
    let mut inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0],
        vec![0xff; 64],
        b"not a token".to_vec(),
        (0..=255u8).collect(),
    ];
    for cut in [1, 2, 10, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
        inputs.push(bytes[..cut].to_vec());
    }
    let mut trailing = bytes.clone();
    trailing.extend_from_slice(&[0xff, 0xff]);
    inputs.push(trailing);
    for input in &inputs {
        let v = f.verifier.verify_bytes(input, &req, now(), &NoRevocations);
        let reasons = denied(&v);
        assert_ne!(reasons[0].kind, ReasonKind::Internal, "{reasons:?}");
        assert!(Token::from_bytes(input).is_err(), "{} bytes", input.len());
    }
    // Text forms.
    let text = t.to_base64();
    for bad in [
        "",
        "   ",
        "!!!!",
        "a",
        "ab+/",
        &text[..text.len() / 2],
        &text[..text.len() - 1],
        &text[1..],
    ] {
        assert!(
            matches!(Token::from_base64(bad), Err(TokenError::Format(_))),
            "{bad:?}"
        );
    }
    // A valid biscuit that valet did not make is a typed error too.
    let foreign = biscuit_auth::Biscuit::builder()
        .fact("user(\"alice\")")
        .unwrap()
        .build(&biscuit_auth::KeyPair::new())
        .unwrap()
        .to_vec()
        .unwrap();
    match Token::from_bytes(&foreign) {
        Err(TokenError::Format(m)) => assert!(m.contains("it was not minted by valet"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_clock_before_1970_is_a_deny_not_a_panic() {
    let f = fixture();
    let before_epoch = UNIX_EPOCH - Duration::from_secs(1);
    for t in [
        f.mint(grant()),
        f.mint(grant().not_before(at(NOW_SECS - 60))),
    ] {
        let v = f.verify_at(&t, &plain(PAY, "x"), before_epoch);
        assert_denied(&v, ReasonKind::Internal, "before 1970");
    }
}

#[test]
fn debug_output_never_shows_the_token_or_the_private_key() {
    let f = fixture();
    let t = f
        .mint(grant())
        .attenuate(Attenuation::new().delegate("a"))
        .unwrap();
    let b64 = t.to_base64();
    let hex: String = t.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let signature_hex = t.revocation_ids()[0].to_string();
    for debug in [format!("{t:?}"), format!("{t:#?}")] {
        assert!(!debug.contains(&b64[..32]), "{debug}");
        assert!(!debug.contains(&hex[..32]), "{debug}");
        assert!(!debug.contains(&signature_hex), "{debug}");
        assert!(debug.contains("Token"), "{debug}");
    }
    let text = f.key.to_private_text();
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("private-key: ed25519-private/"))
        .unwrap()
        .to_owned();
    for debug in [
        format!("{:?}", f.key),
        format!("{:#?}", f.key),
        format!("{:?}", f.issuer),
    ] {
        assert!(!debug.contains(&secret), "{debug}");
    }
    // Errors and verdicts do not carry the token either.
    let v = f.verify(&t, &plain(MAIL, "x"));
    let debug = format!("{v:?}");
    assert!(!debug.contains(&b64[..32]));
}
