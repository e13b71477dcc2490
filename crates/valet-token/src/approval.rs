//! Signed approvals: a person's signature, from their own device, allowing one exact
//! transaction that a policy sent for step-up approval.

use std::collections::BTreeSet;
use std::fmt;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::agent_keys::{SigningKey, VerifyingKey};
use crate::audience::Audience;
use crate::clock::{rfc3339, unix_secs};
use crate::error::TokenError;
use crate::proof::{details_digest, token_digest};
use crate::request::Request;
use crate::token::Token;

/// The prefix of every approval signing input.
pub const APPROVAL_CONTEXT: &str = "valet-approval/v2";

/// An approver's signature allowing one transaction: for one subject, presented with one
/// token, at one audience, one action, one transaction (by digest), until a short expiry.
///
/// JSON: `{"approver": "ed25519/<hex>", "subject": ..., "token_digest": "<hex sha256>",
/// "audience": ..., "action": ..., "details_digest": "<hex sha256>", "expires_at": <unix
/// seconds>, "signature": "<base64url>"}`. The signed input is [`Approval::signing_input`].
/// Approvals of `valet-approval/v1`, which named no token, are refused: sign a new one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The approver's public key.
    pub approver: VerifyingKey,
    /// The person the agent acts for (the token's subject).
    pub subject: String,
    /// [`token_digest`] of the token whose request it settles: another token of the same
    /// subject (another of the person's agents) cannot spend it.
    pub token_digest: String,
    /// Where the transaction is performed.
    pub audience: Audience,
    /// The operation.
    pub action: String,
    /// [`details_digest`] of the transaction.
    pub details_digest: String,
    /// Unix seconds after which it no longer approves anything.
    pub expires_at: u64,
    /// The Ed25519 signature of the signing input.
    #[serde(with = "crate::encoding::b64")]
    pub signature: Vec<u8>,
}

