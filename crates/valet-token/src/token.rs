//! Tokens as presented: reading one, its unverified claims, and attenuating it offline
//! (with or without a holder's signature).

use std::collections::BTreeSet;

use biscuit_auth::format::schema;
use biscuit_auth::UnverifiedBiscuit;
use prost::Message;

use crate::agent_keys::SigningKey;
use crate::attenuation::Attenuation;
use crate::block::BlockSpec;
use crate::claims::Claims;
use crate::datalog::block_builder;
use crate::encoding::{decode_base64url, encode_base64url};
use crate::error::TokenError;
use crate::keys::KeyId;
use crate::read::{decode_blocks, read_spec, DecodedBlock};
use crate::revocation::RevocationId;
use crate::scope::Scope;

/// The SHA-256 digest of `bytes`.
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).into()
}

/// A token as presented: decoded once, its signatures not yet checked. Reading its claims
/// and attenuating it need no key; only a `Verifier` turns it into a
/// [`VerifiedToken`](crate::verdict::VerifiedToken).
#[derive(Clone)]
pub struct Token {
    // Shared, so that a clone (the cache keeps one) copies no block.
    bytes: std::sync::Arc<[u8]>,
    pub(crate) specs: std::sync::Arc<[BlockSpec]>,
    pub(crate) key_id: Option<KeyId>,
    pub(crate) revocation_ids: std::sync::Arc<[RevocationId]>,
    /// The claims as the blocks state them (unverified), computed once when read.
    claims: std::sync::Arc<Claims>,
    /// The SHA-256 digest of the bytes, computed when first needed (cache keys).
    digest: std::sync::OnceLock<[u8; 32]>,
    /// The envelope as decoded: what the signatures cover.
    pub(crate) envelope: std::sync::Arc<schema::Biscuit>,
    /// Every block's Datalog as decoded, for the verifier.
    pub(crate) blocks: std::sync::Arc<Vec<DecodedBlock>>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token itself: whoever holds it can use it.
        f.debug_struct("Token")
            .field("key_id", &self.key_id)
            .field("blocks", &self.specs.len())
            .finish_non_exhaustive()
    }
}

