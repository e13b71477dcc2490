//! Verification: the signature chain, then every block's checks against one request.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use biscuit_auth::builder::{self as bb, Fact};
use biscuit_auth::datalog::{self as dl, SymbolTable};
use biscuit_auth::error::{FailedCheck, Logic, RunLimit, Token as BiscuitError};
use biscuit_auth::{AuthorizerBuilder, AuthorizerLimits, UnverifiedBiscuit};
use serde::Serialize;

use crate::agent_keys::VerifyingKey;
use crate::datalog::{check_kinds, CheckKind};
use crate::details::{FieldValue, TransactionDetails, DEFAULT_MAX_DETAIL_FIELDS};
use crate::engine::{PrepareError, Prepared, Refusal};
use crate::error::{RequestError, TokenError};
use crate::keys::KeySet;
use crate::model::{rfc3339, unix_secs, Audience, BlockSpec, Claims, Limit, RevocationId, Scope};
use crate::token::Token;

/// Limits applied to every verification. Each has a documented default.
///
/// Together they bound what any token within the size limits can cost: with the defaults,
/// the worst tokens found (see `tests/worst_case.rs` and the `slow_token` fuzz target) are
/// decided in about 4 ms in a release build on a 2-core machine. Besides these, two rules
/// hold in every block whatever the limits, since a chain is prepared once for all
/// requests: a check may not use a regular expression (`.matches`, whose compilation
/// alone costs tens of milliseconds for a short pattern) nor a closure (`.all`, `.any`),
/// and one alternative of a check (a query) takes at most 256 expression operations.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest token accepted, in bytes (default 16 KiB).
    pub max_token_bytes: usize,
    /// Most blocks in a token, authority included (default 16).
    pub max_blocks: usize,
    /// Most Datalog facts per decision (default 1000).
    pub max_facts: u64,
    /// Most Datalog iterations per decision (default 100).
    pub max_iterations: u64,
    /// Most Datalog time per decision (default 100 ms: a backstop, as the counts below
    /// already bound the work; a decision takes tens of microseconds in a release build).
    /// The clock is looked at for every combination a check tries.
    pub max_datalog_time: Duration,
    /// Most fact combinations one check may try (default 10 000), counted before it runs
    /// from how many facts each of its predicates can match.
    pub max_check_combinations: u64,
    /// Most units of work all of a token's checks may cost for one request (default
    /// 1 000 000, some 4 ms in release at the worst). Counted before any check runs:
    /// every fact scanned for each partial combination of a query's predicates, every
    /// combination bound, and each expression operation per combination, an operation on
    /// strings or collections weighted by the longest string (per 16 bytes) or largest
    /// collection it can reach, one that interns a string (`+`, `.type()`) by the size of
    /// the symbol table too. A request over the budget is refused before anything runs.
    pub max_datalog_cost: u64,
    /// Largest request JSON, in bytes (default 64 KiB).
    pub max_request_bytes: usize,
    /// Deepest request JSON nesting (default 8).
    pub max_request_depth: usize,
    /// Most fields in one transaction (default 32).
    pub max_detail_fields: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_token_bytes: 16 * 1024,
            max_blocks: 16,
            max_facts: 1000,
            max_iterations: 100,
            max_datalog_time: Duration::from_millis(100),
            max_check_combinations: 10_000,
            max_datalog_cost: 1_000_000,
            max_request_bytes: 64 * 1024,
            max_request_depth: 8,
            max_detail_fields: DEFAULT_MAX_DETAIL_FIELDS,
        }
    }
}

/// What is being attempted: where, which operation, with which transaction details.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Request {
    /// The resource server where the token is presented (this server's own URI).
    pub audience: Audience,
    /// The tool or operation name.
    pub action: String,
    /// The transaction, as one RFC 9396 object.
    #[serde(
        rename = "authorization_details",
        skip_serializing_if = "Option::is_none"
    )]
    pub details: Option<TransactionDetails>,
    /// Scopes the operation needs; every one must be granted by every block.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<Scope>,
}

impl Request {
    /// A request for `action` at `audience`, with no details and no required scope.
    pub fn new(audience: Audience, action: impl Into<String>) -> Self {
        Request {
            audience,
            action: action.into(),
            details: None,
            scopes: Vec::new(),
        }
    }

    /// Adds the transaction details.
    #[must_use]
    pub fn details(mut self, details: TransactionDetails) -> Self {
        self.details = Some(details);
        self
    }

