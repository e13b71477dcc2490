//! Holder binding: the verifier's holder options, and the checks a bound token's request
//! passes after the signature chain verified (who signed each block, whether the issuer
//! bound the token, the proof of possession and the holder keys it proves), then the
//! consumption of the proof's nonce.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::agent_keys::VerifyingKey;
use crate::claims::{proven_keys, Claims};
use crate::clock::{rfc3339, unix_secs};
use crate::proof::{valid_nonce, HolderProof};
use crate::replay::{ReplayCache, ReplayEntry, ReplayError, ReplayStore};
use crate::request::Request;
use crate::token::Token;
use crate::verdict::{Reason, ReasonKind};

/// How a `Verifier` checks proofs of possession. Defaults: proofs at most 60 s old and at
/// most 5 s in the future, 500 000 live nonces, at most 5 000 of them for one person's
/// agent.
///
/// Every verifier refuses tokens the issuer did not bind to a holder key: only a binding
/// the issuer signed (the authority block's), or one made by a delegation signed by a key
/// bound before it, is accepted, and a binding that anyone holding the token can append is
/// not. Honouring bearer tokens is a separate, explicit opt-in:
/// [`DangerousVerifier::accept_bearer_tokens`](crate::danger::DangerousVerifier::accept_bearer_tokens).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HolderOptions {
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
            max_proof_age: Duration::from_secs(60),
            max_proof_skew: Duration::from_secs(5),
            replay_capacity: 500_000,
            replay_per_agent: 5_000,
        }
    }
}

/// The verifier's holder options, its replay cache, and whether it honours bearer tokens.
#[derive(Clone, Debug)]
pub(crate) struct HolderState {
    options: HolderOptions,
    replay: Arc<dyn ReplayStore>,
    /// Whether `replay` was given rather than made from the options.
    shared_replay: bool,
    /// Honour tokens bound to no holder key (false unless opted in through `danger`).
    accept_bearer: bool,
}

impl HolderState {
    /// Holder checks with these options, a new, empty replay cache, and bearer tokens
    /// honoured as `accept_bearer` says.
    pub(crate) fn new(options: HolderOptions, accept_bearer: bool) -> Self {
        HolderState {
            replay: Arc::new(
                ReplayCache::new(options.replay_capacity)
                    .with_partition_quota(options.replay_per_agent),
            ),
            shared_replay: false,
            options,
            accept_bearer,
        }
    }

    /// Records proofs' nonces in `store` instead of a cache of this process.
    pub(crate) fn set_replay_store(&mut self, store: Arc<dyn ReplayStore>) {
        self.replay = store;
        self.shared_replay = true;
    }

    /// The replay store given with [`set_replay_store`](Self::set_replay_store), if any.
    pub(crate) fn given_replay_store(&self) -> Option<Arc<dyn ReplayStore>> {
        self.shared_replay.then(|| Arc::clone(&self.replay))
    }

    /// Whether tokens bound to no holder key are honoured.
    pub(crate) fn accepts_bearer(&self) -> bool {
        self.accept_bearer
    }

    /// Honours tokens bound to no holder key (the `danger` opt-in).
    pub(crate) fn accept_bearer(&mut self) {
        self.accept_bearer = true;
    }

    /// The holder options in force.
    pub(crate) fn options(&self) -> &HolderOptions {
        &self.options
    }

    /// The holder options, to change one that keeps the replay cache as it is.
    pub(crate) fn options_mut(&mut self) -> &mut HolderOptions {
        &mut self.options
    }
}

impl Default for HolderState {
    fn default() -> Self {
        HolderState::new(HolderOptions::default(), false)
    }
}

