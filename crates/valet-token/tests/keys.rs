#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Root keys: files, key sets with key ids, rotation.

mod common;

use common::*;
use valet_token::danger::DangerousVerifier;
use valet_token::*;

#[cfg(unix)]
fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn key_files_round_trip_with_private_mode_0600() {
    let dir = scratch_dir("keyfiles");
    let private = dir.join("root-7.private");
    let public = dir.join("root-7.public");
    let pair = RootKeyPair::generate(KeyId(7));
    pair.write_private_file(&private, false).unwrap();
    pair.public().write_file(&public, false).unwrap();
    assert_eq!(mode(&private), 0o600);

    let read = RootKeyPair::read_file(&private).unwrap();
    assert_eq!(read.id(), KeyId(7));
    assert_eq!(read.public(), pair.public());
    let read_public = RootPublicKey::read_file(&public).unwrap();
    assert_eq!(read_public, pair.public());
    assert_eq!(read_public.id(), KeyId(7));

    // A token minted with the key read back verifies with the public key read back.
    let f = Verifier::new(KeySet::new().with(read_public)).accept_bearer_tokens();
    let token = Issuer::new(read).mint_at(grant(), now()).unwrap();
    assert_allowed(&f.verify(&token, &plain(PAY, "list"), now(), &NoRevocations));

    // The text format is the documented one.
    let text = std::fs::read_to_string(&private).unwrap();
    assert!(text.contains("key-id: 7"), "{text}");
    assert!(text.contains("private-key: ed25519-private/"), "{text}");
    let text = std::fs::read_to_string(&public).unwrap();
    assert!(text.contains("public-key: ed25519/"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn overwriting_needs_force_and_keeps_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("overwrite");
    let path = dir.join("root.private");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let pair = RootKeyPair::generate(KeyId(2));
    assert!(matches!(
        pair.write_private_file(&path, false),
        Err(KeyError::Exists(_))
    ));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    pair.write_private_file(&path, true).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        RootKeyPair::read_file(&path).unwrap().public(),
        pair.public()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn world_or_group_readable_private_files_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch_dir("perms");
    let path = dir.join("root.private");
    RootKeyPair::generate(KeyId(1))
        .write_private_file(&path, false)
        .unwrap();
    for bad in [0o644, 0o604, 0o640, 0o660, 0o666] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bad)).unwrap();
        let err = RootKeyPair::read_file(&path).unwrap_err();
        assert!(
            matches!(err, KeyError::Permissions { mode, .. } if mode == bad),
            "{bad:o}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("chmod 600"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
    }
    for good in [0o600, 0o400] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(good)).unwrap();
        RootKeyPair::read_file(&path).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_files_are_io_errors_naming_the_path() {
    let dir = scratch_dir("missing");
    let path = dir.join("nope.public");
    let err = RootPublicKey::read_file(&path).unwrap_err();
    assert!(matches!(err, KeyError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.public"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_key_text_is_a_format_error() {
    for bad in [
        "",
        "key-id: 1",
        "key-id: one\npublic-key: ed25519/00",
        "key-id: 1\npublic-key: ed25519/zz",
        "no colon here",
        "key-id: -1\npublic-key: ed25519/00",
    ] {
        assert!(
            matches!(RootPublicKey::from_text(bad), Err(KeyError::Format(_))),
            "{bad:?}"
        );
    }
    // A public key is not a private key.
    let pair = RootKeyPair::generate(KeyId(1));
    assert!(RootKeyPair::from_private_text(&pair.public().to_text()).is_err());
}

#[test]
fn verifier_picks_the_key_named_by_the_root_key_id() {
    let k1 = RootKeyPair::generate(KeyId(1));
    let k2 = RootKeyPair::generate(KeyId(2));
    let k3 = RootKeyPair::generate(KeyId(3));
    let keys = KeySet::new()
        .with(k1.public())
        .with(k2.public())
        .with(k3.public());
    assert_eq!(
        keys.ids().collect::<Vec<_>>(),
        [KeyId(1), KeyId(2), KeyId(3)]
    );
    let verifier = Verifier::new(keys).accept_bearer_tokens();
    for k in [&k1, &k2, &k3] {
        let token = Issuer::new(k.clone()).mint_at(grant(), now()).unwrap();
        assert_eq!(token.key_id(), Some(k.id()));
        assert_allowed(&verifier.verify(&token, &plain(PAY, "list"), now(), &NoRevocations));
    }

    // A key set where id 2 holds key 1's public key: a token from key 2 is refused
    // (the id picks the key; no other key is tried).
    let swapped = KeySet::new()
        .with(k1.public())
        .with(RootPublicKey::new(KeyId(2), *k1.public().key()));
    let token2 = Issuer::new(k2.clone()).mint_at(grant(), now()).unwrap();
    let v = Verifier::new(swapped).accept_bearer_tokens().verify(
        &token2,
        &plain(PAY, "list"),
        now(),
        &NoRevocations,
    );
    assert_denied(&v, ReasonKind::Signature, "signature");
}

#[test]
fn rotation_old_key_verifies_until_removed() {
    let k1 = RootKeyPair::generate(KeyId(1));
    let k2 = RootKeyPair::generate(KeyId(2));
    let old = Issuer::new(k1.clone()).mint_at(grant(), now()).unwrap();
    let new = Issuer::new(k2.clone()).mint_at(grant(), now()).unwrap();
    let child = old
        .attenuate(Attenuation::new().delegate("invoice-agent"))
        .unwrap();
    let req = plain(PAY, "list");

    let mut keys = KeySet::new().with(k1.public()).with(k2.public());
    let both = Verifier::new(keys.clone()).accept_bearer_tokens();
    for t in [&old, &new, &child] {
        assert_allowed(&both.verify(t, &req, now(), &NoRevocations));
    }

    assert!(keys.remove(KeyId(1)));
    assert!(!keys.remove(KeyId(1)));
    let only2 = Verifier::new(keys).accept_bearer_tokens();
    assert_allowed(&only2.verify(&new, &req, now(), &NoRevocations));
    for t in [&old, &child] {
        let v = only2.verify(t, &req, now(), &NoRevocations);
        let reasons = denied(&v);
        assert_eq!(reasons[0].kind, ReasonKind::UnknownKey, "{reasons:?}");
        assert!(
            reasons[0].message.contains("key id 1"),
            "{}",
            reasons[0].message
        );
        // The claims are still reported, marked unverified.
        match &v {
            Verdict::Denied(d) => {
                assert!(!d.signature_verified);
                assert_eq!(d.claims.as_ref().unwrap().key_id, Some(KeyId(1)));
            }
            Verdict::Allowed(_) => unreachable!(),
        }
    }
}

#[test]
fn empty_key_set_refuses_everything() {
    let f = fixture();
    let token = f.mint(grant());
    let v = Verifier::new(KeySet::new()).accept_bearer_tokens().verify(
        &token,
        &plain(PAY, "list"),
        now(),
        &NoRevocations,
    );
    assert_denied(&v, ReasonKind::UnknownKey, "key id 1");
}

#[test]
fn private_key_never_shows_in_debug() {
    let pair = RootKeyPair::generate(KeyId(1));
    let text = pair.to_private_text();
    let secret = text
        .lines()
        .find_map(|l| l.strip_prefix("private-key: ed25519-private/"))
        .unwrap();
    assert_eq!(secret.len(), 64);
    let debug = format!("{pair:?} {pair:#?}");
    assert!(!debug.contains(secret), "{debug}");
    assert!(!debug.to_lowercase().contains(&secret.to_lowercase()));
    let issuer = Issuer::new(pair);
    let debug = format!("{issuer:?}");
    assert!(!debug.contains(secret), "{debug}");
}
