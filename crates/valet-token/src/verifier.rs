//! The verifier: the signature chain, then every block's checks against one request,
//! with the holder checks and the cache of verified tokens.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::cache::{
    CacheUsage, DigestCache, CACHE_BYTES_PER_TOKEN_BYTE, CACHE_ENTRY_OVERHEAD, DEFAULT_CACHE_BYTES,
};
use crate::chain::VerifiedChain;
use crate::clock::unix_secs;
use crate::encoding::decode_base64url;
use crate::error::TokenError;
use crate::holder::{HolderOptions, HolderState};
use crate::keys::KeySet;
use crate::limits::Limits;
use crate::messages::describe;
use crate::proof::HolderProof;
use crate::replay::ReplayStore;
use crate::request::Request;
use crate::revocation::RevocationCheck;
use crate::shape::CheckKind;
use crate::token::{sha256, Token};
use crate::verdict::{Denial, Reason, ReasonKind, Verdict, VerifiedToken};

/// Checks tokens against the key set, with limits. Build once and share: it is `Send + Sync`.
///
/// A verifier requires proofs of possession: it refuses a token the issuer did not bind to
/// a holder key, and a bound token needs a fresh [`HolderProof`] by that key with each
/// request ([`verify_with_proof`](Self::verify_with_proof)). Bearer tokens are honoured only
/// by a verifier built with the explicit opt-in of [`danger`](crate::danger).
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: KeySet,
    limits: Limits,
    holder: HolderState,
    cache: Option<Arc<DigestCache<VerifiedChain>>>,
    reference_datalog: bool,
}

impl Verifier {
    /// A verifier trusting these keys, with default limits.
    pub fn new(keys: KeySet) -> Self {
        Verifier {
            keys,
            limits: Limits::default(),
            holder: HolderState::default(),
            cache: None,
            reference_datalog: false,
        }
    }

    /// Keeps up to `capacity` verified tokens (0: none), with their verified signature
    /// chains and prepared Datalog, keyed by the SHA-256 digest of the token bytes, and
    /// together at most [`DEFAULT_CACHE_BYTES`] (see
    /// [`with_cache_bytes`](Self::with_cache_bytes)). Only tokens whose signatures
    /// verified are kept, so forged tokens take no room. A repeat presentation of the same
    /// bytes then skips only what is a pure function of them: reading the token, checking
    /// its signatures and preparing its blocks' Datalog. Revocation, time, audience,
    /// holder proofs and every Datalog check are still evaluated on every call.
    #[must_use]
    pub fn with_cache(mut self, capacity: usize) -> Self {
        let bytes = self
            .cache
            .as_ref()
            .map_or(DEFAULT_CACHE_BYTES, |c| c.max_bytes());
        self.cache = (capacity > 0).then(|| Arc::new(DigestCache::new(capacity, bytes)));
        self
    }

    /// Bounds the memory the cache of verified tokens may take, estimated from each
    /// token's size ([`CACHE_BYTES_PER_TOKEN_BYTE`] per byte of token plus
    /// [`CACHE_ENTRY_OVERHEAD`]); the least recently inserted entries of a shard make way.
    /// Keeps the entry count set by [`with_cache`](Self::with_cache) (0 bytes turns the
    /// cache off).
    #[must_use]
    pub fn with_cache_bytes(mut self, max_bytes: usize) -> Self {
        let capacity = self.cache.as_ref().map_or(0, |c| c.capacity());
        self.cache = (capacity > 0 && max_bytes > 0)
            .then(|| Arc::new(DigestCache::new(capacity, max_bytes)));
        self
    }

    /// How many verified tokens the cache holds, and their estimated memory in bytes.
    pub fn cache_usage(&self) -> CacheUsage {
        self.cache
            .as_ref()
            .map_or_else(CacheUsage::default, |c| c.usage())
    }

    /// Replaces the limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The key set.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Sets how old (`max_age`) and how far ahead (`max_skew`) a proof's timestamp may be.
    #[must_use]
    pub fn proof_window(mut self, max_age: Duration, max_skew: Duration) -> Self {
        self.holder.options_mut().max_proof_age = max_age;
        self.holder.options_mut().max_proof_skew = max_skew;
        self
    }

