//! The Ed25519 keys of agents (token holders) and approvers: the public [`VerifyingKey`]
//! that tokens bind and proofs name, and the private [`SigningKey`] that signs proofs of
//! possession, delegations and approvals.
//!
//! # Signing key text format
//!
//! ```text
//! # valet signing key (agent or approver): keep this file secret
//! private-key: ed25519-private/<64 hex digits>
//! ```
//!
//! and its public half:
//!
//! ```text
//! # valet verifying key (agent or approver)
//! public-key: ed25519/<64 hex digits>
//! ```
//!
//! A `key-id:` line, as root key files carry, is accepted and ignored.

use std::fmt;
use std::path::Path;

use biscuit_auth::{PrivateKey, PublicKey};
use ed25519_dalek::Signer;
use serde::{Deserialize, Serialize};

use crate::encoding::hex;
use crate::error::TokenError;
use crate::keys::KeyError;
use crate::keys::{parse_fields, read_key_file, write_file};

/// An Ed25519 public key of an agent (a token holder) or of an approver, written
/// `ed25519/<64 hex digits>`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VerifyingKey([u8; 32]);

impl VerifyingKey {
    /// Reads `ed25519/<64 hex digits>`.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let bad = || {
            KeyError::Format(format!(
                "`{}` is not an Ed25519 public key: expected `ed25519/` followed by 64 hex digits",
                text.escape_debug()
            ))
        };
        let hex_part = text.trim().strip_prefix("ed25519/").ok_or_else(bad)?;
        let key = PublicKey::from_bytes_hex(hex_part, biscuit_auth::Algorithm::Ed25519)
            .map_err(|_| bad())?;
        Self::from_biscuit(&key).ok_or_else(bad)
    }

    /// The key of a Biscuit public key, `None` unless it is an Ed25519 key.
    pub(crate) fn from_biscuit(key: &PublicKey) -> Option<Self> {
        match key.algorithm() {
            biscuit_auth::format::schema::public_key::Algorithm::Ed25519 => {
                key.to_bytes().try_into().ok().map(VerifyingKey)
            }
            _ => None,
        }
    }

    /// The key named by 32 bytes, whether or not they are a point of the curve (no proof
    /// by a key that is not can verify).
    pub(crate) fn from_raw(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(VerifyingKey)
    }

    /// The key of a decompressed Ed25519 key.
    pub(crate) fn from_dalek(key: &ed25519_dalek::VerifyingKey) -> Self {
        VerifyingKey(key.to_bytes())
    }

    /// The raw 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
            return false;
        };
        ed25519_dalek::VerifyingKey::from_bytes(&self.0)
            .is_ok_and(|k| k.verify_strict(message, &signature).is_ok())
    }

    /// The public key file text.
    pub fn to_text(&self) -> String {
        format!("# valet verifying key (agent or approver)\npublic-key: {self}\n")
    }

    /// Reads the public key file text (a root public key file works too).
    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        Self::parse(parse_fields(text)?.get("public-key")?)
    }

    /// Reads a public key file.
    pub fn read_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        read_key_file(path.as_ref(), Self::from_text)
    }

    /// Writes the public key file.
    pub fn write_file(&self, path: impl AsRef<Path>, force: bool) -> Result<(), KeyError> {
        write_file(path.as_ref(), self.to_text().as_bytes(), force, false)
    }
}

impl fmt::Display for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ed25519/{}", hex(&self.0))
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({self})")
    }
}

impl std::str::FromStr for VerifyingKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for VerifyingKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VerifyingKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        VerifyingKey::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// An agent's or an approver's Ed25519 key pair: it signs proofs of possession, delegation
/// blocks and approvals. Its `Debug` output never shows the private key; its memory is
/// cleared when dropped.
#[derive(Clone)]
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public().to_string())
            .field("private", &"<redacted>")
            .finish()
    }
}

impl SigningKey {
    /// A new random key pair, from the operating system's generator.
    ///
    /// # Panics
    ///
    /// If the operating system's generator fails, as [`rand_core::OsRng`] does: no key can
    /// be made without it.
    pub fn generate() -> Self {
        SigningKey {
            key: ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng),
        }
    }

    /// The public half.
    pub fn public(&self) -> VerifyingKey {
        VerifyingKey(self.key.verifying_key().to_bytes())
    }

    /// The private key as Biscuit takes it, to sign third-party blocks.
    pub(crate) fn private(&self) -> Result<PrivateKey, TokenError> {
        PrivateKey::from_bytes(&self.key.to_bytes(), biscuit_auth::Algorithm::Ed25519)
            .map_err(|e| TokenError::Format(format!("the signing key cannot sign a block: {e}")))
    }

    /// Signs `message` (Ed25519); 64 bytes.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).to_bytes().to_vec()
    }

    /// The private key file text. Treat the result as a secret.
    pub fn to_private_text(&self) -> String {
        format!(
            "# valet signing key (agent or approver): keep this file secret\nprivate-key: ed25519-private/{}\n",
            hex(&self.key.to_bytes())
        )
    }

    /// Reads the private key file text (a root private key file works too).
    pub fn from_private_text(text: &str) -> Result<Self, KeyError> {
        let private = parse_fields(text)?.ed25519_private()?;
        let seed: [u8; 32] = private.to_bytes().as_slice().try_into().map_err(|_| {
            KeyError::Format("`private-key` is not a 32-byte Ed25519 private key".into())
        })?;
        Ok(SigningKey {
            key: ed25519_dalek::SigningKey::from_bytes(&seed),
        })
    }

    /// Reads a private key file, refusing one that other users can read.
    pub fn read_file(path: impl AsRef<Path>) -> Result<Self, KeyError> {
        crate::keys::read_private_file(path.as_ref(), Self::from_private_text)
    }

    /// Writes the private key file with mode `0600`.
    pub fn write_private_file(&self, path: impl AsRef<Path>, force: bool) -> Result<(), KeyError> {
        write_file(
            path.as_ref(),
            self.to_private_text().as_bytes(),
            force,
            true,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifying_key_text_round_trip() {
        let k = SigningKey::generate();
        let p = k.public();
        assert_eq!(VerifyingKey::parse(&p.to_string()).unwrap(), p);
        assert_eq!(VerifyingKey::from_text(&p.to_text()).unwrap(), p);
        let back = SigningKey::from_private_text(&k.to_private_text()).unwrap();
        assert_eq!(back.public(), p);
        assert!(VerifyingKey::parse("ed25519/00").is_err());
        assert!(!format!("{k:?}").contains(&k.private().unwrap().to_bytes_hex()));
    }

    #[test]
    fn the_private_text_is_biscuits_prefixed_form() {
        let k = SigningKey::generate();
        let biscuit = k.private().unwrap().to_prefixed_string();
        assert!(k
            .to_private_text()
            .contains(&format!("private-key: {biscuit}\n")));
    }

    #[test]
    fn signatures_are_biscuits_ed25519_signatures() {
        let k = SigningKey::generate();
        let pair = biscuit_auth::KeyPair::from(&k.private().unwrap());
        let ours = k.sign(b"message");
        assert_eq!(ours, pair.sign(b"message").unwrap().to_bytes().to_vec());
        assert!(k.public().verify(b"message", &ours));
        assert_eq!(VerifyingKey::from_biscuit(&pair.public()), Some(k.public()));
    }
}
