//! The verifier's answer: a verdict (allowed with the verified claims, or denied with
//! reasons), never an error.

use std::fmt;

use serde::Serialize;

use crate::claims::Claims;

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
    pub(crate) fn new(kind: ReasonKind, message: impl Into<String>) -> Self {
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
    /// The token of these claims, once its signatures and checks passed.
    pub(crate) fn new(claims: Claims) -> Self {
        VerifiedToken { claims }
    }

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

    pub(crate) fn deny(reason: Reason, claims: Option<Claims>) -> Self {
        Verdict::Denied(Denial {
            reasons: vec![reason],
            claims,
            signature_verified: false,
            proof_verified: false,
        })
    }
}