    /// Records the nonces of accepted proofs of possession in `store` (default: a replay
    /// cache of this process, sized by the holder options). Give every replica of a
    /// resource server one shared store, so that a proof accepted by one is refused by
    /// the others.
    #[must_use]
    pub fn with_replay_store(mut self, store: Arc<dyn ReplayStore>) -> Self {
        self.holder.set_replay_store(store);
        self
    }

    /// Replaces every holder option (and starts a new, empty replay cache, unless a
    /// replay store was given with [`with_replay_store`](Self::with_replay_store)).
    /// Whether bearer tokens are honoured is not a holder option: it stays as it was.
    #[must_use]
    pub fn with_holder_options(mut self, options: HolderOptions) -> Self {
        let shared = self.holder.given_replay_store();
        self.holder = HolderState::new(options, self.holder.accepts_bearer());
        if let Some(store) = shared {
            self.holder.set_replay_store(store);
        }
        self
    }

    /// Whether this verifier honours bearer tokens (tokens the issuer bound to no holder
    /// key): false unless it was built with
    /// [`accept_bearer_tokens`](crate::danger::DangerousVerifier::accept_bearer_tokens).
    pub fn accepts_bearer_tokens(&self) -> bool {
        self.holder.accepts_bearer()
    }

    /// Honours bearer tokens: the `danger` opt-in.
    pub(crate) fn accepting_bearer_tokens(mut self) -> Self {
        self.holder.accept_bearer();
        self
    }

    /// Runs the blocks' checks with Biscuit's own authorizer: the `danger` opt-in.
    pub(crate) fn running_reference_datalog(mut self) -> Self {
        self.reference_datalog = true;
        self
    }

    /// The holder options in force.
    pub fn holder_options(&self) -> &HolderOptions {
        self.holder.options()
    }

    /// Verifies token bytes (binary form).
    pub fn verify_bytes(
        &self,
        bytes: &[u8],
        request: &Request,
        now: SystemTime,
        revoked: &dyn RevocationCheck,
    ) -> Verdict {
        if let Some(reason) = self.too_large(bytes.len()) {
            return Verdict::deny(reason, None);
        }
        match Token::from_bytes(bytes) {
            Ok(token) => self.verify(&token, request, now, revoked),
            Err(e) => Verdict::deny(Reason::new(ReasonKind::Format, e.to_string()), None),
        }
    }

    /// Reads a token from its binary form, as [`Token::from_bytes`] does. With the cache on
    /// (see [`with_cache`](Self::with_cache)), a token read before is shared rather than
    /// parsed again: reading is a pure function of the bytes, and nothing read is trusted
    /// before [`verify`](Self::verify) checks it. Bytes over the size limit are refused
    /// unread.
    pub fn read_token(&self, bytes: &[u8]) -> Result<Arc<Token>, TokenError> {
        if let Some(error) = self.too_large_error(bytes.len()) {
            return Err(error);
        }
        let Some(cache) = &self.cache else {
            return Token::from_bytes(bytes).map(Arc::new);
        };
        let digest = sha256(bytes);
        if let Some(hit) = cache.get(&digest) {
            return Ok(Arc::clone(&hit.token));
        }
        // Not cached here: only a token whose signatures verify is (see `verified_chain`).
        Token::from_bytes_with_digest(bytes, digest).map(Arc::new)
    }

    /// Reads a token from base64url text, as [`Token::from_base64`] does, sharing a token
    /// read before as [`read_token`](Self::read_token) does.
    pub fn read_token_base64(&self, text: &str) -> Result<Arc<Token>, TokenError> {
        self.read_token(&decode_base64url(text.trim())?)
    }

    /// Verifies a token for one request at time `now`, with no proof of possession: a
    /// deny unless the verifier accepts bearer tokens and the token is one (a bound token
    /// needs [`verify_with_proof`](Self::verify_with_proof)).
    pub fn verify(
        &self,
        token: &Token,
        request: &Request,
        now: SystemTime,
        revoked: &dyn RevocationCheck,
    ) -> Verdict {
        self.verify_with_proof(token, request, None, now, revoked)
    }