impl Token {
    /// Reads a token from its binary form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TokenError> {
        let envelope = schema::Biscuit::decode(bytes)
            .map_err(|e| TokenError::Format(format!("the bytes are not a Biscuit token ({e})")))?;
        let key_id = envelope.root_key_id.map(KeyId);
        let blocks = decode_blocks(&envelope)?;
        let mut specs = Vec::with_capacity(blocks.len());
        let mut revocation_ids = Vec::with_capacity(blocks.len());
        for (i, (signed, block)) in std::iter::once(&envelope.authority)
            .chain(envelope.blocks.iter())
            .zip(&blocks)
            .enumerate()
        {
            let mut spec = read_spec(block, i)?;
            spec.signer = block.signer;
            specs.push(spec);
            revocation_ids.push(RevocationId(signed.signature.clone()));
        }
        // The claims must make sense before anyone acts on the token.
        let claims = Claims::from_specs(&specs, key_id, revocation_ids.clone())?;
        Ok(Token {
            bytes: bytes.into(),
            specs: specs.into(),
            key_id,
            revocation_ids: revocation_ids.into(),
            claims: std::sync::Arc::new(claims),
            digest: std::sync::OnceLock::new(),
            envelope: std::sync::Arc::new(envelope),
            blocks: std::sync::Arc::new(blocks),
        })
    }

    /// The SHA-256 digest of the token bytes.
    pub(crate) fn digest(&self) -> &[u8; 32] {
        self.digest.get_or_init(|| sha256(&self.bytes))
    }

    /// Reads a token whose bytes' digest is already known.
    pub(crate) fn from_bytes_with_digest(
        bytes: &[u8],
        digest: [u8; 32],
    ) -> Result<Self, TokenError> {
        let token = Self::from_bytes(bytes)?;
        let _ = token.digest.set(digest);
        Ok(token)
    }

    /// Reads a token from base64url text (padding and surrounding whitespace accepted).
    pub fn from_base64(text: &str) -> Result<Self, TokenError> {
        Self::from_bytes(&decode_base64url(text.trim())?)
    }

    /// The binary form.
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The base64url text form (Biscuit's usual text form).
    pub fn to_base64(&self) -> String {
        encode_base64url(&self.bytes)
    }

    /// The id of the key that signed the root block, if named.
    pub fn key_id(&self) -> Option<KeyId> {
        self.key_id
    }

    /// Number of blocks, the authority block included.
    pub fn block_count(&self) -> usize {
        self.specs.len()
    }

    /// Every block's revocation id, authority first.
    pub fn revocation_ids(&self) -> &[RevocationId] {
        &self.revocation_ids
    }

    /// The claims as the token states them. Unverified: use them to display or to decide
    /// how to attenuate, never to authorize.
    pub fn unverified_claims(&self) -> Result<Claims, TokenError> {
        Ok(Claims::clone(&self.claims))
    }

    /// The unverified claims, shared rather than copied (the same as
    /// [`unverified_claims`](Self::unverified_claims)).
    pub fn shared_claims(&self) -> std::sync::Arc<Claims> {
        std::sync::Arc::clone(&self.claims)
    }

    /// The unverified claims, borrowed.
    pub(crate) fn claims_ref(&self) -> &Claims {
        &self.claims
    }

    /// The scopes the token grants after every block's narrowing, as
    /// [`unverified_claims`](Self::unverified_claims) states them, without computing the
    /// other claims. Unverified.
    pub fn unverified_scopes(&self) -> &BTreeSet<Scope> {
        &self.claims.scopes
    }

    /// Appends a block that narrows this token, without any key. Refuses a widening.
    pub fn attenuate(&self, attenuation: Attenuation) -> Result<Token, TokenError> {
        let claims = self.claims_ref();
        let spec = attenuation.into_spec(claims)?;
        let builder = block_builder(&spec, self.specs.len())?;
        let unverified =
            UnverifiedBiscuit::from(&self.bytes).map_err(|e| TokenError::Format(e.to_string()))?;
        let appended = unverified
            .append(builder)
            .map_err(|e| TokenError::Format(e.to_string()))?;
        let bytes = appended
            .to_vec()
            .map_err(|e| TokenError::Format(e.to_string()))?;
        Token::from_bytes(&bytes)
    }

    pub(crate) fn raw_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Token {
    /// Appends a narrowing signed by `key`, the current holder's key (a Biscuit
    /// third-party block): the chain of custody then shows, verified, that this key
    /// delegated. With [`Attenuation::holder`] it hands a bound
    /// token to a sub-agent's key. Refuses a widening, and a signature by a key other than
    /// the current holder's when the token is bound.
    pub fn attenuate_signed(
        &self,
        attenuation: Attenuation,
        key: &SigningKey,
    ) -> Result<Token, TokenError> {
        let claims = self.unverified_claims()?;
        let signer = key.public();
        if let Some(holder) = &claims.holder {
            if *holder != signer {
                return Err(TokenError::Invalid(format!(
                    "the token is bound to {holder}: sign the delegation with that key, not {signer}"
                )));
            }
        }
        let spec = attenuation.into_spec(&claims)?;
        let builder = crate::datalog::block_builder(&spec, self.specs.len())?;
        let format = |e: biscuit_auth::error::Token| TokenError::Format(e.to_string());
        let unverified = biscuit_auth::UnverifiedBiscuit::from(self.to_bytes()).map_err(format)?;
        let private = key.private()?;
        let block = unverified
            .third_party_request()
            .and_then(|r| r.create_block(&private, builder))
            .and_then(|b| b.serialize())
            .map_err(format)?;
        let bytes = unverified
            .append_third_party(&block)
            .and_then(|t| t.to_vec())
            .map_err(format)?;
        Token::from_bytes(&bytes)
    }
}