    /// Adds a scope the operation needs.
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scopes.push(scope);
        self
    }

    /// Reads `{"audience": URI, "action": NAME, "authorization_details": {...}, "scopes": [...]}`
    /// (details and scopes optional), within the size, depth and field limits.
    pub fn from_json(text: &str, limits: &Limits) -> Result<Self, RequestError> {
        if text.len() > limits.max_request_bytes {
            return Err(RequestError::TooLarge {
                size: text.len(),
                max: limits.max_request_bytes,
            });
        }
        if json_depth(text) > limits.max_request_depth {
            return Err(RequestError::TooDeep {
                max: limits.max_request_depth,
            });
        }
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| RequestError::Json(e.to_string()))?;
        Self::from_json_value(&v, limits)
    }

    /// Reads a request from an already parsed JSON value.
    pub fn from_json_value(v: &serde_json::Value, limits: &Limits) -> Result<Self, RequestError> {
        let obj = v
            .as_object()
            .ok_or_else(|| RequestError::Invalid("the request must be a JSON object".into()))?;
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "audience" | "action" | "authorization_details" | "scopes"
            ) {
                return Err(RequestError::Invalid(format!(
                    "unknown request member `{key}`: expected `audience`, `action`, `authorization_details` or `scopes`"
                )));
            }
        }
        let text = |name: &str| -> Result<String, RequestError> {
            match obj.get(name) {
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(RequestError::Invalid(format!(
                    "request member `{name}` must be a string, found {}",
                    crate::details::json_kind(other)
                ))),
                None => Err(RequestError::Invalid(format!(
                    "the request has no `{name}`"
                ))),
            }
        };
        let audience =
            Audience::parse(text("audience")?).map_err(|e| RequestError::Invalid(e.to_string()))?;
        let action = text("action")?;
        if action.is_empty() {
            return Err(RequestError::Invalid(
                "the request's `action` is empty".into(),
            ));
        }
        let details = match obj.get("authorization_details") {
            None | Some(serde_json::Value::Null) => None,
            Some(d) => Some(TransactionDetails::from_json_value(
                d,
                limits.max_detail_fields,
            )?),
        };
        let scopes = match obj.get("scopes") {
            None => Vec::new(),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|s| {
                    s.as_str()
                        .ok_or_else(|| RequestError::Invalid("`scopes` must hold strings".into()))
                        .and_then(|s| {
                            Scope::parse(s).map_err(|e| RequestError::Invalid(e.to_string()))
                        })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(RequestError::Invalid(
                    "`scopes` must be an array of strings".into(),
                ))
            }
        };
        Ok(Request {
            audience,
            action,
            details,
            scopes,
        })
    }
}

/// Maximum nesting depth of JSON text, counted without parsing it.
fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Whether a revocation id has been revoked.
pub trait RevocationCheck {
    /// True when `id` is revoked.
    fn is_revoked(&self, id: &RevocationId) -> bool;
}

/// Nothing is revoked.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRevocations;

impl RevocationCheck for NoRevocations {
    fn is_revoked(&self, _: &RevocationId) -> bool {
        false
    }
}

impl<S: std::hash::BuildHasher> RevocationCheck for std::collections::HashSet<RevocationId, S> {
    fn is_revoked(&self, id: &RevocationId) -> bool {
        self.contains(id)
    }
}

impl RevocationCheck for BTreeSet<RevocationId> {
    fn is_revoked(&self, id: &RevocationId) -> bool {
        self.contains(id)
    }
}

/// Why a token was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReasonKind {
    /// The token does not parse.
    Format,
    /// Over the token size or block-count cap.
    TooLarge,
    /// Its key id is not in the key set.
    UnknownKey,
    /// A signature does not verify.
    Signature,
    /// A block id is revoked.
    Revoked,
    /// Past its expiry.
    Expired,
    /// Before its not-before time.
    NotYetValid,
    /// Presented at an audience it is not for.
    Audience,
    /// A scope the request needs is not granted.
    Scope,
    /// The transaction is outside the grant or a block's limit.
    Limit,
    /// The action is not allowed for the transaction type.
    Action,
    /// More blocks than a depth cap allows.
    Depth,
    /// A raw Datalog check failed.
    Check,
    /// A Datalog limit (facts, iterations, time) was hit.
    RunLimit,
    /// Anything unexpected; always a deny.
    Internal,
    /// The token is bound to a holder key and the request proves no possession of it, or
    /// the verifier requires binding and the token is a bearer token.
    Holder,
    /// The proof of possession presented is invalid: bad signature, outside the freshness
    /// window, signed by a key the token does not bind, replayed, or refused by a full
    /// replay cache or the token's quota in it.
    Proof,
}

/// One reason for a deny, with the block it comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// What kind of refusal.
    pub kind: ReasonKind,
    /// The block whose check failed (0 is the authority block).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block: Option<usize>,
    /// That block's delegate, if named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delegate: Option<String>,
    /// The explanation.
    pub message: String,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Reason {
    fn new(kind: ReasonKind, message: impl Into<String>) -> Self {
        Reason {
            kind,
            block: None,
            delegate: None,
            message: message.into(),
        }
    }
}

/// A token whose signature chain verified, with its claims.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    claims: Claims,
}

impl VerifiedToken {
    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }

    /// Takes the claims.
    pub fn into_claims(self) -> Claims {
        self.claims
    }
}