    /// Verifies a token for one request at time `now`, with the holder's proof of
    /// possession when one was sent. A presented proof is always checked, and its nonce is
    /// consumed when the token's checks allow the request (a proof is single-use).
    pub fn verify_with_proof(
        &self,
        token: &Token,
        request: &Request,
        proof: Option<&HolderProof>,
        now: SystemTime,
        revoked: &dyn RevocationCheck,
    ) -> Verdict {
        if let Some(reason) = self.limit_refusal(token) {
            return Verdict::deny(reason, None);
        }
        // Refusals that need no signature: a deny never needs one, an allow always does.
        // Decided before the claims are computed, which only the reasons' readers need.
        if let Some(reason) = claim_refusal(token, request, now, revoked, &self.limits) {
            return Verdict::deny(reason, token.unverified_claims().ok());
        }
        let mut claims = match token.unverified_claims() {
            Ok(c) => c,
            Err(e) => return Verdict::deny(Reason::new(ReasonKind::Format, e.to_string()), None),
        };
        let Some(key_id) = token.key_id() else {
            return Verdict::deny(
                Reason::new(
                    ReasonKind::UnknownKey,
                    "the token names no key id: mint tokens with a key id from the key set",
                ),
                Some(claims),
            );
        };
        let Some(key) = self.keys.get(key_id) else {
            return Verdict::deny(
                Reason::new(
                    ReasonKind::UnknownKey,
                    TokenError::UnknownKey(key_id).to_string(),
                ),
                Some(claims),
            );
        };
        let Some(chain) = self.verified_chain(token, key, self.keys.ed25519(key_id)) else {
            return Verdict::deny(
                Reason::new(ReasonKind::Signature, TokenError::Signature.to_string()),
                Some(claims),
            );
        };
        let found = match self
            .holder
            .check(&chain.signers, token, request, proof, now, &mut claims)
        {
            Ok(h) => h,
            Err(reason) => {
                return Verdict::Denied(Denial {
                    reasons: vec![reason],
                    claims: Some(claims),
                    signature_verified: true,
                    proof_verified: false,
                })
            }
        };
        let proof_verified = found.proof.is_some();
        let checked = chain
            .check(
                token,
                request,
                now,
                &found.proven,
                &self.limits,
                self.reference_datalog,
            )
            .and_then(|()| match &found.proof {
                // The nonce is consumed only for a request the token's checks allow, so
                // proofs that fail them take no room in the replay cache.
                Some(p) => self.holder.admit(p, now).map_err(|r| vec![r]),
                None => Ok(()),
            });
        match checked {
            Ok(()) => Verdict::Allowed(VerifiedToken::new(claims)),
            Err(reasons) => Verdict::Denied(Denial {
                reasons,
                claims: Some(claims),
                signature_verified: true,
                proof_verified,
            }),
        }
    }

    /// The refusal this token gets whatever the signatures say, decided from what the token
    /// states alone: too large, too many blocks, a revoked block, expired or not yet valid
    /// at `now`, or not for the request's audience. `None` means nothing refuses it early,
    /// never that it is allowed: [`verify_with_proof`](Self::verify_with_proof) decides that
    /// (and makes the same early checks first).
    pub fn early_refusal(
        &self,
        token: &Token,
        request: &Request,
        now: SystemTime,
        revoked: &dyn RevocationCheck,
    ) -> Option<Reason> {
        self.limit_refusal(token)
            .or_else(|| claim_refusal(token, request, now, revoked, &self.limits))
    }

    /// The error of bytes over the size limit.
    fn too_large_error(&self, len: usize) -> Option<TokenError> {
        (len > self.limits.max_token_bytes).then_some(TokenError::TooLarge {
            size: len,
            max: self.limits.max_token_bytes,
        })
    }

    /// The refusal of bytes over the size limit.
    fn too_large(&self, len: usize) -> Option<Reason> {
        self.too_large_error(len)
            .map(|e| Reason::new(ReasonKind::TooLarge, e.to_string()))
    }

    /// The refusal of a token over the size or block-count limit.
    fn limit_refusal(&self, token: &Token) -> Option<Reason> {
        self.too_large(token.raw_bytes().len()).or_else(|| {
            (token.block_count() > self.limits.max_blocks).then(|| {
                Reason::new(
                    ReasonKind::TooLarge,
                    format!(
                        "the token has {} blocks, more than the limit of {}",
                        token.block_count(),
                        self.limits.max_blocks
                    ),
                )
            })
        })
    }

