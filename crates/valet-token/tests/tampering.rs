#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Tampered tokens, rebuilt at the protobuf level: all refused.

mod common;

use biscuit_auth::format::schema;
use common::*;
use prost::Message;
use valet_token::danger::DangerousVerifier;
use valet_token::*;

fn decode(t: &Token) -> schema::Biscuit {
    schema::Biscuit::decode(t.to_bytes()).unwrap()
}

fn encode(raw: &schema::Biscuit) -> Vec<u8> {
    raw.encode_to_vec()
}

/// A three-block token (root, a 500.00 cap, a 50.00 cap) and a request it allows. Its
/// attenuation blocks use only symbols of the authority block, so a token rebuilt from
/// its blocks in another arrangement still reads: what refuses it is the signature check.
fn chain(f: &Fixture) -> (Token, Token, Token, Request) {
    let root = f.mint(grant());
    let a = root
        .attenuate(Attenuation::new().max("payment", "amount", dec("500.00")))
        .unwrap();
    let b = a
        .attenuate(Attenuation::new().max("payment", "amount", dec("50.00")))
        .unwrap();
    let req = payment("20.00", "USD", "bob@example.com");
    assert_allowed(&f.verify(&b, &req));
    for t in [&a, &b] {
        let last = decode(t).blocks.last().unwrap().block.clone();
        assert!(schema::Block::decode(last.as_slice())
            .unwrap()
            .symbols
            .is_empty());
    }
    (root, a, b, req)
}

/// The same chain with named delegates: its blocks add symbols that later blocks use.
fn named_chain(f: &Fixture) -> Token {
    f.mint(grant())
        .attenuate(Attenuation::new().delegate("planner-agent").max(
            "payment",
            "amount",
            dec("500.00"),
        ))
        .unwrap()
        .attenuate(Attenuation::new().delegate("invoice-agent").max(
            "payment",
            "amount",
            dec("50.00"),
        ))
        .unwrap()
}

#[track_caller]
fn refused(f: &Fixture, bytes: &[u8], req: &Request, kinds: &[ReasonKind]) {
    let v = f.verifier.verify_bytes(bytes, req, now(), &NoRevocations);
    let reasons = denied(&v);
    assert!(
        kinds.contains(&reasons[0].kind),
        "expected one of {kinds:?}, got {reasons:#?}"
    );
    if let Ok(t) = Token::from_bytes(bytes) {
        assert!(!f.verify(&t, req).is_allowed());
    }
}

#[test]
fn a_token_from_the_wrong_key_is_refused() {
    let f = fixture();
    let impostor = RootKeyPair::generate(KeyId(1));
    let t = Issuer::new(impostor).mint_at(grant(), now()).unwrap();
    refused(&f, t.to_bytes(), &plain(PAY, "x"), &[ReasonKind::Signature]);
    let child = t.attenuate(Attenuation::new().delegate("a")).unwrap();
    refused(
        &f,
        child.to_bytes(),
        &plain(PAY, "x"),
        &[ReasonKind::Signature],
    );
}

#[test]
fn a_removed_block_is_refused() {
    let f = fixture();
    let (_, _, b, req) = chain(&f);
    // The middle block (the 500.00 cap).
    let mut raw = decode(&b);
    raw.blocks.remove(0);
    refused(&f, &encode(&raw), &req, &[ReasonKind::Signature]);
    // The last block (the 50.00 cap), keeping the last proof.
    let mut raw = decode(&b);
    raw.blocks.pop();
    refused(&f, &encode(&raw), &req, &[ReasonKind::Signature]);
    // Every attenuation block.
    let mut raw = decode(&b);
    raw.blocks.clear();
    refused(&f, &encode(&raw), &req, &[ReasonKind::Signature]);
    // Without the block that defines a symbol a later block uses, the token does not even
    // read.
    let mut raw = decode(&named_chain(&f));
    raw.blocks.remove(0);
    refused(&f, &encode(&raw), &req, &[ReasonKind::Format]);
}

