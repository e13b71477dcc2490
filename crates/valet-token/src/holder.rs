//! Holder binding (proof of possession): the agents' own Ed25519 keys, the proof a bound
//! token needs with every request, the replay cache that makes each proof single-use, and
//! the verifier's holder options.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::agent_keys::{SigningKey, VerifyingKey};
use crate::details::TransactionDetails;
use crate::encoding::{encode_base64url, hex};
use crate::error::TokenError;
use crate::model::{rfc3339, unix_secs, Claims};
use crate::token::Token;
use crate::verify::{Reason, ReasonKind, Request, Verifier};

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
    #[serde(with = "b64")]
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

pub(crate) mod b64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::encoding::encode_base64url(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        crate::encoding::decode_base64url(&String::deserialize(d)?)
            .map_err(|_| serde::de::Error::custom("the signature is not base64url"))
    }
}

fn valid_nonce(nonce: &str) -> bool {
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

/// Why a replay cache refused an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The same id was admitted before and has not expired.
    #[error("already used")]
    Replayed,
    /// The cache holds `capacity` live entries: new ones are refused (fail closed).
    #[error("the replay cache is full")]
    Full,
    /// The entry's partition (one person's agent) holds its quota of live entries: new
    /// ones of that partition are refused, other partitions are not affected.
    #[error("the replay cache holds this partition's quota of unexpired entries")]
    QuotaExceeded,
    /// The cache's lock was poisoned by a panic elsewhere.
    #[error("the replay cache is unavailable")]
    Unavailable,
}

/// A bounded set of single-use ids (proof nonces, approvals), each kept until it expires.
///
/// Ids are admitted into partitions (the verifier uses one partition per person and agent,
/// the issuer-signed subject and client of the token): each partition holds at most
/// `per_partition` live ids and the whole cache at most `capacity`, so the traffic of one
/// person's agent, or a flood by whoever holds its tokens, cannot exhaust the room of
/// another's; filling the whole cache takes `capacity / per_partition` partitions, each
/// with tokens of its own from the issuer. When a limit is reached, new ids are refused
/// rather than old ones forgotten (fail closed). Expired ids are forgotten as time passes,
/// at a cost proportional to their number. `Send + Sync`; clones of a [`Verifier`] share
/// one cache.
#[derive(Debug)]
pub struct ReplayCache {
    seen: Mutex<Seen>,
    capacity: usize,
    per_partition: usize,
}

#[derive(Debug, Default)]
struct Seen {
    /// Id digest -> (expiry, partition digest).
    ids: HashMap<[u8; 32], (u64, [u8; 32])>,
    /// Live ids per partition digest.
    partitions: HashMap<[u8; 32], usize>,
    /// Id digests by expiry, to forget them when they expire.
    by_expiry: std::collections::BTreeMap<u64, Vec<[u8; 32]>>,
}

impl Seen {
    /// Forgets the ids that expired before `now`.
    fn prune(&mut self, now: u64) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if *entry.key() >= now {
                break;
            }
            let (expiry, digests) = entry.remove_entry();
            for digest in digests {
                // An id admitted again since keeps its later expiry.
                if let Some((_, part)) = self.ids.get(&digest).filter(|(e, _)| *e == expiry) {
                    let part = *part;
                    self.ids.remove(&digest);
                    if let Some(n) = self.partitions.get_mut(&part) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            self.partitions.remove(&part);
                        }
                    }
                }
            }
        }
    }
}

impl ReplayCache {
    /// An empty cache holding at most `capacity` live ids, all in one partition's quota
    /// (see [`with_partition_quota`](Self::with_partition_quota)).
    pub fn new(capacity: usize) -> Self {
        ReplayCache {
            seen: Mutex::new(Seen::default()),
            capacity,
            per_partition: capacity,
        }
    }