/// The outcome of verifying a token for one request: a value, never an error.
#[derive(Clone, Debug)]
pub enum Verdict {
    /// Every signature and every check passed.
    Allowed(VerifiedToken),
    /// Refused, with reasons.
    Denied(Denial),
}

/// A refusal.
#[derive(Clone, Debug)]
pub struct Denial {
    /// Every reason found (at least one).
    pub reasons: Vec<Reason>,
    /// The token's claims when it could be read; verified only if `signature_verified`.
    pub claims: Option<Claims>,
    /// Whether the signatures were checked and valid.
    pub signature_verified: bool,
    /// Whether a presented proof of possession was checked and verified (its signature,
    /// its window and that the token binds its key); `false` without a proof.
    pub proof_verified: bool,
}

impl Verdict {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allowed(_))
    }

    /// The reasons of a deny (empty for an allow).
    pub fn reasons(&self) -> &[Reason] {
        match self {
            Verdict::Allowed(_) => &[],
            Verdict::Denied(d) => &d.reasons,
        }
    }

    /// The claims, when the token could be read.
    pub fn claims(&self) -> Option<&Claims> {
        match self {
            Verdict::Allowed(v) => Some(&v.claims),
            Verdict::Denied(d) => d.claims.as_ref(),
        }
    }

    fn deny(reason: Reason, claims: Option<Claims>) -> Self {
        Verdict::Denied(Denial {
            reasons: vec![reason],
            claims,
            signature_verified: false,
            proof_verified: false,
        })
    }
}

/// Checks tokens against the key set, with limits. Build once and share: it is `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: KeySet,
    limits: Limits,
    pub(crate) holder: crate::holder::HolderState,
    cache: Option<Arc<DigestCache<VerifiedChain>>>,
    reference_datalog: bool,
}

impl Verifier {
    /// A verifier trusting these keys, with default limits.
    pub fn new(keys: KeySet) -> Self {
        Verifier {
            keys,
            limits: Limits::default(),
            holder: crate::holder::HolderState::default(),
            cache: None,
            reference_datalog: false,
        }
    }

    /// Runs the blocks' checks with Biscuit's own authorizer, built on every call, instead
    /// of the chain's prepared Datalog. Decisions are the same (tests compare them); this
    /// exists for those tests and to measure the difference.
    #[doc(hidden)]
    pub fn with_reference_datalog(mut self) -> Self {
        self.reference_datalog = true;
        self
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
        let digest = crate::token::sha256(bytes);
        if let Some(hit) = cache.get(&digest) {
            return Ok(Arc::clone(&hit.token));
        }
        // Not cached here: only a token whose signatures verify is (see `verified_chain`).
        Token::from_bytes_with_digest(bytes, digest).map(Arc::new)
    }

    /// Reads a token from base64url text, as [`Token::from_base64`] does, sharing a token
    /// read before as [`read_token`](Self::read_token) does.
    pub fn read_token_base64(&self, text: &str) -> Result<Arc<Token>, TokenError> {
        self.read_token(&crate::encoding::decode_base64url(text.trim())?)
    }

