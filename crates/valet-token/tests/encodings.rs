#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The text forms of bytes and keys as the public API reads and writes them (base64url
//! tokens and signatures, hex revocation ids, `ed25519/<hex>` keys in claims and `hex:`
//! bytes in blocks),
//! and the errors returned where they are refused.

mod common;

use common::*;
use valet_token::*;

fn format_error(result: Result<Token, TokenError>) -> String {
    match result {
        Err(TokenError::Format(m)) => m,
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn token_text_is_unpadded_base64url_and_read_as_before() {
    let f = fixture();
    let token = f.mint(grant());
    let text = token.to_base64();
    assert!(!text.contains(['=', '+', '/']));
    let same = |t: &str| {
        let read = Token::from_base64(t).unwrap();
        assert_eq!(read.to_bytes(), token.to_bytes(), "{t:?}");
    };
    same(&text);
    // Trailing padding and surrounding whitespace are accepted.
    same(&format!("{text}=="));
    same(&format!("{text}="));
    same(&format!(" \n{text}\t\n"));
    // Inner whitespace, the standard alphabet and an impossible length are refused.
    let (head, tail) = text.split_at(10);
    assert!(format_error(Token::from_base64(&format!("{head}\n{tail}")))
        .contains("character 11 of the token text is not base64url"));
    assert!(
        format_error(Token::from_base64(&format!("+{}", &text[1..])))
            .contains("character 1 of the token text is not base64url")
    );
    assert!(
        format_error(Token::from_base64(&format!("{}/", &text[..text.len() - 1])))
            .contains("is not base64url")
    );
    let cut = &text[..text.len() - (text.len() - 1) % 4];
    assert_eq!(cut.len() % 4, 1);
    assert!(format_error(Token::from_base64(cut)).contains("truncated"));
}

#[test]
fn proof_signatures_are_base64url_with_optional_padding() {
    let f = fixture();
    let agent = SigningKey::generate();
    let token = f.mint(grant().holder(agent.public()));
    let pay = payment("50.00", "USD", "bob@example.com");
    let proof = HolderProof::sign(&agent, &token, &pay, now()).unwrap();
    let json = proof.to_json().unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let signature = value["signature"].as_str().unwrap().to_owned();
    assert_eq!(signature.len(), 86, "64 bytes, unpadded");
    let with = |s: &str| json.replace(&signature, s);
    assert_eq!(
        HolderProof::from_json(&with(&format!("{signature}=="))).unwrap(),
        proof
    );
    let standard = signature.replace('-', "+").replace('_', "/");
    if standard != signature {
        assert!(HolderProof::from_json(&with(&standard)).is_err());
    }
    assert!(HolderProof::from_json(&with(&format!("{signature} "))).is_err());
}

#[test]
fn revocation_ids_read_hex_in_either_case() {
    let id = RevocationId(vec![0x00, 0x01, 0xab, 0xff]);
    assert_eq!(id.to_string(), "0001abff");
    for text in ["0001abff", "0001ABFF", "0001AbFf", " 0001abff\n"] {
        assert_eq!(RevocationId::from_hex(text).as_ref(), Some(&id), "{text:?}");
    }
    // `+f` was read as `0f` by the digit-pair parser this replaced; a sign is not a
    // hex digit.
    for text in ["", "  ", "abc", "zz", "0x01", "+f+f", "é0", "00 11"] {
        assert_eq!(RevocationId::from_hex(text), None, "{text:?}");
    }
    let long = RevocationId((0..=255).collect());
    assert_eq!(RevocationId::from_hex(&long.to_string()), Some(long));
}

/// A holder check binds the token only when it names 32 bytes, as valet writes a key: any
/// other term is a raw check, shown as such in the chain, that no proof can meet, never a
/// binding the claims would report.
#[test]
fn a_block_whose_holder_is_not_a_key_binds_no_holder() {
    let f = fixture();
    let root = f.mint(grant());
    let key = SigningKey::generate().public();
    let canonical = hex::encode(key.to_bytes());
    // 32 bytes that are not a point of the curve (no Ed25519 key has them).
    let not_a_point = (0u8..=255)
        .map(|b| [b; 32])
        .find(|b| VerifyingKey::parse(&format!("ed25519/{}", hex::encode(b))).is_err())
        .unwrap();
    for bad in [
        "hex:00".to_owned(),
        format!("hex:{}", &canonical[2..]),
        format!("hex:{canonical}00"),
        format!("\"{key}\""),
        format!("\"{canonical}\""),
        "\"someone\"".to_owned(),
        "1".to_owned(),
    ] {
        let code = format!("check if holder({bad})");
        let token = append_raw(&root, &code);
        let claims = token.unverified_claims().unwrap();
        assert_eq!(claims.holder, None, "{bad}");
        assert_eq!(claims.chain[0].holder, None, "{bad}");
        assert_eq!(claims.chain[0].checks.len(), 1, "{bad}");
        assert!(claims.chain[0].checks[0].starts_with("check if holder("));
        // The check is enforced as written: no request meets it.
        let verdict = f.verify(&token, &payment("50.00", "USD", "bob@example.com"));
        assert_denied(
            &verdict,
            ReasonKind::Check,
            "block 1: check failed: check if holder(",
        );
    }
    // 32 bytes that are not a key bind the token to a holder no proof can satisfy: the
    // claims show the binding, and every request is refused.
    let token = append_raw(
        &root,
        &format!("check if holder(hex:{})", hex::encode(not_a_point)),
    );
    let claims = token.unverified_claims().unwrap();
    assert_eq!(claims.holder.map(|k| k.to_bytes()), Some(not_a_point));
    assert!(claims.chain[0].checks.is_empty());
    let verdict = f.verify(&token, &payment("50.00", "USD", "bob@example.com"));
    assert_denied(&verdict, ReasonKind::Holder, "proof of possession");
    // The same block with the key as valet writes it is read, and its key is typed.
    let token = append_raw(&root, &format!("check if holder(hex:{canonical})"));
    let claims = token.unverified_claims().unwrap();
    assert_eq!(claims.holder, Some(key));
    assert_eq!(claims.chain[0].holder, Some(key));
    assert!(claims.chain[0].checks.is_empty());
}

#[test]
fn a_block_signed_by_a_key_that_is_not_ed25519_is_refused_when_read() {
    let f = fixture();
    let root = f.mint(grant());
    let p256 = biscuit_auth::KeyPair::new_with_algorithm(biscuit_auth::Algorithm::Secp256r1);
    let unverified = biscuit_auth::UnverifiedBiscuit::from(root.to_bytes()).unwrap();
    let block = unverified
        .third_party_request()
        .unwrap()
        .create_block(
            &p256.private(),
            biscuit_auth::builder::BlockBuilder::new()
                .code(r#"delegate("p256-agent");"#)
                .unwrap(),
        )
        .unwrap()
        .serialize()
        .unwrap();
    let bytes = unverified
        .append_third_party(&block)
        .unwrap()
        .to_vec()
        .unwrap();
    let message = format_error(Token::from_bytes(&bytes));
    assert!(
        message.contains("block 1 is signed by a P-256 key"),
        "{message}"
    );
}

#[test]
fn keys_in_claims_are_written_as_ed25519_text() {
    let f = fixture();
    let agent = SigningKey::generate();
    let helper = SigningKey::generate();
    let token = f.mint(grant().holder(agent.public()));
    let child = token
        .attenuate_signed(Attenuation::new().holder(helper.public()), &agent)
        .unwrap();
    let claims = child.unverified_claims().unwrap();
    assert_eq!(claims.holder, Some(helper.public()));
    assert_eq!(claims.chain[0].signed_by, Some(agent.public()));
    let json = serde_json::to_value(&claims).unwrap();
    assert_eq!(json["holder"], helper.public().to_string());
    assert_eq!(json["chain"][0]["holder"], helper.public().to_string());
    assert_eq!(json["chain"][0]["signed_by"], agent.public().to_string());
    assert!(agent.public().to_string().starts_with("ed25519/"));
    assert_eq!(agent.public().to_string().len(), "ed25519/".len() + 64);
}

#[test]
fn a_token_over_the_size_limit_is_refused_as_too_large() {
    let f = fixture();
    let token = f.mint(grant());
    let size = token.to_bytes().len();
    let verifier = f.verifier.clone().with_limits(Limits {
        max_token_bytes: 64,
        ..Limits::default()
    });
    match verifier.read_token(token.to_bytes()) {
        Err(TokenError::TooLarge { size: s, max: 64 }) => assert_eq!(s, size),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert!(matches!(
        verifier.read_token_base64(&token.to_base64()),
        Err(TokenError::TooLarge { max: 64, .. })
    ));
    let verdict = verifier.verify(
        &token,
        &payment("50.00", "USD", "bob@example.com"),
        now(),
        &NoRevocations,
    );
    assert_denied(
        &verdict,
        ReasonKind::TooLarge,
        &format!("the token is {size} bytes, more than the limit of 64"),
    );
}

#[test]
fn library_messages_name_no_command_line() {
    let f = fixture();
    let agent = SigningKey::generate();
    let token = f.mint(grant().holder(agent.public()));
    let verdict = f.verify(&token, &payment("50.00", "USD", "bob@example.com"));
    assert_denied(&verdict, ReasonKind::Holder, "proof of possession");
    let reasons = denied(&verdict);
    assert!(!reasons.is_empty());
    for r in reasons {
        assert!(!r.message.contains("valet "), "{}", r.message);
        assert!(!r.message.contains("--"), "{}", r.message);
    }
    let dir = scratch_dir("encodings-exists");
    let path = dir.join("agent.pub");
    agent.public().write_file(&path, false).unwrap();
    let err = agent.public().write_file(&path, false).unwrap_err();
    assert!(matches!(err, KeyError::Exists(_)), "{err:?}");
    assert!(!err.to_string().contains("--"), "{err}");
}
