//! The holder's proof of possession: its signing input, the digests it signs (of the
//! token and of the transaction) and its JSON form.

use std::fmt;
use std::time::SystemTime;

use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::agent_keys::{SigningKey, VerifyingKey};
use crate::clock::unix_secs;
use crate::details::TransactionDetails;
use crate::encoding::{encode_base64url, hex};
use crate::error::TokenError;
use crate::request::Request;
use crate::token::Token;

/// The prefix of every proof-of-possession signing input.
pub const PROOF_CONTEXT: &str = "valet-proof/v1";

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The digest of a transaction as proofs and approvals sign it: the lowercase hex SHA-256
/// of its canonical JSON (compact, `type` first, then the fields sorted by name, as
/// `serde_json` writes them, see [`TransactionDetails::canonical_json`]), or of the empty
/// string when the request has no details.
pub fn details_digest(details: Option<&TransactionDetails>) -> String {
    match details {
        Some(d) => sha256_hex(d.canonical_json().as_bytes()),
        None => sha256_hex(b""),
    }
}

/// The digest of a token as proofs sign it: the lowercase hex SHA-256 of its binary form
/// (as DPoP's `ath` binds a proof to one access token).
pub fn token_digest(token: &Token) -> String {
    hex(token.digest())
}

/// Sixteen random bytes from the operating system's generator, base64url.
pub(crate) fn random_nonce() -> Result<String, TokenError> {
    let mut bytes = [0u8; 16];
    rand_core::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(encode_base64url(&bytes))
}

/// A proof of possession: the holder's signature over one request to one audience with one
/// token, at one time, with a single-use nonce (in the spirit of DPoP, RFC 9449).
///
/// JSON: `{"key": "ed25519/<hex>", "timestamp": <unix seconds>, "nonce": "<base64url>",
/// "signature": "<base64url of 64 bytes>"}`. The signed input is [`HolderProof::signing_input`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolderProof {
    /// The holder's public key.
    pub key: VerifyingKey,
    /// When it was signed, Unix seconds.
    pub timestamp: u64,
    /// A single-use value: 16 to 128 base64url characters.
    pub nonce: String,
    /// The Ed25519 signature of the signing input.
    #[serde(with = "crate::encoding::b64")]
    pub signature: Vec<u8>,
}

impl fmt::Debug for HolderProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HolderProof")
            .field("key", &self.key)
            .field("timestamp", &self.timestamp)
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

/// Whether a nonce is 16 to 128 base64url characters.
pub(crate) fn valid_nonce(nonce: &str) -> bool {
    (16..=128).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl HolderProof {
    /// Signs a proof for presenting `token` with `request`, now, with a random nonce.
    pub fn sign(
        key: &SigningKey,
        token: &Token,
        request: &Request,
        now: SystemTime,
    ) -> Result<Self, TokenError> {
        Self::sign_with_nonce(key, token, request, now, random_nonce()?)
    }

    /// Signs a proof with a given nonce (16 to 128 base64url characters, never reused).
    pub fn sign_with_nonce(
        key: &SigningKey,
        token: &Token,
        request: &Request,
        now: SystemTime,
        nonce: impl Into<String>,
    ) -> Result<Self, TokenError> {
        let nonce = nonce.into();
        if !valid_nonce(&nonce) {
            return Err(TokenError::Invalid(
                "a proof nonce must be 16 to 128 base64url characters".into(),
            ));
        }
        if request.action.contains(['\n', '\r']) {
            return Err(TokenError::Invalid(
                "the request's action contains a line break".into(),
            ));
        }
        let timestamp = unix_secs(now);
        let input = Self::signing_input(token, request, timestamp, &nonce);
        let signature = key.sign(&input);
        Ok(HolderProof {
            key: key.public(),
            timestamp,
            nonce,
            signature,
        })
    }

    /// The bytes a proof signs, lines joined by `\n` (no final newline):
    /// `valet-proof/v1`, the audience, the action, [`details_digest`], [`token_digest`],
    /// the timestamp (decimal Unix seconds), the nonce.
    pub fn signing_input(token: &Token, request: &Request, timestamp: u64, nonce: &str) -> Vec<u8> {
        format!(
            "{PROOF_CONTEXT}\n{}\n{}\n{}\n{}\n{timestamp}\n{nonce}",
            request.audience,
            request.action,
            details_digest(request.details.as_ref()),
            token_digest(token),
        )
        .into_bytes()
    }

    /// The JSON form.
    pub fn to_json(&self) -> Result<String, TokenError> {
        serde_json::to_string(self).map_err(|e| TokenError::Json {
            what: "proof of possession",
            reason: e.to_string(),
        })
    }

    /// Reads the JSON form.
    pub fn from_json(text: &str) -> Result<Self, TokenError> {
        serde_json::from_str(text)
            .map_err(|e| TokenError::Invalid(format!("not a valet proof of possession: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_random_and_valid() {
        let a = random_nonce().unwrap();
        assert!(valid_nonce(&a), "{a}");
        assert_eq!(a.len(), 22);
        assert_ne!(a, random_nonce().unwrap());
    }
}