    /// Holds at most `quota` live ids in each partition.
    #[must_use]
    pub fn with_partition_quota(mut self, quota: usize) -> Self {
        self.per_partition = quota;
        self
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The most live ids one partition may hold.
    pub fn partition_quota(&self) -> usize {
        self.per_partition
    }

    /// Admits `id` (any bytes; its SHA-256 is kept) until `expires_at` (Unix seconds) in
    /// the default partition, as [`admit_in`](Self::admit_in) does.
    pub fn admit(&self, id: &[u8], expires_at: u64, now: u64) -> Result<(), ReplayError> {
        self.admit_in(&[], id, expires_at, now)
    }

    /// Admits `id` (any bytes; its SHA-256 is kept) into `partition` (any bytes) until
    /// `expires_at` (Unix seconds), or refuses it if it is already held, if the cache is
    /// full of live ids, or if the partition holds its quota of them.
    pub fn admit_in(
        &self,
        partition: &[u8],
        id: &[u8],
        expires_at: u64,
        now: u64,
    ) -> Result<(), ReplayError> {
        let digest: [u8; 32] = Sha256::digest(id).into();
        let part: [u8; 32] = Sha256::digest(partition).into();
        let mut seen = self.seen.lock().map_err(|_| ReplayError::Unavailable)?;
        seen.prune(now);
        if seen.ids.contains_key(&digest) {
            return Err(ReplayError::Replayed);
        }
        if seen.ids.len() >= self.capacity {
            return Err(ReplayError::Full);
        }
        if seen.partitions.get(&part).copied().unwrap_or(0) >= self.per_partition {
            return Err(ReplayError::QuotaExceeded);
        }
        seen.ids.insert(digest, (expires_at, part));
        seen.by_expiry.entry(expires_at).or_default().push(digest);
        *seen.partitions.entry(part).or_insert(0) += 1;
        Ok(())
    }
}

/// How a [`Verifier`] treats holder binding. Defaults: bearer tokens allowed, proofs at
/// most 60 s old and at most 5 s in the future, 500 000 live nonces, at most 5 000 of them
/// for one person's agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HolderOptions {
    /// Refuse tokens that the issuer did not bind to a holder key (default false: bearer
    /// use allowed). Only a binding the issuer signed (the authority block's), or one made
    /// by a delegation signed by a key bound before it, meets this: a binding that anyone
    /// holding the token can append does not.
    pub require_binding: bool,
    /// How old a proof may be (default 60 s).
    pub max_proof_age: Duration,
    /// How far in the future a proof's timestamp may be, for clock skew (default 5 s).
    pub max_proof_skew: Duration,
    /// How many unexpired proof nonces are remembered (default 500 000, about 60 MB when
    /// full). When full, new proofs are refused until old ones expire.
    pub replay_capacity: usize,
    /// How many unexpired proof nonces the tokens of one person's agent (one subject and
    /// client the issuer signed, whatever token or holder key) may hold (default 5 000,
    /// over 80 proofs a second for a 60 s window): one agent's traffic, or a flood by
    /// whoever holds its tokens, cannot exhaust another's room, and filling the whole
    /// cache takes `replay_capacity / replay_per_agent` agents the issuer granted tokens.
    pub replay_per_agent: usize,
}

impl Default for HolderOptions {
    fn default() -> Self {
        HolderOptions {
            require_binding: false,
            max_proof_age: Duration::from_secs(60),
            max_proof_skew: Duration::from_secs(5),
            replay_capacity: 500_000,
            replay_per_agent: 5_000,
        }
    }
}

/// The verifier's holder options and its replay cache.
#[derive(Clone, Debug)]
pub(crate) struct HolderState {
    options: HolderOptions,
    replay: Arc<ReplayCache>,
}

impl HolderState {
    fn new(options: HolderOptions) -> Self {
        HolderState {
            replay: Arc::new(
                ReplayCache::new(options.replay_capacity)
                    .with_partition_quota(options.replay_per_agent),
            ),
            options,
        }
    }
}

impl Default for HolderState {
    fn default() -> Self {
        HolderState::new(HolderOptions::default())
    }
}

/// A proof of possession whose signature and freshness were checked, by a key the token
/// binds, whose nonce is still to be consumed (once the token's checks allow the
/// request, see [`Verifier::admit_proof`]).
#[derive(Debug)]
pub(crate) struct CheckedProof {
    /// The person and agent the token is for (see `replay_partition`): the replay
    /// cache's partition.
    partition: Vec<u8>,
    id: Vec<u8>,
    expires: u64,
    nonce: String,
}

/// What the holder checks found: the keys the request proves (for the `request_holder`
/// facts) and the proof still to be admitted.
#[derive(Debug, Default)]
pub(crate) struct HolderFindings {
    pub proven: Vec<VerifyingKey>,
    pub proof: Option<CheckedProof>,
}

fn reason(kind: ReasonKind, block: Option<usize>, message: String) -> Reason {
    Reason {
        kind,
        block,
        delegate: None,
        message,
    }
}