/// A proof of possession whose signature and freshness were checked, by a key the token
/// binds, whose nonce is still to be consumed (once the token's checks allow the
/// request, see [`HolderState::admit`]).
#[derive(Debug)]
pub(crate) struct CheckedProof {
    /// The person and agent the token is for (see `replay_partition`): the replay
    /// cache's partition.
    partition: Vec<u8>,
    id: Vec<u8>,
    issued: u64,
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

impl HolderState {
    /// After the signature chain verified: marks the signed links verified, refuses a
    /// token the issuer did not bind (unless bearer tokens are accepted), checks a
    /// presented proof (its window, its signature, and that the token binds its key) and
    /// returns the holder keys the request proves, for the `request_holder` facts. The
    /// proof's nonce is consumed only once the token's checks allow the request
    /// ([`admit`](Self::admit)).
    pub(crate) fn check(
        &self,
        signers: &[Option<VerifyingKey>],
        token: &Token,
        request: &Request,
        proof: Option<&HolderProof>,
        now: SystemTime,
        claims: &mut Claims,
    ) -> Result<HolderFindings, Reason> {
        // Signers as the verified chain states them.
        for link in &mut claims.chain {
            let signer = signers.get(link.block).copied().flatten();
            link.verified = signer.is_some();
            link.signed_by = signer;
        }
        if !self.accept_bearer && !issuer_bound(token, signers) {
            let message = if token.specs.iter().any(|s| s.holder.is_some()) {
                "this verifier accepts only tokens the issuer bound to a holder key, and this token's binding was appended by a block no bound key signed, which anyone holding the token can do: mint the token with the agent's public key and sign a proof of possession for each request"
            } else {
                "this verifier accepts only tokens bound to a holder key, and this token is a bearer token, which anyone holding a copy of it can use: mint the token with the agent's public key and sign a proof of possession for each request (a verifier honours bearer tokens only when built with `accept_bearer_tokens`)"
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
        let links: Vec<_> = token
            .specs
            .iter()
            .zip(signers)
            .map(|(spec, signer)| (spec.holder, *signer))
            .collect();
        let proven = proven_keys(key, &links);
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
        let options = &self.options;
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
            issued: proof.timestamp,
            expires: proof
                .timestamp
                .saturating_add(options.max_proof_age.as_secs()),
            nonce: proof.nonce.clone(),
        })
    }

    /// Consumes a checked proof's nonce, in its agent's partition of the replay
    /// cache: a second use is refused, as is a proof beyond the token's quota or the
    /// cache's capacity.
    pub(crate) fn admit(&self, proof: &CheckedProof, now: SystemTime) -> Result<(), Reason> {
        let refuse = |m: String| Err(reason(ReasonKind::Proof, None, m));
        let entry = ReplayEntry {
            partition: &proof.partition,
            id: &proof.id,
            issued_at: proof.issued,
            expires_at: proof.expires,
            now: unix_secs(now),
        };
        match self.replay.admit_once(&entry) {
            Ok(()) => Ok(()),
            Err(ReplayError::Replayed) => refuse(format!(
                "the proof of possession was already used (nonce `{}`): sign a fresh proof, with a new nonce, for each request",
                proof.nonce
            )),
            Err(ReplayError::QuotaExceeded { quota }) => refuse(format!(
                "this agent's tokens have {quota} unexpired proofs in the verifier's replay cache, the most one person's agent may hold: wait for older proofs to expire, or raise the verifier's per-agent quota"
            )),
            Err(ReplayError::Full { capacity }) => refuse(format!(
                "the verifier's replay cache holds {capacity} unexpired proofs, so new proofs are refused until some expire: raise its capacity or shorten the proof window"
            )),
            Err(ReplayError::IssuedBeforeLoss) => refuse(
                "the proof of possession was signed before the replay store lost its memory (it restarted empty), so whether it was used cannot be told: sign a fresh proof".into(),
            ),
            Err(ReplayError::Unavailable(why)) => Err(reason(
                ReasonKind::Internal,
                None,
                format!("the verifier's replay store is unreachable, so no proof of possession can be accepted: {why}"),
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

/// Whether a binding that a verifier refusing bearer tokens accepts holds: the authority
/// block's (the issuer signed it), or one made by a block signed by a key bound before it.
/// A block without a third-party signature can be appended by anyone holding the token,
/// so its binding narrows the token (its check is enforced) but does not make a bearer
/// token bound.
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