#[test]
fn reordered_blocks_are_refused() {
    let f = fixture();
    let (_, _, b, req) = chain(&f);
    let mut raw = decode(&b);
    raw.blocks.swap(0, 1);
    refused(&f, &encode(&raw), &req, &[ReasonKind::Signature]);
    // The authority block swapped with an attenuation block.
    let mut raw = decode(&b);
    std::mem::swap(&mut raw.authority, &mut raw.blocks[0]);
    refused(
        &f,
        &encode(&raw),
        &req,
        &[ReasonKind::Signature, ReasonKind::Format],
    );
}

#[test]
fn a_duplicated_block_is_refused() {
    let f = fixture();
    let (_, _, b, req) = chain(&f);
    for at in [0, 1] {
        let mut raw = decode(&b);
        let copy = raw.blocks[at].clone();
        raw.blocks.insert(at, copy);
        refused(&f, &encode(&raw), &req, &[ReasonKind::Signature]);
    }
    let mut raw = decode(&b);
    let last = raw.blocks[1].clone();
    raw.blocks.push(last);
    refused(&f, &encode(&raw), &req, &[ReasonKind::Signature]);
    // A block that defines symbols, repeated, repeats them: the token does not read.
    let mut raw = decode(&named_chain(&f));
    let copy = raw.blocks[0].clone();
    raw.blocks.insert(0, copy);
    refused(&f, &encode(&raw), &req, &[ReasonKind::Format]);
}

#[test]
fn a_block_spliced_from_another_token_is_refused() {
    let f = fixture();
    let (_, a, b, req) = chain(&f);
    // Another token from the same key and grant, with a generous block.
    let other_root = f.mint(grant());
    let other = other_root
        .attenuate(Attenuation::new().delegate("invoice-agent").max(
            "payment",
            "amount",
            dec("900.00"),
        ))
        .unwrap();
    let big = payment("800.00", "USD", "bob@example.com");
    assert_allowed(&f.verify(&other, &big));
    // Its block in place of ours.
    let mut raw = decode(&b);
    raw.blocks[1] = decode(&other).blocks[0].clone();
    raw.proof = decode(&other).proof.clone();
    refused(&f, &encode(&raw), &big, &[ReasonKind::Signature]);
    refused(&f, &encode(&raw), &req, &[ReasonKind::Signature]);
    // Its authority under our blocks.
    let mut raw = decode(&b);
    raw.authority = decode(&other_root).authority.clone();
    refused(&f, &encode(&raw), &req, &[ReasonKind::Signature]);
    // Our block appended to the other token.
    let mut raw = decode(&other_root);
    raw.blocks.push(decode(&a).blocks[0].clone());
    raw.proof = decode(&a).proof.clone();
    refused(&f, &encode(&raw), &req, &[ReasonKind::Signature]);
}

/// Calls `edit` on every term of `block`'s checks, expression values included.
fn edit_terms(block: &mut schema::Block, edit: &mut dyn FnMut(&mut schema::term::Content)) {
    for check in &mut block.checks {
        for query in &mut check.queries {
            let body = query.body.iter_mut().flat_map(|p| p.terms.iter_mut());
            let values = query.expressions.iter_mut().flat_map(|e| {
                e.ops.iter_mut().filter_map(|op| match &mut op.content {
                    Some(schema::op::Content::Value(t)) => Some(t),
                    _ => None,
                })
            });
            for term in body.chain(values) {
                if let Some(c) = &mut term.content {
                    edit(c);
                }
            }
        }
    }
}