impl Verifier {
    /// Refuses tokens that bind no holder key (`true`), or lets bearer tokens through
    /// (`false`, the default).
    #[must_use]
    pub fn require_holder_binding(mut self, required: bool) -> Self {
        self.holder.options.require_binding = required;
        self
    }

    /// Sets how old (`max_age`) and how far ahead (`max_skew`) a proof's timestamp may be.
    #[must_use]
    pub fn proof_window(mut self, max_age: Duration, max_skew: Duration) -> Self {
        self.holder.options.max_proof_age = max_age;
        self.holder.options.max_proof_skew = max_skew;
        self
    }

    /// Replaces every holder option (and starts a new, empty replay cache).
    #[must_use]
    pub fn with_holder_options(mut self, options: HolderOptions) -> Self {
        self.holder = HolderState::new(options);
        self
    }

    /// The holder options in force.
    pub fn holder_options(&self) -> &HolderOptions {
        &self.holder.options
    }

    /// After the signature chain verified: marks the signed links verified, applies
    /// `require_binding`, checks a presented proof (its window, its signature, and that
    /// the token binds its key) and returns the holder keys the request proves, for the
    /// `request_holder` facts. The proof's nonce is consumed only once the token's checks
    /// allow the request ([`admit_proof`](Self::admit_proof)).
    pub(crate) fn holder_check(
        &self,
        biscuit: &biscuit_auth::Biscuit,
        token: &Token,
        request: &Request,
        proof: Option<&HolderProof>,
        now: SystemTime,
        claims: &mut Claims,
    ) -> Result<HolderFindings, Reason> {
        // Signers as the verified chain states them (not as the context claims).
        let mut signers: Vec<Option<VerifyingKey>> = Vec::with_capacity(token.specs.len());
        for i in 0..token.specs.len() {
            let unreadable = |e: String| {
                reason(
                    ReasonKind::Internal,
                    Some(i),
                    format!("block {i}'s signer cannot be read: {e}"),
                )
            };
            let key = biscuit
                .block_external_key(i)
                .map_err(|e| unreadable(e.to_string()))?;
            let key = match key {
                None => None,
                // Reading the token refused other signers already.
                Some(k) => Some(
                    VerifyingKey::from_biscuit(&k)
                        .ok_or_else(|| unreadable(format!("{k} is not an Ed25519 key")))?,
                ),
            };
            signers.push(key);
        }
        for link in &mut claims.chain {
            let signer = signers.get(link.block).copied().flatten();
            link.verified = signer.is_some();
            link.signed_by = signer;
        }
        if self.holder.options.require_binding && !issuer_bound(token, &signers) {
            let message = if token.specs.iter().any(|s| s.holder.is_some()) {
                "this verifier accepts only tokens the issuer bound to a holder key, and this token's binding was appended by a block no bound key signed, which anyone holding the token can do: mint the token with the agent's public key"
            } else {
                "this verifier accepts only tokens bound to a holder key, and the token is a bearer token: mint it with the agent's public key"
            };
            return Err(reason(ReasonKind::Holder, None, message.into()));
        }
        let Some(proof) = proof else {
            return Ok(HolderFindings::default());
        };
        let mut checked = self.check_proof(token, request, proof, now)?;
        // One partition of the replay cache per person and agent, as the issuer signed them.
        checked.partition = replay_partition(&claims.subject, &claims.client);
        let key = proof.key;
        if !token.specs.iter().any(|s| s.holder == Some(key)) {
            let fix = match &claims.holder {
                Some(holder) => format!("sign it with the token's holder key {holder}"),
                None => "send no proof with a bearer token".to_owned(),
            };
            return Err(reason(
                ReasonKind::Proof,
                None,
                format!("the proof of possession is signed by {key}, a key this token is not bound to: {fix}"),
            ));
        }
        // The proof's key, then every key that signed a block binding a proven key.
        let mut proven: BTreeSet<VerifyingKey> = BTreeSet::new();
        proven.insert(key);
        loop {
            let before = proven.len();
            for (spec, signer) in token.specs.iter().zip(&signers) {
                if let (Some(holder), Some(signer)) = (&spec.holder, signer) {
                    if proven.contains(holder) {
                        proven.insert(*signer);
                    }
                }
            }
            if proven.len() == before {
                break;
            }
        }
        Ok(HolderFindings {
            proven: proven.into_iter().collect(),
            proof: Some(checked),
        })
    }

