//! What an agent presents beside its token (a proof of possession, signed approvals), the
//! authorizer's options for them, and how a signed approval settles a needs-approval
//! decision.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use valet_token::{
    Approval, ApproverSet, HolderOptions, HolderProof, ReplayCache, ReplayError, Request,
    VerifyingKey,
};

use crate::authorizer::AuthorizerBuilder;
use crate::decision::{Decision, Layer, Outcome, Reason};

/// The default longest lifetime of an approval an authorizer accepts: 15 minutes.
pub const DEFAULT_MAX_APPROVAL_LIFETIME: Duration = Duration::from_secs(900);

/// What an agent sends beside its token: the holder's proof of possession (needed when the
/// token is bound) and signed approvals (used when a policy asks for one).
#[derive(Clone, Debug, Default)]
pub struct Presentation {
    /// The proof of possession, if sent.
    pub proof: Option<HolderProof>,
    /// Signed approvals, if sent.
    pub approvals: Vec<Approval>,
}

impl Presentation {
    /// Nothing beside the token.
    pub fn new() -> Self {
        Presentation::default()
    }

    /// Adds the proof of possession.
    #[must_use]
    pub fn proof(mut self, proof: HolderProof) -> Self {
        self.proof = Some(proof);
        self
    }

    /// Adds a signed approval.
    #[must_use]
    pub fn approval(mut self, approval: Approval) -> Self {
        self.approvals.push(approval);
        self
    }
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

/// The authorizer builder's holder and approval settings.
#[derive(Clone, Debug)]
pub(crate) struct Extras {
    pub(crate) holder: HolderOptions,
    approvers: ApproverSet,
    max_approval_lifetime: Duration,
    approval_capacity: usize,
}

impl Default for Extras {
    fn default() -> Self {
        Extras {
            holder: HolderOptions::default(),
            approvers: ApproverSet::new(),
            max_approval_lifetime: DEFAULT_MAX_APPROVAL_LIFETIME,
            approval_capacity: 10_000,
        }
    }
}

impl Extras {
    pub(crate) fn state(&self) -> ApprovalState {
        ApprovalState {
            approvers: self.approvers.clone(),
            max_lifetime: self.max_approval_lifetime,
            used: Arc::new(ReplayCache::new(self.approval_capacity)),
        }
    }
}

/// The authorizer's trusted approvers and its record of approvals already used (each
/// approval allows one request).
#[derive(Debug)]
pub(crate) struct ApprovalState {
    approvers: ApproverSet,
    max_lifetime: Duration,
    used: Arc<ReplayCache>,
}

impl ApprovalState {
    /// The longest lifetime accepted, when some approver is trusted.
    pub(crate) fn lifetime(&self) -> Option<Duration> {
        (!self.approvers.is_empty()).then_some(self.max_lifetime)
    }
}

impl AuthorizerBuilder {
    /// Refuses tokens that bind no holder key (default: bearer tokens allowed).
    #[must_use]
    pub fn require_holder_binding(mut self, required: bool) -> Self {
        self.extra.holder.require_binding = required;
        self
    }

    /// How old (default 60 s) and how far ahead (default 5 s) a proof of possession may be.
    #[must_use]
    pub fn proof_window(mut self, max_age: Duration, max_skew: Duration) -> Self {
        self.extra.holder.max_proof_age = max_age;
        self.extra.holder.max_proof_skew = max_skew;
        self
    }

    /// Replaces every holder option.
    #[must_use]
    pub fn holder_options(mut self, options: HolderOptions) -> Self {
        self.extra.holder = options;
        self
    }

    /// Trusts this approver's key for signed approvals.
    #[must_use]
    pub fn approver(mut self, key: VerifyingKey) -> Self {
        self.extra.approvers.insert(key);
        self
    }

    /// Trusts these approvers' keys (replacing any set before).
    #[must_use]
    pub fn approvers(mut self, approvers: ApproverSet) -> Self {
        self.extra.approvers = approvers;
        self
    }

    /// The longest an approval may still be valid when presented (default 15 minutes).
    #[must_use]
    pub fn max_approval_lifetime(mut self, max: Duration) -> Self {
        self.extra.max_approval_lifetime = max;
        self
    }
}

/// Turns a needs-approval decision into an allow when one presented approval, signed by
/// a trusted approver, approves exactly this request and has not been used; records every
/// presented approval in the audit record.
pub(crate) fn settle(
    mut decision: Decision,
    state: &ApprovalState,
    request: &Request,
    presented: &crate::Presentation,
    now: SystemTime,
) -> Decision {
    if presented.approvals.is_empty() {
        return decision;
    }
    let subject = decision.subject().unwrap_or_default().to_owned();
    let t = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut accepted = false;
    for approval in &presented.approvals {
        let refused = if decision.outcome != Outcome::NeedsApproval {
            Some("no policy asked for an approval".to_owned())
        } else if accepted {
            Some("another approval was used".to_owned())
        } else {
            match approval.check(
                &state.approvers,
                &subject,
                request,
                now,
                state.max_lifetime.as_secs(),
            ) {
                Err(e) => Some(e.to_string()),
                Ok(()) => match state
                    .used
                    .admit(&approval.signature, approval.expires_at, t)
                {
                    Ok(()) => None,
                    Err(ReplayError::Replayed) => Some("the approval was already used".to_owned()),
                    Err(e) => Some(format!("the approval cannot be recorded as used: {e}")),
                },
            }
        };
        if refused.is_none() {
            accepted = true;
            decision.reasons.push(Reason::new(
                Layer::Approval,
                format!(
                    "approved by {} (valid until {})",
                    approval.approver,
                    valet_token::rfc3339(approval.expires_at)
                ),
            ));
        } else if decision.outcome == Outcome::NeedsApproval {
            decision.reasons.push(Reason::new(
                Layer::Approval,
                format!(
                    "an approval was not used: {}",
                    refused.as_deref().unwrap_or_default()
                ),
            ));
        }
        decision.audit.approvals.push(ApprovalRecord {
            approver: approval.approver,
            expires_at: approval.expires_at,
            accepted: refused.is_none(),
            refused,
        });
    }
    if accepted {
        decision.outcome = Outcome::Allow;
        decision.approval = None;
        decision.audit.outcome = Outcome::Allow;
        decision.audit.approval = None;
    }
    decision.audit.reasons = decision.reasons.clone();
    decision
}
