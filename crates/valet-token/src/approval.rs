//! Signed approvals: a person's signature, from their own device, allowing one exact
//! transaction that a policy sent for step-up approval.

use std::collections::BTreeSet;
use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::error::TokenError;
use crate::holder::{details_digest, SigningKey, VerifyingKey};
use crate::model::{rfc3339, unix_secs, Audience};
use crate::verify::Request;

/// The prefix of every approval signing input.
pub const APPROVAL_CONTEXT: &str = "valet-approval/v1";

/// An approver's signature allowing one transaction: for one subject, at one audience,
/// one action, one transaction (by digest), until a short expiry.
///
/// JSON: `{"approver": "ed25519/<hex>", "subject": ..., "audience": ..., "action": ...,
/// "details_digest": "<hex sha256>", "expires_at": <unix seconds>, "signature":
/// "<base64url>"}`. The signed input is [`Approval::signing_input`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The approver's public key.
    pub approver: VerifyingKey,
    /// The person the agent acts for (the token's subject).
    pub subject: String,
    /// Where the transaction is performed.
    pub audience: Audience,
    /// The operation.
    pub action: String,
    /// [`details_digest`] of the transaction.
    pub details_digest: String,
    /// Unix seconds after which it no longer approves anything.
    pub expires_at: u64,
    /// The Ed25519 signature of the signing input.
    #[serde(with = "crate::holder::b64")]
    pub signature: Vec<u8>,
}

impl fmt::Debug for Approval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Approval")
            .field("approver", &self.approver)
            .field("subject", &self.subject)
            .field("audience", &self.audience)
            .field("action", &self.action)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Why an approval does not approve a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalError {
    /// The approver's key is not among the trusted approvers.
    #[error("the approval is signed by {0}, which is not a trusted approver")]
    Untrusted(VerifyingKey),
    /// The signature does not verify.
    #[error("the approval's signature does not verify: it was altered after signing")]
    Signature,
    /// Past its expiry.
    #[error("the approval expired at {}", rfc3339(*.0))]
    Expired(u64),
    /// Expires further ahead than the verifier accepts.
    #[error("the approval expires at {at}, further ahead than the {max_secs} s this verifier accepts: approve with a shorter expiry", at = rfc3339(*expires_at))]
    TooLong {
        /// Its expiry, Unix seconds.
        expires_at: u64,
        /// The longest lifetime accepted, in seconds.
        max_secs: u64,
    },
    /// It approves another subject, audience, action or transaction.
    #[error("the approval is for {0}, not this request")]
    Mismatch(String),
}

fn no_line_breaks(what: &str, text: &str) -> Result<(), TokenError> {
    if text.contains(['\n', '\r']) {
        Err(TokenError::Invalid(format!(
            "the {what} contains a line break"
        )))
    } else {
        Ok(())
    }
}

impl Approval {
    /// Signs an approval of `request` for `subject`, valid until `expires_at`.
    pub fn sign(
        key: &SigningKey,
        subject: impl Into<String>,
        request: &Request,
        expires_at: SystemTime,
    ) -> Result<Self, TokenError> {
        let subject = subject.into();
        no_line_breaks("subject", &subject)?;
        no_line_breaks("action", &request.action)?;
        let mut approval = Approval {
            approver: key.public(),
            subject,
            audience: request.audience.clone(),
            action: request.action.clone(),
            details_digest: details_digest(request.details.as_ref()),
            expires_at: unix_secs(expires_at),
            signature: Vec::new(),
        };
        approval.signature = key
            .sign(&approval.signing_input())
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        Ok(approval)
    }

    /// The bytes an approval signs, lines joined by `\n` (no final newline):
    /// `valet-approval/v1`, the subject, the audience, the action, the details digest, the
    /// expiry (decimal Unix seconds).
    pub fn signing_input(&self) -> Vec<u8> {
        format!(
            "{APPROVAL_CONTEXT}\n{}\n{}\n{}\n{}\n{}",
            self.subject, self.audience, self.action, self.details_digest, self.expires_at
        )
        .into_bytes()
    }

    /// Checks that a trusted approver signed this approval, that it has not expired and
    /// expires at most `max_lifetime_secs` after `now`, and that it approves exactly
    /// `request` for `subject`.
    pub fn check(
        &self,
        approvers: &ApproverSet,
        subject: &str,
        request: &Request,
        now: SystemTime,
        max_lifetime_secs: u64,
    ) -> Result<(), ApprovalError> {
        if !approvers.contains(&self.approver) {
            return Err(ApprovalError::Untrusted(self.approver));
        }
        if self.subject.contains(['\n', '\r'])
            || self.action.contains(['\n', '\r'])
            || !self.approver.verify(&self.signing_input(), &self.signature)
        {
            return Err(ApprovalError::Signature);
        }
        let t = unix_secs(now);
        if t > self.expires_at {
            return Err(ApprovalError::Expired(self.expires_at));
        }
        if self.expires_at > t.saturating_add(max_lifetime_secs) {
            return Err(ApprovalError::TooLong {
                expires_at: self.expires_at,
                max_secs: max_lifetime_secs,
            });
        }
        let mismatch = if self.subject != subject {
            Some(format!("subject `{}`", self.subject))
        } else if self.audience != request.audience {
            Some(format!("audience {}", self.audience))
        } else if self.action != request.action {
            Some(format!("action `{}`", self.action))
        } else if self.details_digest != details_digest(request.details.as_ref()) {
            Some("another transaction (its details digest differs)".to_owned())
        } else {
            None
        };
        match mismatch {
            Some(m) => Err(ApprovalError::Mismatch(m)),
            None => Ok(()),
        }
    }

    /// The JSON form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the JSON form.
    pub fn from_json(text: &str) -> Result<Self, TokenError> {
        serde_json::from_str(text)
            .map_err(|e| TokenError::Invalid(format!("not a valet approval: {e}")))
    }
}

/// The approvers' public keys a verifier trusts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApproverSet {
    keys: BTreeSet<VerifyingKey>,
}

impl ApproverSet {
    /// An empty set: no approval is accepted.
    pub fn new() -> Self {
        ApproverSet::default()
    }

    /// Adds a key, builder style.
    #[must_use]
    pub fn with(mut self, key: VerifyingKey) -> Self {
        self.keys.insert(key);
        self
    }

    /// Adds a key.
    pub fn insert(&mut self, key: VerifyingKey) {
        self.keys.insert(key);
    }

    /// Whether the key is trusted.
    pub fn contains(&self, key: &VerifyingKey) -> bool {
        self.keys.contains(key)
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