    /// Verifies a token for one request at time `now`, with no proof of possession.
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
        proof: Option<&crate::holder::HolderProof>,
        now: SystemTime,
        revoked: &dyn RevocationCheck,
    ) -> Verdict {
        if let Some(reason) = self.limit_refusal(token) {
            return Verdict::deny(reason, None);
        }
        // Refusals that need no signature: a deny never needs one, an allow always does.
        // Decided before the claims are computed, which only the reasons' readers need.
        if let Some(reason) = claim_refusal(token, request, now, revoked) {
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
        let Some(chain) = self.verified_chain(token, key) else {
            return Verdict::deny(
                Reason::new(ReasonKind::Signature, TokenError::Signature.to_string()),
                Some(claims),
            );
        };
        let biscuit = &chain.biscuit;
        let found = match self.holder_check(biscuit, token, request, proof, now, &mut claims) {
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
        let checked = self
            .run_datalog(&chain, token, request, now, &found.proven)
            .and_then(|()| match &found.proof {
                // The nonce is consumed only for a request the token's checks allow, so
                // proofs that fail them take no room in the replay cache.
                Some(p) => self.admit_proof(p, now).map_err(|r| vec![r]),
                None => Ok(()),
            });
        match checked {
            Ok(()) => Verdict::Allowed(VerifiedToken { claims }),
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
            .or_else(|| claim_refusal(token, request, now, revoked))
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
    ) -> Option<Arc<VerifiedChain>> {
        let key_bytes = key.to_bytes();
        if let Some(cache) = &self.cache {
            if let Some(hit) = cache.get(token.digest()) {
                // The same bytes verify under one root key only; a hit under another key
                // (a key set that changed) is checked again.
                if hit.root_key[..] == key_bytes[..] {
                    return Some(hit);
                }
            }
        }
        let biscuit = UnverifiedBiscuit::from(token.raw_bytes())
            .and_then(|u| u.verify(key).map_err(biscuit_auth::error::Token::Format))
            .ok()?;
        let prepared = prepare(token, &biscuit);
        let token_bytes = token.raw_bytes().len();
        let chain = Arc::new(VerifiedChain {
            biscuit,
            prepared,
            root_key: key_bytes.to_vec(),
            token: Arc::new(token.clone()),
        });
        if let Some(cache) = &self.cache {
            let weight = token_bytes
                .saturating_mul(CACHE_BYTES_PER_TOKEN_BYTE)
                .saturating_add(CACHE_ENTRY_OVERHEAD);
            cache.insert(*token.digest(), Arc::clone(&chain), weight);
        }
        Some(chain)
    }

    fn run_datalog(
        &self,
        chain: &VerifiedChain,
        token: &Token,
        request: &Request,
        now: SystemTime,
        holders: &[VerifyingKey],
    ) -> Result<(), Vec<Reason>> {
        if self.reference_datalog {
            let mut facts = request_facts(request, now, token.block_count());
            facts.extend(
                holders
                    .iter()
                    .map(|h| bb::fact("request_holder", &[bb::string(&h.to_string())])),
            );
            return self.run_biscuit_authorizer(&chain.biscuit, token, request, facts);
        }
        let prepared = chain.prepared.as_ref().map_err(Clone::clone)?;
        let limits = crate::engine::EvalLimits {
            max_facts: self.limits.max_facts,
            max_combinations: self.limits.max_check_combinations,
            max_cost: self.limits.max_datalog_cost,
            max_time: self.limits.max_datalog_time,
        };
        let facts = |symbols: &mut SymbolTable| {
            datalog_facts(symbols, request, now, token.block_count(), holders)
        };
        match prepared.evaluate(facts, &limits) {
            Ok(()) => Ok(()),
            Err(Refusal::Failed(failed)) => Err(failed
                .iter()
                .map(|f| explain(f.block, f.index, &f.text, &token.specs, request))
                .collect()),
            Err(Refusal::TooManyFacts) => Err(vec![self.too_many_facts()]),
            Err(Refusal::TooManyCombinations {
                block,
                combinations,
            }) => {
                let mut r = Reason::new(
                    ReasonKind::RunLimit,
                    format!(
                        "block {block} has a check that could try {combinations} fact combinations, more than the limit of {}",
                        self.limits.max_check_combinations
                    ),
                );
                r.block = Some(block);
                Err(vec![r])
            }
            Err(Refusal::TooCostly { block, cost }) => {
                let mut r = Reason::new(
                    ReasonKind::RunLimit,
                    format!(
                        "the token's checks could cost {cost} units of work for this request (block {block} the most), more than the limit of {}: use fewer or smaller raw checks, or send a smaller request",
                        self.limits.max_datalog_cost
                    ),
                );
                r.block = Some(block);
                Err(vec![r])
            }
            Err(Refusal::Timeout) => Err(vec![self.timeout()]),
            Err(Refusal::Execution(e)) => Err(vec![Reason::new(
                ReasonKind::Internal,
                format!("the token could not be evaluated: {e}"),
            )]),
        }
    }

    fn too_many_facts(&self) -> Reason {
        Reason::new(
            ReasonKind::RunLimit,
            format!(
                "the token's Datalog produced more than {} facts",
                self.limits.max_facts
            ),
        )
    }

    fn timeout(&self) -> Reason {
        Reason::new(
            ReasonKind::RunLimit,
            format!(
                "the token's Datalog ran longer than {:?}",
                self.limits.max_datalog_time
            ),
        )
    }

    /// The same checks run by Biscuit's own authorizer (built per call), for tests that
    /// compare it with the prepared evaluation. No budget is applied before it runs.
    fn run_biscuit_authorizer(
        &self,
        biscuit: &biscuit_auth::Biscuit,
        token: &Token,
        request: &Request,
        facts: Vec<Fact>,
    ) -> Result<(), Vec<Reason>> {
        let internal = |e: BiscuitError| {
            vec![Reason::new(
                ReasonKind::Internal,
                format!("the token could not be evaluated: {e}"),
            )]
        };
        let mut builder = AuthorizerBuilder::new().set_limits(AuthorizerLimits {
            max_facts: self.limits.max_facts,
            max_iterations: self.limits.max_iterations,
            max_time: self.limits.max_datalog_time,
        });
        for fact in facts {
            builder = builder.fact(fact).map_err(internal)?;
        }
        let mut authorizer = builder
            .policy("allow if true")
            .and_then(|b| b.build(biscuit))
            .map_err(internal)?;
        match authorizer.authorize() {
            Ok(_) => Ok(()),
            Err(BiscuitError::FailedLogic(
                Logic::Unauthorized { checks, .. } | Logic::NoMatchingPolicy { checks },
            )) if !checks.is_empty() => Err(checks
                .iter()
                .map(|c| match c {
                    FailedCheck::Block(b) => explain(
                        b.block_id as usize,
                        b.check_id as usize,
                        &b.rule,
                        &token.specs,
                        request,
                    ),
                    FailedCheck::Authorizer(a) => Reason::new(
                        ReasonKind::Internal,
                        format!("verifier check failed: {}", a.rule),
                    ),
                })
                .collect()),
            Err(BiscuitError::RunLimit(RunLimit::TooManyFacts)) => Err(vec![self.too_many_facts()]),
            Err(BiscuitError::RunLimit(RunLimit::Timeout)) => Err(vec![self.timeout()]),
            Err(BiscuitError::RunLimit(limit)) => {
                Err(vec![Reason::new(ReasonKind::RunLimit, limit.to_string())])
            }
            Err(e) => Err(internal(e)),
        }
    }
}

/// A verified chain's Datalog prepared for evaluation, or the refusal of a block that
/// cannot be read or that carries rules (valet blocks carry only facts and checks). A
/// pure function of the chain, so it is kept with it in the cache.
fn prepare(token: &Token, biscuit: &biscuit_auth::Biscuit) -> Result<Prepared, Vec<Reason>> {
    Prepared::new(token, biscuit).map_err(|e| {
        let (kind, index, message) = match e {
            PrepareError::Rules(i) => (
                ReasonKind::Format,
                i,
                format!(
                    "block {i} carries Datalog rules: valet blocks carry only facts and checks"
                ),
            ),
            PrepareError::Closures(i) => (
                ReasonKind::Format,
                i,
                format!(
                    "block {i} has a check with a closure (`.all` or `.any`): valet blocks do not use closures, whose cost cannot be bounded before they run"
                ),
            ),
            PrepareError::Refused(i, why) => (ReasonKind::Format, i, format!("block {i} {why}")),
            PrepareError::Unreadable(i, e) => (
                ReasonKind::Internal,
                i,
                format!("block {i} could not be read back as Datalog ({e})"),
            ),
        };
        let mut r = Reason::new(kind, message);
        r.block = Some(index);
        vec![r]
    })
}

/// A signature chain that verified against a trusted key, with its Datalog prepared:
/// everything here is a pure function of the token bytes and that key.
struct VerifiedChain {
    biscuit: biscuit_auth::Biscuit,
    prepared: Result<Prepared, Vec<Reason>>,
    /// The root key the signatures verified under.
    root_key: Vec<u8>,
    /// The token as read, shared with later readers of the same bytes.
    token: Arc<Token>,
}

const CACHE_SHARDS: usize = 16;

/// The default bound on the estimated memory of a [`Verifier`]'s cache of verified tokens
/// (256 MiB).
pub const DEFAULT_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// The estimated memory a cached verified token takes per byte of token: its decoded
/// blocks, the verified Biscuit and the prepared Datalog together take about 34 bytes per
/// byte of a 13 KB token.
pub const CACHE_BYTES_PER_TOKEN_BYTE: usize = 40;

/// The estimated fixed memory of one cached verified token, whatever its size.
pub const CACHE_ENTRY_OVERHEAD: usize = 4096;

/// What a [`Verifier`]'s cache of verified tokens holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheUsage {
    /// Verified tokens held.
    pub entries: usize,
    /// Their estimated memory, in bytes.
    pub bytes: usize,
}

/// A bounded cache keyed by a SHA-256 digest, in shards each behind its own read-mostly
/// lock, so concurrent repeat presentations do not wait on each other. Bounded by entry
/// count and by the entries' estimated bytes; each shard drops its oldest entries first.
struct DigestCache<V> {
    shards: Vec<RwLock<Shard<V>>>,
    per_shard: usize,
    bytes_per_shard: usize,
}

struct Shard<V> {
    map: HashMap<[u8; 32], (Arc<V>, usize)>,
    /// Insertion order, oldest first (digests already removed are skipped).
    order: std::collections::VecDeque<[u8; 32]>,
    bytes: usize,
}

impl<V> DigestCache<V> {
    fn new(capacity: usize, max_bytes: usize) -> Self {
        DigestCache {
            shards: (0..CACHE_SHARDS)
                .map(|_| {
                    RwLock::new(Shard {
                        map: HashMap::new(),
                        order: std::collections::VecDeque::new(),
                        bytes: 0,
                    })
                })
                .collect(),
            per_shard: capacity.div_ceil(CACHE_SHARDS).max(1),
            bytes_per_shard: (max_bytes / CACHE_SHARDS).max(1),
        }
    }

    fn capacity(&self) -> usize {
        self.per_shard.saturating_mul(CACHE_SHARDS)
    }

    fn max_bytes(&self) -> usize {
        self.bytes_per_shard.saturating_mul(CACHE_SHARDS)
    }

    fn shard(&self, digest: &[u8; 32]) -> Option<&RwLock<Shard<V>>> {
        self.shards.get(usize::from(digest[0]) % CACHE_SHARDS)
    }

    fn get(&self, digest: &[u8; 32]) -> Option<Arc<V>> {
        let shard = self.shard(digest)?;
        let shard = shard.read().unwrap_or_else(PoisonError::into_inner);
        shard.map.get(digest).map(|(v, _)| Arc::clone(v))
    }

    /// Inserts `value`, of estimated size `weight`; an entry larger than a whole shard's
    /// bound is not kept.
    fn insert(&self, digest: [u8; 32], value: Arc<V>, weight: usize) {
        if weight > self.bytes_per_shard {
            return;
        }
        let Some(shard) = self.shard(&digest) else {
            return;
        };
        let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, old)) = shard.map.remove(&digest) {
            shard.bytes = shard.bytes.saturating_sub(old);
        }
        // Bounded: make room by dropping the oldest entries (a later presentation of one
        // is read and verified again, never trusted without a check).
        while shard.map.len() >= self.per_shard
            || shard.bytes.saturating_add(weight) > self.bytes_per_shard
        {
            let Some(oldest) = shard.order.pop_front() else {
                break;
            };
            if let Some((_, w)) = shard.map.remove(&oldest) {
                shard.bytes = shard.bytes.saturating_sub(w);
            }
        }
        shard.map.insert(digest, (value, weight));
        shard.order.push_back(digest);
        shard.bytes = shard.bytes.saturating_add(weight);
        // Digests replaced or dropped leave stale places in the order: compact it when it
        // grows past twice the entries.
        if shard.order.len() > shard.map.len().saturating_mul(2).max(16) {
            let Shard { map, order, .. } = &mut *shard;
            let mut kept = std::collections::HashSet::with_capacity(map.len());
            order.retain(|d| map.contains_key(d) && kept.insert(*d));
        }
    }

    fn usage(&self) -> CacheUsage {
        self.shards.iter().fold(CacheUsage::default(), |u, shard| {
            let shard = shard.read().unwrap_or_else(PoisonError::into_inner);
            CacheUsage {
                entries: u.entries.saturating_add(shard.map.len()),
                bytes: u.bytes.saturating_add(shard.bytes),
            }
        })
    }
}

