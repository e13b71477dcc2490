#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Token format 2: a block says only what its Datalog enforces. Blocks built by hand, at
//! the protobuf level or as Datalog text, whose checks are almost the shapes valet writes
//! are never read as those shapes: the claims, the chain of custody and the refusals show
//! them as raw Datalog, and the Datalog alone decides. Minted tokens read back as minted;
//! tokens of format 1 are refused with a message to mint new ones; tokens stay small.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use biscuit_auth::format::schema;
use biscuit_auth::format::SerializedBiscuit;
use common::*;
use prost::Message;
use valet_token::danger::BearerMinting;
use valet_token::*;

fn decode(bytes: &[u8]) -> schema::Biscuit {
    schema::Biscuit::decode(bytes).unwrap()
}

/// The last block of `t`, as protobuf.
fn last_block(t: &Token) -> schema::Block {
    let raw = decode(t.to_bytes());
    let signed = raw.blocks.last().unwrap_or(&raw.authority);
    schema::Block::decode(signed.block.as_slice()).unwrap()
}

/// The block valet writes for `a` under `parent`, as protobuf, to be edited.
fn written(parent: &Token, a: Attenuation) -> schema::Block {
    last_block(&parent.attenuate(a).unwrap())
}

/// The bytes of `parent` with `block` appended, signed as an ordinary attenuation is.
fn append_block(f: &Fixture, parent: &Token, block: &schema::Block) -> Vec<u8> {
    SerializedBiscuit::from_slice(parent.to_bytes(), *f.key.public().key())
        .unwrap()
        .append_serialized(&biscuit_auth::KeyPair::new(), block.encode_to_vec(), None)
        .unwrap()
        .to_vec()
        .unwrap()
}

fn append(f: &Fixture, parent: &Token, block: &schema::Block) -> Token {
    Token::from_bytes(&append_block(f, parent, block)).unwrap()
}

/// The fixture's root key as a Biscuit key pair, to sign an authority block by hand.
fn root_pair(f: &Fixture) -> biscuit_auth::KeyPair {
    let text = f.key.to_private_text();
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix("private-key: ed25519-private/"))
        .unwrap();
    let private =
        biscuit_auth::PrivateKey::from_bytes_hex(hex, biscuit_auth::Algorithm::Ed25519).unwrap();
    biscuit_auth::KeyPair::from(&private)
}

/// A token whose authority block is `code`, signed by the fixture's root key (id 1).
fn authority(f: &Fixture, code: &str) -> Token {
    let bytes = biscuit_auth::Biscuit::builder()
        .code(code)
        .unwrap()
        .root_key_id(1)
        .build(&root_pair(f))
        .unwrap()
        .to_vec()
        .unwrap();
    Token::from_bytes(&bytes).unwrap()
}

/// The authority block of the grant `grant()` mints, as Datalog text.
fn grant_source(f: &Fixture) -> String {
    let t = f.mint(grant());
    biscuit_auth::UnverifiedBiscuit::from(t.to_bytes())
        .unwrap()
        .print_block_source(0)
        .unwrap()
}

/// The text of every check of `t`'s block `index`, as Biscuit prints it.
fn checks_in(t: &Token, index: usize) -> Vec<String> {
    let b = biscuit_auth::UnverifiedBiscuit::from(t.to_bytes()).unwrap();
    let source = b.print_block_source(index).unwrap();
    source
        .lines()
        .filter(|l| l.starts_with("check ") || l.starts_with("reject "))
        .map(|l| l.trim_end_matches(';').to_owned())
        .collect()
}

/// The text of every check of `t`'s last block, as Biscuit prints it.
fn checks_of(t: &Token) -> Vec<String> {
    checks_in(t, t.block_count() - 1)
}

/// Calls `edit` on every operation of every expression of `block`'s checks.
fn edit_ops(block: &mut schema::Block, edit: &mut dyn FnMut(&mut Vec<schema::Op>)) {
    for check in &mut block.checks {
        for query in &mut check.queries {
            for e in &mut query.expressions {
                edit(&mut e.ops);
            }
        }
    }
}

fn binary(kind: schema::op_binary::Kind) -> schema::Op {
    schema::Op {
        content: Some(schema::op::Content::Binary(schema::OpBinary {
            kind: kind as i32,
            ffi_name: None,
        })),
    }
}

/// Replaces every binary operation `from` of `block`'s checks by `to`; how many it replaced.
fn swap_binary(
    block: &mut schema::Block,
    from: schema::op_binary::Kind,
    to: schema::op_binary::Kind,
) -> usize {
    let mut n = 0;
    edit_ops(block, &mut |ops| {
        for op in ops.iter_mut() {
            if *op == binary(from) {
                *op = binary(to);
                n += 1;
            }
        }
    });
    n
}

/// Asserts that `verdict` is a refusal by block `block`'s raw check `text`, quoted, and
/// by nothing else.
#[track_caller]
fn refused_by_raw(verdict: &Verdict, block: usize, text: &str) {
    let reasons = denied(verdict);
    assert_eq!(reasons.len(), 1, "{reasons:#?}");
    let r = &reasons[0];
    assert_eq!(r.kind, ReasonKind::Check, "{r:?}");
    assert_eq!(r.block, Some(block), "{r:?}");
    assert!(
        r.message.ends_with(&format!("check failed: {text}")),
        "{:?} does not quote {text:?}",
        r.message
    );
}