    /// The verified chain of these bytes: from the cache, else parsed and checked (and
    /// cached when the signatures verify). `None` when a signature does not verify.
    fn verified_chain(
        &self,
        token: &Token,
        key: &biscuit_auth::PublicKey,
        decoded: Option<&ed25519_dalek::VerifyingKey>,
    ) -> Option<Arc<VerifiedChain>> {
        if let Some(cache) = &self.cache {
            if let Some(hit) = cache.get(token.digest()) {
                // The same bytes verify under one root key only; a hit under another key
                // (a key set that changed) is checked again.
                if hit.root_key == *key {
                    return Some(hit);
                }
            }
        }
        let chain = Arc::new(VerifiedChain::verify(token, key, decoded)?);
        let token_bytes = token.raw_bytes().len();
        if let Some(cache) = &self.cache {
            let weight = token_bytes
                .saturating_mul(CACHE_BYTES_PER_TOKEN_BYTE)
                .saturating_add(CACHE_ENTRY_OVERHEAD);
            cache.insert(*token.digest(), Arc::clone(&chain), weight);
        }
        Some(chain)
    }
}

/// Refusals decided from the verifier's clock and the token's claims alone, before any
/// signature is checked.
fn claim_refusal(
    token: &Token,
    request: &Request,
    now: SystemTime,
    revoked: &dyn RevocationCheck,
    limits: &Limits,
) -> Option<Reason> {
    if now < std::time::UNIX_EPOCH {
        return Some(Reason::new(
            ReasonKind::Internal,
            "the verifier's clock reads before 1970: fix the clock",
        ));
    }
    // A clock far behind the truth would honour every token until long after it expired.
    // The expiry the issuer signed: a block anyone can append may lower the token's, and
    // must not bring a long-lived token, or one seen by a clock far behind, under the bound.
    let expires_at = token
        .specs
        .first()
        .and_then(|s| s.exp)
        .unwrap_or(token.claims_ref().expires_at);
    let remaining = expires_at.saturating_sub(unix_secs(now));
    if remaining > limits.max_remaining_lifetime.as_secs() {
        return Some(Reason::new(
            ReasonKind::NotYetValid,
            format!(
                "the token expires at {}, more than {} s after this verifier's clock ({}): the clock is wrong, or the token lives longer than this verifier accepts (Limits::max_remaining_lifetime)",
                crate::clock::rfc3339(expires_at),
                limits.max_remaining_lifetime.as_secs(),
                crate::clock::rfc3339(unix_secs(now)),
            ),
        ));
    }
    // The token's Datalog reads a request without details as one of type "".
    if request
        .details
        .as_ref()
        .is_some_and(|d| d.kind().is_empty())
    {
        return Some(Reason::new(
            ReasonKind::Limit,
            "the request's transaction details have an empty `type`: name the type of transaction",
        ));
    }
    fast_refusal(token, request, now, revoked)
}

/// Refusals decided from the claims alone, before any signature is checked.
fn fast_refusal(
    token: &Token,
    request: &Request,
    now: SystemTime,
    revoked: &dyn RevocationCheck,
) -> Option<Reason> {
    if let Some((i, id)) = token
        .revocation_ids()
        .iter()
        .enumerate()
        .find(|(_, id)| revoked.is_revoked(id))
    {
        let mut r = Reason::new(
            ReasonKind::Revoked,
            format!("block {i} of the token is revoked (revocation id {id})"),
        );
        r.block = Some(i);
        return Some(r);
    }
    let t = unix_secs(now);
    for (i, spec) in token.specs.iter().enumerate() {
        // The same kinds, in the same order, as the first checks of `check_kinds`, looked
        // at without building the list: nothing is allocated unless the token is refused.
        let kind = if spec.exp.is_some_and(|exp| t > exp) {
            spec.exp.map(CheckKind::Expiry)
        } else if spec.nbf.is_some_and(|nbf| t < nbf) {
            spec.nbf.map(CheckKind::NotBefore)
        } else {
            spec.aud
                .as_ref()
                .filter(|aud| !aud.contains(&request.audience))
                .map(|aud| CheckKind::Audience(aud.clone()))
        };
        if let Some(kind) = kind {
            return Some(describe(&kind, i, spec, request, now));
        }
    }
    None
}