impl<V> fmt::Debug for DigestCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestCache")
            .field("shards", &self.shards.len())
            .field("per_shard", &self.per_shard)
            .field("bytes_per_shard", &self.bytes_per_shard)
            .finish_non_exhaustive()
    }
}

/// The facts a request contributes (the public vocabulary, see the crate docs).
fn request_facts(request: &Request, now: SystemTime, blocks: usize) -> Vec<Fact> {
    let mut facts = Vec::with_capacity(8);
    // Whole seconds since 1970 (`verify` refuses earlier clocks; bb::date would panic).
    facts.push(bb::fact("time", &[bb::Term::Date(unix_secs(now))]));
    facts.push(bb::fact(
        "request_audience",
        &[bb::string(request.audience.as_str())],
    ));
    facts.push(bb::fact("request_action", &[bb::string(&request.action)]));
    facts.push(bb::fact(
        "token_blocks",
        &[bb::int(i64::try_from(blocks).unwrap_or(i64::MAX))],
    ));
    for s in &request.scopes {
        facts.push(bb::fact("request_scope", &[bb::string(s.as_str())]));
    }
    match &request.details {
        None => facts.push(bb::fact("request_details", &[bb::boolean(false)])),
        Some(d) => {
            facts.push(bb::fact("request_details", &[bb::boolean(true)]));
            facts.push(bb::fact("request_detail_type", &[bb::string(d.kind())]));
            for (name, value) in d.fields() {
                let n = bb::string(name);
                match value {
                    FieldValue::Str(s) => {
                        facts.push(bb::fact("request_field", &[n.clone(), bb::string(s)]));
                        if let Some(dec) = value.as_decimal() {
                            facts.push(bb::fact("request_decimal", &[n, bb::int(dec.scaled())]));
                        }
                    }
                    FieldValue::Long(_) => {
                        if let Some(dec) = value.as_decimal() {
                            facts.push(bb::fact("request_decimal", &[n, bb::int(dec.scaled())]));
                        }
                    }
                    FieldValue::Bool(b) => {
                        facts.push(bb::fact("request_field", &[n, bb::boolean(*b)]));
                    }
                    FieldValue::List(items) => {
                        for item in items {
                            facts.push(bb::fact("request_list", &[n.clone(), bb::string(item)]));
                        }
                    }
                }
            }
        }
    }
    facts
}