/// A link with nothing of valet's shapes in it: only raw checks.
#[track_caller]
fn only_raw(link: &Link) {
    assert_eq!(link.audiences, None, "{link:?}");
    assert_eq!(link.scopes, None, "{link:?}");
    assert_eq!(link.expires_at, None, "{link:?}");
    assert!(link.limits.is_empty(), "{link:?}");
    assert!(link.actions.is_empty(), "{link:?}");
    assert_eq!(link.max_depth, None, "{link:?}");
    assert_eq!(link.holder, None, "{link:?}");
}

// ---------------------------------------------------------------------------------------
// Almost the shapes valet writes.

#[test]
fn an_expiry_check_with_a_strict_comparison_is_a_raw_check() {
    let f = fixture();
    let root = f.mint(grant());
    let expiry = NOW_SECS + 600;
    let mut block = written(&root, Attenuation::new().expires_at(at(expiry)));
    use schema::op_binary::Kind as B;
    assert_eq!(swap_binary(&mut block, B::LessOrEqual, B::LessThan), 1);
    let t = append(&f, &root, &block);
    let text = format!("check if time($v), $v < {}", date(expiry));
    assert_eq!(checks_of(&t), [text.as_str()]);

    let claims = t.unverified_claims().unwrap();
    only_raw(&claims.chain[0]);
    assert_eq!(claims.chain[0].checks, [text.as_str()]);
    assert_eq!(claims.expires_at, NOW_SECS + 3600);
    let json = serde_json::to_value(&claims).unwrap();
    assert!(json["chain"][0].get("expires_at").is_none(), "{json}");
    assert_eq!(json["chain"][0]["checks"][0], text.as_str());

    // The Datalog decides: the strict bound refuses at the very second the check names.
    let list = plain(PAY, "list");
    assert_allowed(&f.verify_at(&t, &list, at(expiry - 1)));
    refused_by_raw(&f.verify_at(&t, &list, at(expiry)), 1, &text);
    refused_by_raw(&f.verify_at(&t, &list, at(expiry + 60)), 1, &text);
    // The same block as valet writes it still allows that second, and is an expiry.
    let genuine = root
        .attenuate(Attenuation::new().expires_at(at(expiry)))
        .unwrap();
    assert_allowed(&f.verify_at(&genuine, &list, at(expiry)));
    assert_denied(
        &f.verify_at(&genuine, &list, at(expiry + 1)),
        ReasonKind::Expired,
        "block 1 expired at",
    );
}

#[test]
fn validity_bounds_in_another_order_or_another_variable_are_raw_checks() {
    let f = fixture();
    let root = f.mint(grant());
    let (nbf, exp) = (date(NOW_SECS - 60), date(NOW_SECS + 600));
    for code in [
        format!("check if time($v), $v <= {exp}, $v >= {nbf}"),
        format!("check if time($t), $t <= {exp}"),
        format!("check all time($v), $v <= {exp}"),
        format!("check if time($v), $v <= {exp} trusting previous"),
        format!("check if time($v), $v >= {nbf}, $v >= {nbf}"),
        format!("check if time($v), $v <= {exp} or time($v), $v <= {exp}"),
    ] {
        let t = append_raw(&root, &code);
        let claims = t.unverified_claims().unwrap();
        only_raw(&claims.chain[0]);
        assert_eq!(claims.chain[0].checks.len(), 1, "{code}");
        assert_eq!(claims.not_before, None, "{code}");
        assert_eq!(claims.expires_at, NOW_SECS + 3600, "{code}");
    }
    // Written as valet writes it, the expiry is read as what it is.
    let t = append_raw(&root, &format!("check if time($v), $v <= {exp}"));
    let claims = t.unverified_claims().unwrap();
    assert!(claims.chain[0].checks.is_empty());
    assert_eq!(claims.chain[0].expires_at, Some(NOW_SECS + 600));
    assert_eq!(claims.expires_at, NOW_SECS + 600);
}

#[test]
fn a_not_before_check_in_an_attenuation_block_is_shown_as_a_raw_check() {
    let f = fixture();
    let root = f.mint(grant());
    let later = NOW_SECS + 120;
    for text in [
        format!("check if time($v), $v >= {}", date(later)),
        format!(
            "check if time($v), $v >= {}, $v <= {}",
            date(later),
            date(NOW_SECS + 600)
        ),
    ] {
        let t = append_raw(&root, &text);
        let claims = t.unverified_claims().unwrap();
        only_raw(&claims.chain[0]);
        assert_eq!(claims.chain[0].checks, [text.as_str()]);
        assert_eq!(claims.not_before, None);
        refused_by_raw(&f.verify(&t, &plain(PAY, "list")), 1, &text);
        assert_allowed(&f.verify_at(&t, &plain(PAY, "list"), at(later)));
    }
}