impl fmt::Debug for Approval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Approval")
            .field("approver", &self.approver)
            .field("subject", &self.subject)
            .field("token_digest", &self.token_digest)
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
    /// It was signed for another token (another agent of the same person, or the token
    /// before an attenuation).
    #[error("this approval is for another token: ask the approver to sign one for the token presented, whose digest is `{0}`")]
    OtherToken(String),
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
    /// Signs an approval of `request` for `subject`, made with `token` (the token the
    /// agent presents with the request, exactly: an attenuated copy is another token),
    /// valid until `expires_at`.
    pub fn sign(
        key: &SigningKey,
        subject: impl Into<String>,
        token: &Token,
        request: &Request,
        expires_at: SystemTime,
    ) -> Result<Self, TokenError> {
        Self::sign_for_token_digest(key, subject, &token_digest(token), request, expires_at)
    }

    /// Signs an approval as [`sign`](Self::sign) does, for the token whose
    /// [`token_digest`] is `digest` (64 lowercase hex digits): what an approver's device
    /// does with the digest a refusal names, without ever holding the token.
    pub fn sign_for_token_digest(
        key: &SigningKey,
        subject: impl Into<String>,
        digest: &str,
        request: &Request,
        expires_at: SystemTime,
    ) -> Result<Self, TokenError> {
        if digest.len() != 64
            || !digest
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(TokenError::Invalid(format!(
                "`{digest}` is not a token digest: give the 64 lowercase hex digits of the token's SHA-256"
            )));
        }
        let subject = subject.into();
        no_line_breaks("subject", &subject)?;
        no_line_breaks("action", &request.action)?;
        let mut approval = Approval {
            approver: key.public(),
            subject,
            token_digest: digest.to_owned(),
            audience: request.audience.clone(),
            action: request.action.clone(),
            details_digest: details_digest(request.details.as_ref()),
            expires_at: unix_secs(expires_at),
            signature: Vec::new(),
        };
        approval.signature = key.sign(&approval.signing_input());
        Ok(approval)
    }

    /// The bytes an approval signs, lines joined by `\n` (no final newline):
    /// `valet-approval/v2`, the subject, the token digest, the audience, the action, the
    /// details digest, the expiry (decimal Unix seconds).
    pub fn signing_input(&self) -> Vec<u8> {
        format!(
            "{APPROVAL_CONTEXT}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.subject,
            self.token_digest,
            self.audience,
            self.action,
            self.details_digest,
            self.expires_at
        )
        .into_bytes()
    }

    /// What a store records as spent: the SHA-256 of the approver's key followed by the
    /// signing input. Equal for two approvals exactly when they approve the same
    /// transaction of the same token until the same expiry, by the same approver.
    pub fn id(&self) -> [u8; 32] {
        let mut hash = Sha256::new();
        hash.update(self.approver.to_bytes());
        hash.update(self.signing_input());
        hash.finalize().into()
    }

    /// Checks that a trusted approver signed this approval, that it has not expired and
    /// expires at most `max_lifetime_secs` after `now`, and that it approves exactly
    /// `request` made with `token` for `subject`.
    pub fn check(
        &self,
        approvers: &ApproverSet,
        subject: &str,
        token: &Token,
        request: &Request,
        now: SystemTime,
        max_lifetime_secs: u64,
    ) -> Result<(), ApprovalError> {
        if !approvers.contains(&self.approver) {
            return Err(ApprovalError::Untrusted(self.approver));
        }
        if self.subject.contains(['\n', '\r'])
            || self.token_digest.contains(['\n', '\r'])
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
        let presented = token_digest(token);
        if self.token_digest != presented {
            return Err(ApprovalError::OtherToken(presented));
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
    pub fn to_json(&self) -> Result<String, TokenError> {
        serde_json::to_string(self).map_err(|e| TokenError::Json {
            what: "approval",
            reason: e.to_string(),
        })
    }

    /// Reads the JSON form. An approval of `valet-approval/v1` (without `token_digest`) is
    /// refused: it names no token, so any agent of the subject could spend it.
    pub fn from_json(text: &str) -> Result<Self, TokenError> {
        serde_json::from_str(text).map_err(|e| {
            let v1 = serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| {
                v.get("signature").is_some() && v.get("token_digest").is_none()
            });
            TokenError::Invalid(if v1 {
                "this is a `valet-approval/v1` approval, which names no token and is no longer accepted: sign a new approval for the token the agent presents".to_owned()
            } else {
                format!("not a valet approval: {e}")
            })
        })
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::issuer::{Issuer, TokenBuilder};
    use crate::keys::{KeyId, RootKeyPair};

    fn mint(root: &RootKeyPair, client: &str, now: SystemTime) -> Token {
        let grant = TokenBuilder::new("alice@example.com", client)
            .audience(Audience::parse("https://pay.example.com").unwrap())
            .expires_in(Duration::from_secs(900))
            .holder(crate::agent_keys::SigningKey::generate().public());
        Issuer::new(root.clone()).mint_at(grant, now).unwrap()
    }

    #[test]
    fn an_approval_names_the_token_it_settles() {
        let root = RootKeyPair::generate(KeyId(1));
        let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let token = mint(&root, "https://agent.example/client", now);
        let other = mint(&root, "https://other-agent.example/client", now);
        let approver = SigningKey::generate();
        let approvers = ApproverSet::new().with(approver.public());
        let request = Request::new(
            Audience::parse("https://pay.example.com").unwrap(),
            "pay_invoice",
        );
        let until = now + Duration::from_secs(60);
        let approval =
            Approval::sign(&approver, "alice@example.com", &token, &request, until).unwrap();
        let input = String::from_utf8(approval.signing_input()).unwrap();
        let lines: Vec<&str> = input.split('\n').collect();
        assert_eq!(lines[0], "valet-approval/v2");
        assert_eq!(lines[2], token_digest(&token));
        let back = Approval::from_json(&approval.to_json().unwrap()).unwrap();
        assert_eq!(back, approval);
        assert_eq!(back.id(), approval.id());
        assert_eq!(
            approval.check(&approvers, "alice@example.com", &token, &request, now, 900),
            Ok(())
        );
        let refused = approval
            .check(&approvers, "alice@example.com", &other, &request, now, 900)
            .unwrap_err();
        assert_eq!(refused, ApprovalError::OtherToken(token_digest(&other)));
        assert!(refused
            .to_string()
            .starts_with("this approval is for another token: "));
        // Pointing it at the other token breaks its signature.
        let mut moved = approval.clone();
        moved.token_digest = token_digest(&other);
        assert_eq!(
            moved.check(&approvers, "alice@example.com", &other, &request, now, 900),
            Err(ApprovalError::Signature)
        );
        assert_ne!(moved.id(), approval.id());
        // Signed from the digest alone, it is the same approval.
        let by_digest = Approval::sign_for_token_digest(
            &approver,
            "alice@example.com",
            &token_digest(&token),
            &request,
            until,
        )
        .unwrap();
        assert_eq!(by_digest, approval);
        for bad in ["", "abc", &token_digest(&token).to_uppercase()] {
            assert!(Approval::sign_for_token_digest(
                &approver,
                "alice@example.com",
                bad,
                &request,
                until
            )
            .is_err());
        }
    }

    #[test]
    fn a_v1_approval_is_refused_with_what_to_do() {
        let root = RootKeyPair::generate(KeyId(1));
        let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let token = mint(&root, "https://agent.example/client", now);
        let approver = SigningKey::generate();
        let request = Request::new(
            Audience::parse("https://pay.example.com").unwrap(),
            "pay_invoice",
        );
        let approval = Approval::sign(
            &approver,
            "alice@example.com",
            &token,
            &request,
            now + Duration::from_secs(60),
        )
        .unwrap();
        let mut v1: serde_json::Value = serde_json::from_str(&approval.to_json().unwrap()).unwrap();
        v1.as_object_mut().unwrap().remove("token_digest");
        let err = Approval::from_json(&v1.to_string())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`valet-approval/v1`"), "{err}");
        assert!(err.contains("sign a new approval"), "{err}");
        let err = Approval::from_json("{\"approver\": 1}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a valet approval"), "{err}");
    }
}