/// The facts of [`request_facts`], built directly in `symbols` (the same facts: tests
/// compare the decisions of both).
fn datalog_facts(
    symbols: &mut SymbolTable,
    request: &Request,
    now: SystemTime,
    blocks: usize,
    holders: &[VerifyingKey],
) -> Vec<dl::Fact> {
    let mut facts = Vec::with_capacity(8 + holders.len());
    let mut push = |symbols: &mut SymbolTable, name: &str, terms: Vec<dl::Term>| {
        facts.push(dl::Fact {
            predicate: dl::Predicate {
                name: symbols.insert(name),
                terms,
            },
        });
    };
    let text = |symbols: &mut SymbolTable, s: &str| dl::Term::Str(symbols.insert(s));
    push(symbols, "time", vec![dl::Term::Date(unix_secs(now))]);
    let t = text(symbols, request.audience.as_str());
    push(symbols, "request_audience", vec![t]);
    let t = text(symbols, &request.action);
    push(symbols, "request_action", vec![t]);
    push(
        symbols,
        "token_blocks",
        vec![dl::Term::Integer(i64::try_from(blocks).unwrap_or(i64::MAX))],
    );
    for s in &request.scopes {
        let t = text(symbols, s.as_str());
        push(symbols, "request_scope", vec![t]);
    }
    match &request.details {
        None => push(symbols, "request_details", vec![dl::Term::Bool(false)]),
        Some(d) => {
            push(symbols, "request_details", vec![dl::Term::Bool(true)]);
            let t = text(symbols, d.kind());
            push(symbols, "request_detail_type", vec![t]);
            for (name, value) in d.fields() {
                let n = text(symbols, name);
                let decimal = value
                    .as_decimal()
                    .map(|dec| dl::Term::Integer(dec.scaled()));
                match value {
                    FieldValue::Str(s) => {
                        let v = text(symbols, s);
                        push(symbols, "request_field", vec![n.clone(), v]);
                        if let Some(dec) = decimal {
                            push(symbols, "request_decimal", vec![n, dec]);
                        }
                    }
                    FieldValue::Long(_) => {
                        if let Some(dec) = decimal {
                            push(symbols, "request_decimal", vec![n, dec]);
                        }
                    }
                    FieldValue::Bool(b) => {
                        push(symbols, "request_field", vec![n, dl::Term::Bool(*b)]);
                    }
                    FieldValue::List(items) => {
                        for item in items {
                            let v = text(symbols, item);
                            push(symbols, "request_list", vec![n.clone(), v]);
                        }
                    }
                }
            }
        }
    }
    for h in holders {
        let t = text(symbols, &h.to_string());
        push(symbols, "request_holder", vec![t]);
    }
    facts
}