/// Each block's Datalog edited to grant more (a higher amount limit, a later expiry) or
/// to name another delegate: the signature no longer covers the block.
#[test]
fn an_edited_block_datalog_is_refused() {
    let f = fixture();
    let (_, _, b, _) = chain(&f);
    let big = payment("800.00", "USD", "bob@example.com");
    for index in [0usize, 1, 2] {
        let mut raw = decode(&b);
        let signed = if index == 0 {
            &mut raw.authority
        } else {
            &mut raw.blocks[index - 1]
        };
        let mut block = schema::Block::decode(signed.block.as_slice()).unwrap();
        let mut edits = 0;
        edit_terms(&mut block, &mut |c| {
            use schema::term::Content;
            if let Content::Integer(n @ (10_000_000 | 5_000_000 | 500_000)) = c {
                *n = 50_000_000;
                edits += 1;
            }
        });
        assert_eq!(edits, 1, "block {index}");
        signed.block = block.encode_to_vec();
        refused(&f, &encode(&raw), &big, &[ReasonKind::Signature]);
    }
    // The authority's expiry moved a day later.
    let mut raw = decode(&b);
    let mut block = schema::Block::decode(raw.authority.block.as_slice()).unwrap();
    let mut edits = 0;
    edit_terms(&mut block, &mut |c| {
        if let schema::term::Content::Date(d) = c {
            *d += 86_400;
            edits += 1;
        }
    });
    assert_eq!(edits, 1);
    raw.authority.block = block.encode_to_vec();
    let late = encode(&raw);
    let v = f
        .verifier
        .verify_bytes(&late, &big, at(NOW_SECS + 7200), &NoRevocations);
    assert_eq!(denied(&v)[0].kind, ReasonKind::Signature, "{v:?}");
    // Another delegate named, through the block's own symbol.
    let mut raw = decode(&named_chain(&f));
    let mut block = schema::Block::decode(raw.blocks[1].block.as_slice()).unwrap();
    let name = block
        .symbols
        .iter_mut()
        .find(|s| *s == "invoice-agent")
        .unwrap();
    *name = "mallory-agent".into();
    raw.blocks[1].block = block.encode_to_vec();
    let bytes = encode(&raw);
    assert_eq!(
        Token::from_bytes(&bytes)
            .unwrap()
            .unverified_claims()
            .unwrap()
            .agent(),
        "mallory-agent"
    );
    refused(
        &f,
        &bytes,
        &payment("20.00", "USD", "bob@example.com"),
        &[ReasonKind::Signature],
    );
}

#[test]
fn unknown_or_missing_key_ids_are_refused() {
    let f = fixture();
    let (_, _, b, req) = chain(&f);
    let mut raw = decode(&b);
    raw.root_key_id = Some(99);
    let v = f
        .verifier
        .verify_bytes(&encode(&raw), &req, now(), &NoRevocations);
    assert_denied(&v, ReasonKind::UnknownKey, "key id 99");
    raw.root_key_id = None;
    let v = f
        .verifier
        .verify_bytes(&encode(&raw), &req, now(), &NoRevocations);
    assert_denied(&v, ReasonKind::UnknownKey, "names no key id");
    // Pointing it at another trusted key does not help.
    let k2 = RootKeyPair::generate(KeyId(2));
    let two =
        Verifier::new(KeySet::new().with(f.key.public()).with(k2.public())).accept_bearer_tokens();
    raw.root_key_id = Some(2);
    let v = two.verify_bytes(&encode(&raw), &req, now(), &NoRevocations);
    assert_denied(&v, ReasonKind::Signature, "signature");
}

#[test]
fn a_sealed_or_altered_proof_is_refused() {
    let f = fixture();
    let (_, _, b, req) = chain(&f);
    let mut raw = decode(&b);
    raw.proof = schema::Proof { content: None };
    refused(
        &f,
        &encode(&raw),
        &req,
        &[ReasonKind::Signature, ReasonKind::Format],
    );
    let mut raw = decode(&b);
    if let Some(schema::proof::Content::NextSecret(secret)) = &mut raw.proof.content {
        secret[0] ^= 1;
    } else {
        panic!("an attenuable token carries its next secret");
    }
    refused(&f, &encode(&raw), &req, &[ReasonKind::Signature]);
}