    /// Checks a proof's nonce, window and signature, consuming nothing.
    fn check_proof(
        &self,
        token: &Token,
        request: &Request,
        proof: &HolderProof,
        now: SystemTime,
    ) -> Result<CheckedProof, Reason> {
        let refuse = |m: String| Err(reason(ReasonKind::Proof, None, m));
        let options = &self.holder.options;
        if !valid_nonce(&proof.nonce) {
            return refuse(
                "the proof of possession's nonce must be 16 to 128 base64url characters".into(),
            );
        }
        if request.action.contains(['\n', '\r']) {
            return refuse("the request's action contains a line break".into());
        }
        let t = unix_secs(now);
        let oldest = t.saturating_sub(options.max_proof_age.as_secs());
        let newest = t.saturating_add(options.max_proof_skew.as_secs());
        if proof.timestamp < oldest {
            return refuse(format!(
                "the proof of possession was signed at {}, more than {} s before the verifier's clock ({}): sign a fresh proof for each request",
                rfc3339(proof.timestamp),
                options.max_proof_age.as_secs(),
                rfc3339(t)
            ));
        }
        if proof.timestamp > newest {
            return refuse(format!(
                "the proof of possession is dated {}, more than {} s after the verifier's clock ({}): check the agent's clock",
                rfc3339(proof.timestamp),
                options.max_proof_skew.as_secs(),
                rfc3339(t)
            ));
        }
        let input = HolderProof::signing_input(token, request, proof.timestamp, &proof.nonce);
        if !proof.key.verify(&input, &proof.signature) {
            return refuse(format!(
                "the proof of possession does not verify: it was signed for another audience, action, transaction or token, or not by {}",
                proof.key
            ));
        }
        let mut id = proof.key.to_bytes().to_vec();
        id.extend_from_slice(proof.nonce.as_bytes());
        Ok(CheckedProof {
            partition: Vec::new(),
            id,
            expires: proof
                .timestamp
                .saturating_add(options.max_proof_age.as_secs()),
            nonce: proof.nonce.clone(),
        })
    }

    /// Consumes a checked proof's nonce, in its agent's partition of the replay
    /// cache: a second use is refused, as is a proof beyond the token's quota or the
    /// cache's capacity.
    pub(crate) fn admit_proof(&self, proof: &CheckedProof, now: SystemTime) -> Result<(), Reason> {
        let refuse = |m: String| Err(reason(ReasonKind::Proof, None, m));
        let replay = &self.holder.replay;
        match replay.admit_in(&proof.partition, &proof.id, proof.expires, unix_secs(now)) {
            Ok(()) => Ok(()),
            Err(ReplayError::Replayed) => refuse(format!(
                "the proof of possession was already used (nonce `{}`): sign a fresh proof, with a new nonce, for each request",
                proof.nonce
            )),
            Err(ReplayError::QuotaExceeded) => refuse(format!(
                "this agent's tokens have {} unexpired proofs in the verifier's replay cache, the most one person's agent may hold: wait for older proofs to expire, or raise the verifier's per-agent quota",
                replay.partition_quota()
            )),
            Err(ReplayError::Full) => refuse(format!(
                "the verifier's replay cache holds {} unexpired proofs, so new proofs are refused until some expire: raise its capacity or shorten the proof window",
                replay.capacity()
            )),
            Err(ReplayError::Unavailable) => Err(reason(
                ReasonKind::Internal,
                None,
                "the verifier's replay cache is unavailable".into(),
            )),
        }
    }
}

/// The replay cache partition of a person's agent: the subject and the client, each
/// prefixed by its length so that no two pairs share one.
fn replay_partition(subject: &str, client: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(16 + subject.len() + client.len());
    for part in [subject, client] {
        p.extend_from_slice(&(part.len() as u64).to_be_bytes());
        p.extend_from_slice(part.as_bytes());
    }
    p
}

/// Whether a binding that `require_binding` accepts holds: the authority block's (the
/// issuer signed it), or one made by a block signed by a key bound before it. A block
/// without a third-party signature can be appended by anyone holding the token, so its
/// binding narrows the token (its check is enforced) but does not make a bearer token
/// bound.
fn issuer_bound(token: &Token, signers: &[Option<VerifyingKey>]) -> bool {
    let mut bound: BTreeSet<VerifyingKey> = BTreeSet::new();
    for (i, (spec, signer)) in token.specs.iter().zip(signers).enumerate() {
        let Some(holder) = spec.holder else {
            continue;
        };
        if i == 0 || signer.is_some_and(|s| bound.contains(&s)) {
            bound.insert(holder);
        }
    }
    !bound.is_empty()
}