/// Refusals decided from the verifier's clock and the token's claims alone, before any
/// signature is checked.
fn claim_refusal(
    token: &Token,
    request: &Request,
    now: SystemTime,
    revoked: &dyn RevocationCheck,
) -> Option<Reason> {
    if now < std::time::UNIX_EPOCH {
        return Some(Reason::new(
            ReasonKind::Internal,
            "the verifier's clock reads before 1970: fix the clock",
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
                .map(CheckKind::Audience)
        };
        if let Some(kind) = kind {
            return Some(describe(&kind, i, spec, request));
        }
    }
    None
}

fn explain(
    block: usize,
    check: usize,
    text: &str,
    specs: &[BlockSpec],
    request: &Request,
) -> Reason {
    // The block's context describes the check only when the check is the one its context
    // generates: a hand-made block may say one thing and enforce another.
    let described = specs.get(block).and_then(|spec| {
        let kind = check_kinds(spec, block).into_iter().nth(check)?;
        crate::datalog::generates(&kind, text).then(|| describe(&kind, block, spec, request))
    });
    described.unwrap_or_else(|| {
        let mut r = Reason::new(
            ReasonKind::Check,
            format!("block {block}: check failed: {text}"),
        );
        r.block = Some(block);
        r
    })
}

fn block_name(index: usize, spec: &BlockSpec) -> String {
    match (index, &spec.delegate) {
        (0, _) => "the token".to_owned(),
        (i, Some(d)) => format!("block {i} (delegate: {d})"),
        (i, None) => format!("block {i}"),
    }
}

fn describe(kind: &CheckKind<'_>, index: usize, spec: &BlockSpec, request: &Request) -> Reason {
    let who = block_name(index, spec);
    let (k, message) = match kind {
        CheckKind::Expiry(exp) => (
            ReasonKind::Expired,
            if index == 0 {
                format!("token expired at {}", rfc3339(*exp))
            } else {
                format!("{who} expired at {}", rfc3339(*exp))
            },
        ),
        CheckKind::NotBefore(nbf) => (
            ReasonKind::NotYetValid,
            format!("token is not valid before {}", rfc3339(*nbf)),
        ),
        CheckKind::Audience(aud) => {
            let list = join(aud.iter().map(|a| a.as_str()));
            (
                ReasonKind::Audience,
                if index == 0 {
                    format!("token is for {list}, presented at {}", request.audience)
                } else {
                    format!(
                        "{who} limits audiences to {list}, presented at {}",
                        request.audience
                    )
                },
            )
        }
        CheckKind::Scope(scopes) => {
            let missing: Vec<&str> = request
                .scopes
                .iter()
                .filter(|s| !scopes.contains(*s))
                .map(|s| s.as_str())
                .collect();
            (
                ReasonKind::Scope,
                format!(
                    "{who} does not grant scope {}",
                    join_quoted(missing.into_iter())
                ),
            )
        }
        CheckKind::Grant(grants) => (grant_kind(grants, request), grant_message(grants, request)),
        CheckKind::FieldLimit(l) => {
            let got = request
                .details
                .as_ref()
                .and_then(|d| d.get(&l.field))
                .map(|v| match v {
                    FieldValue::Str(s) => format!("`{s}`"),
                    other => format!("a {}", other.kind()),
                });
            let value = request.details.as_ref().and_then(|d| d.get(&l.field));
            let what = match (&l.limit, l.limit.under_min(value)) {
                (_, Some(low)) => format!("{who} limits {} {} to at least {low}", l.kind, l.field),
                (Limit::Range { max: Some(m), .. }, None) => {
                    format!("{who} limits {} {} to {m}", l.kind, l.field)
                }
                _ => format!("{who} limits {} {} to {}", l.kind, l.field, l.limit),
            };
            (
                ReasonKind::Limit,
                match got {
                    Some(g) => format!("{what}, requested {g}"),
                    None => format!("{what}, and the transaction has no `{}`", l.field),
                },
            )
        }
        CheckKind::Actions(a) => (
            ReasonKind::Action,
            format!(
                "{who} allows {} only for {}, requested `{}`",
                a.kind,
                join_quoted(a.actions.iter().map(String::as_str)),
                request.action
            ),
        ),
        CheckKind::Depth(max) => (
            ReasonKind::Depth,
            format!(
                "{who} allows at most {} attenuation blocks after the authority block",
                max.saturating_sub(1)
            ),
        ),
        CheckKind::Holder(key) => (
            ReasonKind::Holder,
            crate::holder::holder_message(&who, index, key),
        ),
        CheckKind::Raw(text) => (ReasonKind::Check, format!("{who}: check failed: {text}")),
    };
    Reason {
        kind: k,
        block: Some(index),
        delegate: spec.delegate.clone(),
        message,
    }
}

fn grant_kind(grants: &[crate::AuthorizationDetail], request: &Request) -> ReasonKind {
    match &request.details {
        None => ReasonKind::Action,
        Some(d) if grants.iter().all(|g| g.kind != d.kind()) => ReasonKind::Limit,
        Some(_) => ReasonKind::Limit,
    }
}

fn grant_message(grants: &[crate::AuthorizationDetail], request: &Request) -> String {
    let Some(d) = &request.details else {
        return format!(
            "the token grants `{}` only with transaction details: send its authorization_details",
            request.action
        );
    };
    let of_type: Vec<_> = grants.iter().filter(|g| g.kind == d.kind()).collect();
    if of_type.is_empty() {
        return format!(
            "the token grants no `{}` transactions (it grants {})",
            d.kind(),
            join_quoted(grants.iter().map(|g| g.kind.as_str()))
        );
    }
    // Explain against the first grant of this type.
    let mut problems = Vec::new();
    for g in &of_type {
        if !g.actions.is_empty() && !g.actions.contains(&request.action) {
            problems.push(format!(
                "action `{}` is not among {}",
                request.action,
                join_quoted(g.actions.iter().map(String::as_str))
            ));
        }
        if !g.locations.is_empty() && !g.locations.contains(request.audience.as_str()) {
            problems.push(format!(
                "location {} is not among {}",
                request.audience,
                join(g.locations.iter().map(String::as_str))
            ));
        }
        if let Some(id) = &g.identifier {
            if d.get("identifier").and_then(FieldValue::as_str) != Some(id.as_str()) {
                problems.push(format!("identifier must be `{id}`"));
            }
        }
        for (field, limit) in &g.limits {
            let value = d.get(field);
            if !value.is_some_and(|v| limit.admits(v)) {
                let got = match value {
                    Some(FieldValue::Str(s)) => format!("`{s}`"),
                    Some(other) => format!("a {}", other.kind()),
                    None => "nothing".to_owned(),
                };
                let bound = limit
                    .under_min(value)
                    .map_or_else(|| limit.to_string(), |low| format!("at least {low}"));
                problems.push(format!(
                    "the token limits {} {field} to {bound}, requested {got}",
                    g.kind
                ));
            }
        }
        if !problems.is_empty() {
            break;
        }
    }
    if problems.is_empty() {
        format!(
            "the transaction is outside the token's `{}` grant",
            d.kind()
        )
    } else {
        problems.join("; ")
    }
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

fn join_quoted<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
