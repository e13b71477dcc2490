#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Revocation by block id.

mod common;

use std::collections::{BTreeSet, HashSet};

use common::*;
use valet_token::*;

#[test]
fn revoking_any_block_refuses_the_token_and_its_descendants_only() {
    let f = fixture();
    let root = f.mint(grant());
    let a = root.attenuate(Attenuation::new().delegate("a")).unwrap();
    let b = a.attenuate(Attenuation::new().delegate("b")).unwrap();
    // A sibling of `a`, attenuated from the same root.
    let sibling = root
        .attenuate(Attenuation::new().delegate("sibling"))
        .unwrap();
    let family = [&root, &a, &b, &sibling];
    let req = plain(PAY, "list");

    let nothing: HashSet<RevocationId> = HashSet::new();
    for t in family {
        assert_allowed(&f.verifier.verify(t, &req, now(), &nothing));
    }

    for (index, id) in b.revocation_ids().iter().enumerate() {
        let revoked: HashSet<RevocationId> = HashSet::from([id.clone()]);
        for (name, t) in [("root", &root), ("a", &a), ("b", &b), ("sibling", &sibling)] {
            let verdict = f.verifier.verify(t, &req, now(), &revoked);
            let should_refuse = t.revocation_ids().contains(id);
            if should_refuse {
                let reasons = denied(&verdict);
                assert_eq!(reasons[0].kind, ReasonKind::Revoked, "{name}: {reasons:#?}");
                assert_eq!(reasons[0].block, Some(index));
                assert!(
                    reasons[0].message.contains(&id.to_string()),
                    "{}",
                    reasons[0].message
                );
            } else {
                assert_allowed(&verdict);
            }
        }
    }
    // The expected shape, spelled out: revoking root refuses everything, revoking `a`'s
    // block refuses `a` and `b` but not `root` or `sibling`.
    let a_block: HashSet<RevocationId> = HashSet::from([a.revocation_ids()[1].clone()]);
    assert!(!f.verifier.verify(&a, &req, now(), &a_block).is_allowed());
    assert!(!f.verifier.verify(&b, &req, now(), &a_block).is_allowed());
    assert!(f.verifier.verify(&root, &req, now(), &a_block).is_allowed());
    assert!(f
        .verifier
        .verify(&sibling, &req, now(), &a_block)
        .is_allowed());
    let root_block: HashSet<RevocationId> = HashSet::from([root.revocation_ids()[0].clone()]);
    for t in family {
        assert!(!f.verifier.verify(t, &req, now(), &root_block).is_allowed());
    }
}

#[test]
fn revocation_ids_survive_serialisation_and_other_set_types() {
    let f = fixture();
    let root = f.mint(grant());
    let child = root.attenuate(Attenuation::new()).unwrap();
    let text = child.to_base64();
    let back = Token::from_base64(&text).unwrap();
    assert_eq!(back.revocation_ids(), child.revocation_ids());
    // Ids read back from their hex form revoke the same token.
    let ids: BTreeSet<RevocationId> = child
        .revocation_ids()
        .iter()
        .skip(1)
        .map(|id| RevocationId::from_hex(&id.to_string()).unwrap())
        .collect();
    let verdict = f.verifier.verify(&back, &plain(PAY, "list"), now(), &ids);
    assert_denied(
        &verdict,
        ReasonKind::Revoked,
        "block 1 of the token is revoked",
    );
    assert!(f
        .verifier
        .verify(&root, &plain(PAY, "list"), now(), &ids)
        .is_allowed());
}

#[test]
fn two_mints_of_the_same_grant_have_different_ids() {
    let f = fixture();
    let one = f.mint(grant());
    let two = f.mint(grant());
    assert_ne!(one.revocation_ids()[0], two.revocation_ids()[0]);
    let revoked: HashSet<RevocationId> = HashSet::from([one.revocation_ids()[0].clone()]);
    assert!(!f
        .verifier
        .verify(&one, &plain(PAY, "x"), now(), &revoked)
        .is_allowed());
    assert!(f
        .verifier
        .verify(&two, &plain(PAY, "x"), now(), &revoked)
        .is_allowed());
}
