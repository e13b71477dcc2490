//! The audit record of one decision: one JSON line, never the token and never key material.

use serde::Serialize;
use valet_token::{Link, RevocationId, TransactionDetails, VerifyingKey};

use crate::outcome::{Outcome, Reason};
use valet_policy::DeterminingPolicy;

/// What is recorded for every decision. Built with the [`Decision`](crate::Decision) it
/// records, from the same parts, and never edited afterwards.
#[derive(Clone, Debug, Serialize)]
pub struct AuditRecord {
    /// When the decision was made (RFC 3339, the verifier's clock).
    pub time: String,
    /// Allow, deny or needs-approval.
    pub outcome: Outcome,
    /// Why.
    pub reasons: Vec<Reason>,
    /// The approval text, for needs-approval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// The token id, if any. This and the members below up to `chain` are set only for
    /// a token whose signatures verified; see `unverified_claims` otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// The person the agent acts for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The agent the token was minted for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The acting agent: the last delegate, else the client. A delegate's name is
    /// self-asserted (written by whoever cut its block); `client` is the issuer's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Every attenuation block with its delegate and narrowing.
    pub chain: Vec<Link>,
    /// Whether the token's signatures were verified.
    pub token_verified: bool,
    /// What a token whose signatures were not verified (refused before they were
    /// checked, or whose signatures failed) says of itself: anyone could have written it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unverified_claims: Option<UnverifiedClaims>,
    /// Where the token was presented.
    pub audience: String,
    /// The operation.
    pub action: String,
    /// The transaction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_details: Option<TransactionDetails>,
    /// The Cedar policies that determined the outcome.
    pub determining_policies: Vec<DeterminingPolicy>,
    /// The token's revocation ids, authority first.
    pub revocation_ids: Vec<RevocationId>,
    /// The key of the proof of possession presented, when its signature verified for a
    /// key the token binds (see `reasons` for whether it was accepted: a replayed proof
    /// is recorded and refused). A proof that was not checked or did not verify is not
    /// recorded. Each link of `chain` says which key signed it (`signed_by`) and
    /// whether that was verified (`verified`) or only self-asserted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proof_key: Option<VerifyingKey>,
    /// Every signed approval presented, accepted or not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalRecord>,
    /// The replica that made the decision, when the authorizer was given a name
    /// ([`AuthorizerBuilder::replica`](crate::AuthorizerBuilder::replica)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
}

/// What the audit record keeps of one presented approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApprovalRecord {
    /// The approver's key.
    pub approver: VerifyingKey,
    /// Its expiry, Unix seconds.
    pub expires_at: u64,
    /// Whether it turned a needs-approval into an allow.
    pub accepted: bool,
    /// Why it was not used, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// The claims of a token whose signatures were not verified, as it states them.
#[derive(Clone, Debug, Serialize)]
pub struct UnverifiedClaims {
    /// The token id it states.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// The person it names.
    pub subject: String,
    /// The client it names.
    pub client: String,
    /// The last delegate it names, else its client.
    pub agent: String,
    /// Its attenuation blocks (every link `verified: false`).
    pub chain: Vec<Link>,
    /// Its blocks' revocation ids, as read.
    pub revocation_ids: Vec<RevocationId>,
}

impl AuditRecord {
    /// The record as one JSON line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            serde_json::json!({
                "time": self.time,
                "outcome": "deny",
                "reasons": [{"layer": "audit", "message": format!("audit encoding failed: {e}")}],
            })
            .to_string()
        })
    }
}