#[test]
fn an_audience_check_with_an_extra_condition_is_a_raw_check() {
    let f = fixture();
    let root = f.mint(grant());
    let text = r#"check if resource("https://pay.example.com"), operation("list")"#;
    let t = append_raw(&root, text);
    let claims = t.unverified_claims().unwrap();
    only_raw(&claims.chain[0]);
    assert_eq!(claims.chain[0].checks, [text]);
    assert_eq!(claims.audiences, BTreeSet::from([aud(PAY), aud(TOOLS)]));

    assert_allowed(&f.verify(&t, &plain(PAY, "list")));
    // Refused by the Datalog, explained as the check it is, not as an audience.
    refused_by_raw(&f.verify(&t, &plain(PAY, "send")), 1, text);
    refused_by_raw(&f.verify(&t, &plain(TOOLS, "list")), 1, text);

    // At the protobuf level: valet's audience check with a second predicate in its body.
    let mut block = written(&root, Attenuation::new().audiences([aud(PAY)]));
    // The predicate as a block of its own writes it, with the symbol it adds (`"list"`).
    let helper = last_block(&append_raw(&root, r#"check if operation("list")"#));
    assert!(block.symbols.is_empty());
    block.symbols = helper.symbols.clone();
    block.checks[0].queries[0]
        .body
        .push(helper.checks[0].queries[0].body[0].clone());
    let t = append(&f, &root, &block);
    let claims = t.unverified_claims().unwrap();
    only_raw(&claims.chain[0]);
    assert_eq!(claims.chain[0].checks, [text]);
    refused_by_raw(&f.verify(&t, &plain(PAY, "send")), 1, text);
}

#[test]
fn a_limit_check_that_bounds_another_field_than_it_names_is_a_raw_check() {
    let f = fixture();
    let root = f.mint(grant());
    // Looks like a cap on the amount; bounds the fee.
    let text = r#"check if detail($v), $v !== "payment" or decimal("amount", $w), decimal("fee", $v), $v <= 500000"#;
    let t = append_raw(&root, text);
    let claims = t.unverified_claims().unwrap();
    only_raw(&claims.chain[0]);
    assert_eq!(claims.chain[0].checks, [text]);
    assert_eq!(
        claims.effective_limit("payment", "amount"),
        Some(Limit::at_most(dec("1000.00")))
    );
    assert_eq!(claims.effective_limit("payment", "fee"), None);
    let with_fee = |amount: &str, fee: &str| {
        Request::new(aud(PAY), "pay_invoice").details(
            TransactionDetails::new("payment")
                .with("amount", amount)
                .with("fee", fee)
                .with("currency", "USD")
                .with("recipient", "bob@example.com"),
        )
    };
    // An amount above 50.00 passes: the check does not bound it.
    assert_allowed(&f.verify(&t, &with_fee("900.00", "1.00")));
    refused_by_raw(&f.verify(&t, &with_fee("10.00", "60.00")), 1, text);

    // Almost valet's cap on the amount: a heterogeneous comparison of the type, the type
    // tested in another order, and (at the protobuf level) a strict bound.
    for text in [
        r#"check if detail($v), $v != "payment" or decimal("amount", $v), $v <= 500000"#,
        r#"check if decimal("amount", $v), $v <= 500000 or detail($v), $v !== "payment""#,
    ] {
        let t = append_raw(&root, text);
        let claims = t.unverified_claims().unwrap();
        only_raw(&claims.chain[0]);
        assert_eq!(claims.chain[0].checks, [text]);
        refused_by_raw(
            &f.verify(&t, &payment("60.00", "USD", "bob@example.com")),
            1,
            text,
        );
    }
    use schema::op_binary::Kind as B;
    let mut strict = written(
        &root,
        Attenuation::new().max("payment", "amount", dec("50.00")),
    );
    assert_eq!(swap_binary(&mut strict, B::LessOrEqual, B::LessThan), 1);
    let t = append(&f, &root, &strict);
    let text = r#"check if detail($v), $v !== "payment" or decimal("amount", $v), $v < 500000"#;
    assert_eq!(checks_of(&t), [text]);
    let claims = t.unverified_claims().unwrap();
    only_raw(&claims.chain[0]);
    assert_eq!(claims.chain[0].checks, [text]);
    assert_eq!(
        claims.effective_limit("payment", "amount"),
        Some(Limit::at_most(dec("1000.00")))
    );
    assert_allowed(&f.verify(&t, &payment("49.99", "USD", "bob@example.com")));
    refused_by_raw(
        &f.verify(&t, &payment("50.00", "USD", "bob@example.com")),
        1,
        text,
    );
}

#[test]
fn a_holder_check_with_a_key_of_31_bytes_binds_no_holder() {
    let f = fixture();
    let root = f.mint(grant());
    let agent = SigningKey::generate();
    let mut block = written(&root, Attenuation::new().holder(agent.public()));
    let key = &mut block.checks[0].queries[0].body[0].terms[0].content;
    let Some(schema::term::Content::Bytes(bytes)) = key else {
        panic!("{key:?}")
    };
    assert_eq!(bytes.len(), 32);
    bytes.pop();
    let short = hex::encode(&bytes[..]);
    let t = append(&f, &root, &block);
    let text = format!("check if holder(hex:{short})");
    let claims = t.unverified_claims().unwrap();
    only_raw(&claims.chain[0]);
    assert_eq!(claims.holder, None);
    assert_eq!(claims.chain[0].checks, [text.as_str()]);
    // No request can meet it: no proof makes a key of 31 bytes.
    let req = payment("50.00", "USD", "bob@example.com");
    refused_by_raw(&f.verify(&t, &req), 1, &text);
    assert!(!f
        .verifier
        .verify_with_proof(
            &t,
            &req,
            Some(&HolderProof::sign(&agent, &t, &req, now()).unwrap()),
            now(),
            &NoRevocations
        )
        .is_allowed());
    // Nor does a verifier that requires binding take it for a bound token.
    let strict = f.strict();
    assert_denied(
        &strict.verify(&t, &req, now(), &NoRevocations),
        ReasonKind::Holder,
        "",
    );
}

#[test]
fn a_depth_check_below_the_block_s_own_index_is_a_raw_check() {
    let f = fixture();
    let root = f.mint(grant());
    // At block 1, `blocks($v), $v <= 1` would be a cap of -1 further blocks.
    let text = "check if blocks($v), $v <= 1";
    let t = append_raw(&root, text);
    let claims = t.unverified_claims().unwrap();
    only_raw(&claims.chain[0]);
    assert_eq!(claims.remaining_depth, None);
    assert_eq!(claims.chain[0].checks, [text]);
    refused_by_raw(&f.verify(&t, &plain(PAY, "list")), 1, text);
    // At its own index plus one it is a cap of zero further blocks, and read as one.
    let capped = append_raw(&root, "check if blocks($v), $v <= 2");
    let claims = capped.unverified_claims().unwrap();
    assert!(claims.chain[0].checks.is_empty());
    assert_eq!(claims.chain[0].max_depth, Some(0));
    assert_eq!(claims.remaining_depth, Some(0));
    assert_allowed(&f.verify(&capped, &plain(PAY, "list")));
    // Deeper in the chain, the same check is below that block's index.
    let deep = append_raw(
        &root.attenuate(Attenuation::new()).unwrap(),
        "check if blocks($v), $v <= 2",
    );
    let claims = deep.unverified_claims().unwrap();
    only_raw(&claims.chain[1]);
    assert_eq!(claims.remaining_depth, None);
    refused_by_raw(
        &f.verify(&deep, &plain(PAY, "list")),
        2,
        "check if blocks($v), $v <= 2",
    );
}

#[test]
fn a_second_expiry_check_in_one_block_is_a_raw_check() {
    let f = fixture();
    let root = f.mint(grant());
    let (late, early) = (NOW_SECS + 1800, NOW_SECS + 600);
    let second = format!("check if time($v), $v <= {}", date(early));
    let t = append_raw(
        &root,
        &format!("check if time($v), $v <= {};\n{second};", date(late)),
    );
    let claims = t.unverified_claims().unwrap();
    assert_eq!(claims.chain[0].expires_at, Some(late));
    assert_eq!(claims.chain[0].checks, [second.as_str()]);
    // The earlier bound holds, and is explained as the raw check it is, not as the
    // block's expiry.
    let list = plain(PAY, "list");
    assert_allowed(&f.verify_at(&t, &list, at(early)));
    refused_by_raw(&f.verify_at(&t, &list, at(early + 1)), 1, &second);
    assert_denied(
        &f.verify_at(&t, &list, at(late + 1)),
        ReasonKind::Expired,
        "block 1 expired at",
    );
    // The same holds for a second audience check and a second scope check.
    let t = append_raw(
        &root,
        r#"check if resource("https://pay.example.com") or resource("https://tools.example.com");
           check if resource("https://pay.example.com");
           reject if scope($v), !{"payments:write", "tools:read"}.contains($v);
           reject if scope($v), !{"payments:write"}.contains($v);"#,
    );
    let link = &t.unverified_claims().unwrap().chain[0];
    assert_eq!(link.audiences, Some(BTreeSet::from([aud(PAY), aud(TOOLS)])));
    assert_eq!(
        link.scopes,
        Some(BTreeSet::from([
            scope("payments:write"),
            scope("tools:read")
        ]))
    );
    assert_eq!(link.checks.len(), 2, "{link:?}");
    refused_by_raw(
        &f.verify(&t, &plain(TOOLS, "list")),
        1,
        r#"check if resource("https://pay.example.com")"#,
    );
    refused_by_raw(
        &f.verify(&t, &plain(PAY, "list").scope(scope("tools:read"))),
        1,
        r#"reject if scope($v), !{"payments:write"}.contains($v)"#,
    );
}

#[test]
fn a_grant_whose_alternatives_are_in_another_order_is_a_raw_check() {
    let f = fixture();
    let source = grant_source(&f);
    let line = source
        .lines()
        .find(|l| l.starts_with("check if detail(\"\")"))
        .unwrap()
        .trim_end_matches(';')
        .to_owned();
    let (first, rest) = line
        .strip_prefix("check if ")
        .unwrap()
        .split_once(" or ")
        .unwrap();
    // The request without details last rather than first.
    let reordered = format!("check if {rest} or {first}");
    let t = authority(&f, &source.replace(&line, &reordered));
    let claims = t.unverified_claims().unwrap();
    assert!(claims.authorization_details.is_empty(), "{claims:?}");
    assert!(checks_in(&t, 0).contains(&reordered), "{reordered}");
    assert_eq!(claims.checks, [reordered.as_str()]);
    assert_eq!(claims.effective_limit("payment", "amount"), None);
    // The Datalog still grants what it grants, and its refusals quote it.
    assert_allowed(&f.verify(&t, &payment("10.00", "USD", "bob@example.com")));
    refused_by_raw(
        &f.verify(&t, &payment("5000.00", "USD", "bob@example.com")),
        0,
        &reordered,
    );
    refused_by_raw(&f.verify(&t, &plain(PAY, "refund")), 0, &reordered);

    // The minted grant itself is read as the grant.
    let minted = authority(&f, &source);
    assert_eq!(
        minted.unverified_claims().unwrap().authorization_details,
        f.mint(grant())
            .unverified_claims()
            .unwrap()
            .authorization_details
    );
    assert!(minted.unverified_claims().unwrap().checks.is_empty());
    // A grant's bounds in another order are not the grant either.
    let swapped = line.replace("$v1 >= 0, $v1 <= 10000000", "$v1 <= 10000000, $v1 >= 0");
    assert_ne!(swapped, line, "{line}");
    let t = authority(&f, &source.replace(&line, &swapped));
    let claims = t.unverified_claims().unwrap();
    assert!(claims.authorization_details.is_empty());
    assert_eq!(claims.checks, [swapped]);
}

#[test]
fn an_authority_block_without_its_own_checks_is_not_a_valet_token() {
    // Without a recognised expiry, audience or scope check, the claims would have to
    // make one up: the token is refused instead.
    let f = fixture();
    let source = grant_source(&f);
    for (what, pick) in [
        ("expiry check", "check if time("),
        ("audience check", "check if resource("),
        ("scope check", "reject if scope("),
    ] {
        let line = source.lines().find(|l| l.starts_with(pick)).unwrap();
        // Made strict by hand: the same bound, not the shape.
        let edited = line
            .replace("$v <= ", "$v < ")
            .replace(
                "check if resource(\"https://pay.example.com\")",
                "check if resource(\"https://pay.example.com\"), true",
            )
            .replace("reject if scope($v), ", "reject if scope($v), true, ");
        assert_ne!(edited, line);
        let bytes = biscuit_auth::Biscuit::builder()
            .code(source.replace(line, &edited))
            .unwrap()
            .root_key_id(1)
            .build(&root_pair(&f))
            .unwrap()
            .to_vec()
            .unwrap();
        match Token::from_bytes(&bytes) {
            Err(TokenError::Format(m)) => assert!(m.contains(what), "{what}: {m}"),
            other => panic!("{what}: expected a format error, got {other:?}"),
        }
        let v = f
            .verifier
            .verify_bytes(&bytes, &plain(PAY, "list"), now(), &NoRevocations);
        assert_denied(&v, ReasonKind::Format, what);
    }
}

#[test]
fn a_block_stating_a_fact_of_the_verifier_is_refused_when_read() {
    let f = fixture();
    let root = f.mint(grant());
    // `resource("https://other.example")` beside the delegate of a block valet would write.
    let bytes = append_raw_bytes(
        &root,
        r#"delegate("agent-1"); resource("https://other.example");"#,
    );
    let block = schema::Block::decode(decode(&bytes).blocks[0].block.as_slice()).unwrap();
    assert_eq!(block.facts.len(), 2);
    match Token::from_bytes(&bytes) {
        Err(TokenError::Format(m)) => assert!(
            m.contains("block 1 states `resource(\"https://other.example\")`, a fact only the verifier supplies"),
            "{m}"
        ),
        other => panic!("expected a format error, got {other:?}"),
    }
    let other = Request::new(aud("https://other.example"), "list");
    for req in [&other, &plain(PAY, "list")] {
        let v = f.verifier.verify_bytes(&bytes, req, now(), &NoRevocations);
        assert_denied(&v, ReasonKind::Format, "a fact only the verifier supplies");
    }
    // In the authority block too, signed by the trusted key.
    let bytes = biscuit_auth::Biscuit::builder()
        .code(format!("{}\nscope(\"admin\");", grant_source(&f)))
        .unwrap()
        .root_key_id(1)
        .build(&root_pair(&f))
        .unwrap()
        .to_vec()
        .unwrap();
    match Token::from_bytes(&bytes) {
        Err(TokenError::Format(m)) => {
            assert!(m.contains("block 0 states `scope(\"admin\")`"), "{m}")
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn a_check_with_a_malformed_expression_is_never_a_panic_nor_an_allow() {
    // An expression whose operations leave no single value (an operation without its
    // operands) comes only from a block made by hand: the token is refused when read, or
    // read with the check shown raw and refusing every request.
    let f = fixture();
    let root = f.mint(grant());
    let mut block = written(
        &root,
        Attenuation::new().max("payment", "amount", dec("50.00")),
    );
    edit_ops(&mut block, &mut |ops| {
        ops.remove(0);
    });
    let bytes = append_block(&f, &root, &block);
    let req = payment("10.00", "USD", "bob@example.com");
    match Token::from_bytes(&bytes) {
        Err(TokenError::Format(m)) => assert!(m.contains("block 1"), "{m}"),
        Ok(t) => {
            let link = &t.unverified_claims().unwrap().chain[0];
            only_raw(link);
            assert_eq!(link.checks.len(), 1, "{link:?}");
            assert_denied(&f.verify(&t, &req), ReasonKind::Check, "block 1");
        }
        Err(e) => panic!("expected a format error, got {e:?}"),
    }
    let v = f.verifier.verify_bytes(&bytes, &req, now(), &NoRevocations);
    assert!(!v.is_allowed());
    // The same in a rule: never a panic, never an allow.
    let bytes = append_raw_bytes(&root, r#"r($x) <- operation($x), $x == "list";"#);
    let mut block = schema::Block::decode(decode(&bytes).blocks[0].block.as_slice()).unwrap();
    block.rules[0].expressions[0].ops.remove(0);
    let bytes = append_block(&f, &root, &block);
    if let Ok(t) = Token::from_bytes(&bytes) {
        assert!(!f.verify(&t, &plain(PAY, "list")).is_allowed());
    }
    let v = f
        .verifier
        .verify_bytes(&bytes, &plain(PAY, "list"), now(), &NoRevocations);
    assert_denied(&v, ReasonKind::Format, "block 1");
}

// ---------------------------------------------------------------------------------------
// Format 1.

#[test]
fn a_token_of_format_1_is_refused_with_a_message_to_mint_a_new_one() {
    let mint_again = |result: Result<Token, TokenError>, block: usize| match result {
        Err(TokenError::Format(m)) => {
            assert!(
                m.contains(&format!("block {block} carries a context")),
                "{m}"
            );
            assert!(m.contains("valet format 1"), "{m}");
            assert!(m.contains("mint a new token"), "{m}");
        }
        other => panic!("expected a format error, got {other:?}"),
    };
    // A root token as the previous release minted it.
    let old = include_str!("data/format-1-root.b64");
    mint_again(Token::from_base64(old), 0);

    // A block with a context appended to a token of format 2.
    let f = fixture();
    let root = f.mint(grant());
    let bytes = biscuit_auth::UnverifiedBiscuit::from(root.to_bytes())
        .unwrap()
        .append(
            biscuit_auth::builder::BlockBuilder::new()
                .context(r#"{"valet":1,"delegate":"invoice-agent"}"#.to_owned())
                .code(r#"delegate("invoice-agent");"#)
                .unwrap(),
        )
        .unwrap()
        .to_vec()
        .unwrap();
    mint_again(Token::from_bytes(&bytes), 1);
    let v = f.verifier.verify_bytes(
        &bytes,
        &payment("10.00", "USD", "bob@example.com"),
        now(),
        &NoRevocations,
    );
    assert_denied(&v, ReasonKind::Format, "mint a new token");

    // An authority block with a context, signed by a trusted key.
    let bytes = biscuit_auth::Biscuit::builder()
        .code(grant_source(&f))
        .unwrap()
        .context(r#"{"valet":1}"#.to_owned())
        .root_key_id(1)
        .build(&root_pair(&f))
        .unwrap()
        .to_vec()
        .unwrap();
    mint_again(Token::from_bytes(&bytes), 0);
    // Even an empty context.
    let mut raw = decode(root.to_bytes());
    let mut block = schema::Block::decode(raw.authority.block.as_slice()).unwrap();
    block.context = Some(String::new());
    raw.authority.block = block.encode_to_vec();
    mint_again(Token::from_bytes(&raw.encode_to_vec()), 0);
}

// ---------------------------------------------------------------------------------------
// Minted tokens read back as minted.

#[test]
fn minted_claims_read_back_as_minted() {
    let f = fixture();
    let agent = SigningKey::generate();
    let helper = SigningKey::generate();
    let payment_grant = AuthorizationDetail::new("payment")
        .actions(["pay_invoice", "refund"])
        .locations([PAY])
        .identifier("inv-7")
        .min("amount", dec("-100.00"))
        .max("amount", dec("1000.00"))
        .max("fee", dec("5.00"))
        .min("count", dec("1"))
        .one_of("currency", ["USD", "EUR"]);
    let mut payment_grant = payment_grant;
    payment_grant.datatypes = BTreeSet::from(["invoice".to_owned(), "receipt".to_owned()]);
    payment_grant.privileges = BTreeSet::from(["approve".to_owned()]);
    let mut files_grant = AuthorizationDetail::new("files").actions(["read"]);
    files_grant.privileges = BTreeSet::from(["owner".to_owned()]);
    let second_payment = AuthorizationDetail::new("payment").actions(["list"]);
    let root = f.mint(
        TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .bearer()
            .audience(aud(PAY))
            .audience(aud(TOOLS))
            .audience(aud(MAIL))
            .scope(scope("payments:write"))
            .scope(scope("tools:read"))
            .token_id("tok-42")
            .not_before(at(NOW_SECS - 30))
            .expires_in(Duration::from_secs(1800))
            .detail(payment_grant.clone())
            .detail(files_grant.clone())
            .detail(second_payment.clone())
            .max_depth(4)
            .holder(agent.public()),
    );
    let c = root.unverified_claims().unwrap();
    assert_eq!(c.subject, "alice@example.com");
    assert_eq!(c.client, "https://orchestrator.example/client");
    assert_eq!(c.token_id.as_deref(), Some("tok-42"));
    assert_eq!(c.key_id, Some(KeyId(1)));
    assert_eq!(
        c.audiences,
        BTreeSet::from([aud(PAY), aud(TOOLS), aud(MAIL)])
    );
    let scopes = BTreeSet::from([scope("payments:write"), scope("tools:read")]);
    assert_eq!(c.scopes, scopes);
    assert_eq!(c.granted_scopes, scopes);
    assert_eq!(c.not_before, Some(NOW_SECS - 30));
    assert_eq!(c.expires_at, NOW_SECS + 1800);
    assert_eq!(
        c.authorization_details,
        [payment_grant, files_grant, second_payment]
    );
    assert_eq!(c.remaining_depth, Some(4));
    assert_eq!(c.holder, Some(agent.public()));
    assert!(c.checks.is_empty() && c.facts.is_empty(), "{c:?}");
    assert!(c.chain.is_empty());

    // Every narrowing, in blocks signed and unsigned.
    let a = root
        .attenuate_signed(
            Attenuation::new()
                .delegate("planner-agent")
                .audiences([aud(PAY), aud(TOOLS)])
                .scopes([scope("payments:write")])
                .expires_at(at(NOW_SECS + 1200))
                .max("payment", "amount", dec("500.00"))
                .min("payment", "amount", dec("-10.00"))
                .one_of("payment", "currency", ["EUR"])
                .actions("payment", ["pay_invoice"])
                .actions("files", ["read"])
                .max_depth(2)
                .holder(helper.public())
                .check("check if operation($o), $o != \"delete\""),
            &agent,
        )
        .unwrap();
    let b = a
        .attenuate_signed(
            Attenuation::new()
                .delegate("invoice-agent")
                .max("payment", "fee", dec("1.00"))
                .max("payment", "amount", dec("50.00"))
                .max_depth(0),
            &helper,
        )
        .unwrap();
    let c = b.unverified_claims().unwrap();
    assert_eq!(c.audiences, BTreeSet::from([aud(PAY), aud(TOOLS)]));
    assert_eq!(c.scopes, BTreeSet::from([scope("payments:write")]));
    assert_eq!(c.granted_scopes, scopes);
    assert_eq!(c.expires_at, NOW_SECS + 1200);
    assert_eq!(c.remaining_depth, Some(0));
    assert_eq!(c.holder, Some(helper.public()));
    assert_eq!(c.delegates(), ["planner-agent", "invoice-agent"]);
    assert_eq!(c.agent(), "invoice-agent");

    let l1 = &c.chain[0];
    assert_eq!(l1.block, 1);
    assert_eq!(l1.delegate.as_deref(), Some("planner-agent"));
    assert_eq!(l1.audiences, Some(BTreeSet::from([aud(PAY), aud(TOOLS)])));
    assert_eq!(l1.scopes, Some(BTreeSet::from([scope("payments:write")])));
    assert_eq!(l1.expires_at, Some(NOW_SECS + 1200));
    let limit = |kind: &str, field: &str, limit: Limit| FieldLimit {
        kind: kind.into(),
        field: field.into(),
        limit,
    };
    let actions = |kind: &str, names: &[&str]| ActionLimit {
        kind: kind.into(),
        actions: names.iter().map(|a| (*a).to_owned()).collect(),
    };
    assert_eq!(
        l1.limits,
        [
            limit(
                "payment",
                "amount",
                Limit::between(dec("-10.00"), dec("500.00"))
            ),
            limit(
                "payment",
                "currency",
                Limit::OneOf(BTreeSet::from(["EUR".to_owned()]))
            ),
        ]
    );
    assert_eq!(
        l1.actions,
        [
            actions("payment", &["pay_invoice"]),
            actions("files", &["read"])
        ]
    );
    assert_eq!(l1.max_depth, Some(2));
    assert_eq!(l1.holder, Some(helper.public()));
    assert_eq!(l1.signed_by, Some(agent.public()));
    assert_eq!(l1.checks, ["check if operation($o), $o != \"delete\""]);
    assert!(l1.facts.is_empty());

    let l2 = &c.chain[1];
    assert_eq!(l2.block, 2);
    assert_eq!(l2.delegate.as_deref(), Some("invoice-agent"));
    assert_eq!(
        (&l2.audiences, &l2.scopes, l2.expires_at),
        (&None, &None, None)
    );
    // A `max` alone: under a floor of zero it writes none (the fee), under a floor below
    // zero it writes zero (the amount).
    assert_eq!(
        l2.limits,
        [
            limit("payment", "fee", Limit::at_most(dec("1.00"))),
            limit(
                "payment",
                "amount",
                Limit::between(Decimal::ZERO, dec("50.00"))
            ),
        ]
    );
    assert!(l2.actions.is_empty() && l2.checks.is_empty() && l2.facts.is_empty());
    assert_eq!(l2.max_depth, Some(0));
    assert_eq!(l2.holder, None);
    assert_eq!(l2.signed_by, Some(helper.public()));
    assert_eq!(
        c.effective_limit("payment", "amount"),
        Some(Limit::at_most(dec("50.00")))
    );
    assert_eq!(
        c.effective_limit("payment", "fee"),
        Some(Limit::at_most(dec("1.00")))
    );

    // Read again from its bytes or its text, the token says the same.
    assert_eq!(
        Token::from_bytes(b.to_bytes())
            .unwrap()
            .unverified_claims()
            .unwrap(),
        c
    );
    assert_eq!(
        Token::from_base64(&b.to_base64())
            .unwrap()
            .unverified_claims()
            .unwrap(),
        c
    );
    // And each check of every block was read as what valet wrote: the refusals name them.
    let pay = |amount: &str| {
        Request::new(aud(PAY), "pay_invoice")
            .details(
                TransactionDetails::new("payment")
                    .with("amount", amount)
                    .with("fee", "0.50")
                    .with("count", "1")
                    .with("currency", "EUR")
                    .with("identifier", "inv-7"),
            )
            .scope(scope("payments:write"))
    };
    let verify = |t: &Token, req: &Request| {
        let proof = HolderProof::sign(&helper, t, req, now()).unwrap();
        f.verifier
            .verify_with_proof(t, req, Some(&proof), now(), &NoRevocations)
    };
    assert_allowed(&verify(&b, &pay("50.00")));
    assert_allowed(&verify(&b, &pay("0.00")));
    assert_denied(
        &verify(&b, &pay("50.01")),
        ReasonKind::Limit,
        "block 2 (delegate: invoice-agent) limits payment amount to 50.00, requested `50.01`",
    );
    assert_denied(
        &verify(&b, &pay("-1.00")),
        ReasonKind::Limit,
        "block 2 (delegate: invoice-agent) limits payment amount to at least 0.00, requested `-1.00`",
    );
    assert_allowed(&verify(&a, &pay("-10.00")));
    assert_denied(
        &verify(&a, &pay("-10.01")),
        ReasonKind::Limit,
        "block 1 (delegate: planner-agent) limits payment amount to at least -10.00, requested `-10.01`",
    );
}

#[test]
fn not_before_is_set_only_when_asked_for() {
    let f = fixture();
    let plain_token = f.mint(grant());
    let c = plain_token.unverified_claims().unwrap();
    assert_eq!(c.not_before, None);
    let nbf = f.mint(grant().not_before(at(NOW_SECS + 60)));
    let c = nbf.unverified_claims().unwrap();
    assert_eq!(c.not_before, Some(NOW_SECS + 60));
    assert_denied(
        &f.verify(&nbf, &plain(PAY, "list")),
        ReasonKind::NotYetValid,
        "token is not valid before 2026-11-23T12:01:00Z",
    );
    assert_allowed(&f.verify_at(&nbf, &plain(PAY, "list"), at(NOW_SECS + 60)));
}

#[test]
fn every_check_valet_writes_is_read_as_what_it_enforces() {
    // No block valet writes leaves a raw check or fact behind in the claims.
    let f = fixture();
    let agent = SigningKey::generate();
    let tokens = [
        f.mint(grant()),
        f.mint(grant().max_depth(3).holder(agent.public()).token_id("t")),
        f.mint(
            TokenBuilder::new("bob", "https://c.example")
                .bearer()
                .audience(aud(MAIL))
                .expires_in(Duration::from_secs(60)),
        ),
    ];
    for root in &tokens {
        let c = root.unverified_claims().unwrap();
        assert!(c.checks.is_empty() && c.facts.is_empty(), "{c:?}");
        let child = root
            .attenuate(
                Attenuation::new()
                    .delegate("x")
                    .expires_in(Duration::from_secs(30))
                    .now(now())
                    .max_depth(1),
            )
            .unwrap();
        let link = &child.unverified_claims().unwrap().chain[0];
        assert!(link.checks.is_empty() && link.facts.is_empty(), "{link:?}");
        assert_eq!(link.expires_at, Some(NOW_SECS + 30));
        assert_eq!(link.max_depth, Some(1));
    }
}

// ---------------------------------------------------------------------------------------
// Size.

#[test]
fn a_typical_token_and_its_attenuation_stay_small() {
    let f = fixture();
    let agent = SigningKey::generate();
    let root = f.mint(
        TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .bearer()
            .audience(aud(PAY))
            .scope(scope("payments:write"))
            .expires_in(Duration::from_secs(900))
            .holder(agent.public())
            .detail(AuthorizationDetail::new("payment").max("amount", dec("1000.00"))),
    );
    let root_size = root.to_bytes().len();
    assert!(root_size <= 600, "the root token is {root_size} bytes");
    let child = root
        .attenuate(Attenuation::new().delegate("invoice-agent").max(
            "payment",
            "amount",
            dec("50.00"),
        ))
        .unwrap();
    let added = child.to_bytes().len() - root_size;
    assert!(added <= 250, "the attenuation block adds {added} bytes");
    // What it says is all there.
    let c = child.unverified_claims().unwrap();
    assert_eq!(c.holder, Some(agent.public()));
    assert_eq!(c.agent(), "invoice-agent");
    assert_eq!(
        c.effective_limit("payment", "amount"),
        Some(Limit::at_most(dec("50.00")))
    );
}