/// The key that signed block `index` as a third-party block (unverified: read from the
/// token's envelope). Holders and delegators sign with Ed25519 keys, so a block signed by
/// any other key, or with a key that does not decode, is refused.
pub(crate) fn external_signer(
    index: usize,
    signature: Option<&biscuit_auth::format::schema::ExternalSignature>,
) -> Result<Option<VerifyingKey>, TokenError> {
    let Some(s) = signature else {
        return Ok(None);
    };
    use biscuit_auth::format::schema::public_key::Algorithm as Proto;
    let refuse = |what: &str| {
        TokenError::Format(format!(
            "block {index} is signed by {what}: a delegation is signed by an Ed25519 key"
        ))
    };
    match Proto::from_i32(s.public_key.algorithm) {
        Some(Proto::Ed25519) => {}
        Some(Proto::Secp256r1) => return Err(refuse("a P-256 key")),
        None => return Err(refuse("a key of an unknown algorithm")),
    }
    let key =
        biscuit_auth::PublicKey::from_bytes(&s.public_key.key, biscuit_auth::Algorithm::Ed25519)
            .map_err(|_| refuse("a key that is not an Ed25519 public key"))?;
    VerifyingKey::from_biscuit(&key)
        .map(Some)
        .ok_or_else(|| refuse("a key that is not an Ed25519 public key"))
}

impl Token {
    /// Appends a narrowing signed by `key`, the current holder's key (a Biscuit
    /// third-party block): the chain of custody then shows, verified, that this key
    /// delegated. With [`Attenuation::holder`](crate::Attenuation::holder) it hands a bound
    /// token to a sub-agent's key. Refuses a widening, and a signature by a key other than
    /// the current holder's when the token is bound.
    pub fn attenuate_signed(
        &self,
        attenuation: crate::Attenuation,
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

/// Explains an unmet `request_holder` check of block `index`.
pub(crate) fn holder_message(who: &str, index: usize, key: &VerifyingKey) -> String {
    if index == 0 {
        format!("the token is bound to holder key {key}; the request carries no valid proof of possession by that key: sign a proof of possession with the holder's private key")
    } else {
        format!("{who} binds the token to holder key {key}; the request carries no valid proof of possession by that key, nor a delegation signed by it")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_cache_refuses_repeats_and_fails_closed_when_full() {
        let cache = ReplayCache::new(2);
        assert_eq!(cache.admit(b"a", 100, 10), Ok(()));
        assert_eq!(cache.admit(b"a", 100, 10), Err(ReplayError::Replayed));
        assert_eq!(cache.admit(b"b", 20, 10), Ok(()));
        assert_eq!(cache.admit(b"c", 100, 10), Err(ReplayError::Full));
        // Once `b` expires its room is reused.
        assert_eq!(cache.admit(b"c", 100, 21), Ok(()));
        assert_eq!(cache.admit(b"a", 100, 21), Err(ReplayError::Replayed));
        // An expired id may come back (its proof is stale by then anyway).
        assert_eq!(cache.admit(b"a", 200, 101), Ok(()));
    }

    #[test]
    fn replay_cache_partitions_keep_one_partition_from_exhausting_another() {
        let cache = ReplayCache::new(4).with_partition_quota(2);
        assert_eq!(cache.admit_in(b"t1", b"a", 100, 10), Ok(()));
        assert_eq!(cache.admit_in(b"t1", b"b", 100, 10), Ok(()));
        assert_eq!(
            cache.admit_in(b"t1", b"c", 100, 10),
            Err(ReplayError::QuotaExceeded)
        );
        assert_eq!(cache.admit_in(b"t2", b"c", 100, 10), Ok(()));
        assert_eq!(
            cache.admit_in(b"t2", b"a", 100, 10),
            Err(ReplayError::Replayed)
        );
        assert_eq!(cache.admit_in(b"t3", b"d", 100, 10), Ok(()));
        assert_eq!(cache.admit_in(b"t4", b"e", 100, 10), Err(ReplayError::Full));
        // Expired ids give their partition's room back.
        assert_eq!(cache.admit_in(b"t1", b"f", 200, 101), Ok(()));
    }

    #[test]
    fn nonces_are_random_and_valid() {
        let a = random_nonce().unwrap();
        assert!(valid_nonce(&a), "{a}");
        assert_eq!(a.len(), 22);
        assert_ne!(a, random_nonce().unwrap());
    }
}
