//! What an agent presents beside its token (a proof of possession, signed approvals), the
//! authorizer's options for them, and how a signed approval settles a needs-approval
//! decision.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use valet_token::{Approval, ApproverSet, HolderOptions, HolderProof, Request, Token};

use crate::audit::ApprovalRecord;
use crate::decision::Parts;
use crate::outcome::{Layer, Outcome, Reason};
use crate::stores::{ApprovalId, ApprovalStore, MemoryApprovals, Spent, StoreError};

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

/// The authorizer builder's holder and approval settings.
#[derive(Clone)]
pub(crate) struct Extras {
    pub(crate) holder: HolderOptions,
    pub(crate) approvers: ApproverSet,
    pub(crate) max_approval_lifetime: Duration,
    pub(crate) store: Option<Arc<dyn ApprovalStore>>,
}

impl Default for Extras {
    fn default() -> Self {
        Extras {
            holder: HolderOptions::default(),
            approvers: ApproverSet::new(),
            max_approval_lifetime: DEFAULT_MAX_APPROVAL_LIFETIME,
            store: None,
        }
    }
}

impl std::fmt::Debug for Extras {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extras")
            .field("holder", &self.holder)
            .field("approvers", &self.approvers)
            .field("max_approval_lifetime", &self.max_approval_lifetime)
            .finish_non_exhaustive()
    }
}

impl Extras {
    pub(crate) fn state(&self) -> ApprovalState {
        ApprovalState {
            approvers: self.approvers.clone(),
            max_lifetime: self.max_approval_lifetime,
            spent: self
                .store
                .clone()
                .unwrap_or_else(|| Arc::new(MemoryApprovals::new())),
        }
    }
}

/// The authorizer's trusted approvers and its store of approvals already spent (each
/// approval allows one request).
pub(crate) struct ApprovalState {
    approvers: ApproverSet,
    max_lifetime: Duration,
    spent: Arc<dyn ApprovalStore>,
}

impl std::fmt::Debug for ApprovalState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApprovalState")
            .field("approvers", &self.approvers)
            .field("max_lifetime", &self.max_lifetime)
            .finish_non_exhaustive()
    }
}

impl ApprovalState {
    /// The longest lifetime accepted, when some approver is trusted.
    pub(crate) fn lifetime(&self) -> Option<Duration> {
        (!self.approvers.is_empty()).then_some(self.max_lifetime)
    }
}

/// Why one presented approval did not settle the request.
enum Refusal {
    /// It is not usable for this request: the decision stays needs-approval.
    Unusable(String),
    /// The approval store could not say whether it was spent: the request is denied.
    Store(StoreError),
}

impl Refusal {
    fn message(&self) -> String {
        match self {
            Refusal::Unusable(m) => m.clone(),
            Refusal::Store(e @ StoreError::Full(_)) => format!(
                "the approval store cannot record it: {e}: try again when some have expired"
            ),
            Refusal::Store(e) => format!(
                "the approval store is unreachable, so the approval cannot be spent: {e}: try again when it answers"
            ),
        }
    }
}

/// Checks one approval and spends it in the store.
fn spend(
    approval: &Approval,
    state: &ApprovalState,
    subject: &str,
    token: &Token,
    request: &Request,
    now: SystemTime,
) -> Result<(), Refusal> {
    approval
        .check(
            &state.approvers,
            subject,
            token,
            request,
            now,
            state.max_lifetime.as_secs(),
        )
        .map_err(|e| Refusal::Unusable(e.to_string()))?;
    let expires_at = SystemTime::UNIX_EPOCH + Duration::from_secs(approval.expires_at);
    match state
        .spent
        .spend(&ApprovalId::of(approval), expires_at, now)
    {
        Ok(Spent::First) => Ok(()),
        Ok(Spent::Again) => Err(Refusal::Unusable(
            "the approval was already used".to_owned(),
        )),
        Err(e) => Err(Refusal::Store(e)),
    }
}

/// Turns the parts of a needs-approval decision into an allow when one presented approval,
/// signed by a trusted approver, approves exactly this request made with this token and
/// has not been spent; into a deny when the approval store cannot answer; and keeps a
/// record of every presented approval.
pub(crate) fn settle(
    mut parts: Parts,
    state: &ApprovalState,
    token: &Token,
    request: &Request,
    approvals: &[Approval],
    now: SystemTime,
) -> Parts {
    if approvals.is_empty() {
        return parts;
    }
    let subject = parts.subject().unwrap_or_default().to_owned();
    let asked = parts.outcome == Outcome::NeedsApproval;
    let mut accepted = false;
    let mut store_failed = false;
    for approval in approvals {
        let refused = if !asked {
            Some("no policy asked for an approval".to_owned())
        } else if accepted {
            Some("another approval was used".to_owned())
        } else if store_failed {
            Some("the approval store did not answer for an earlier approval".to_owned())
        } else {
            match spend(approval, state, &subject, token, request, now) {
                Ok(()) => None,
                Err(r) => {
                    store_failed = matches!(r, Refusal::Store(_));
                    Some(r.message())
                }
            }
        };
        if refused.is_none() {
            accepted = true;
            parts.reasons.push(Reason::new(
                Layer::Approval,
                format!(
                    "approved by {} (valid until {})",
                    approval.approver,
                    valet_token::rfc3339(approval.expires_at)
                ),
            ));
        } else if asked {
            parts.reasons.push(Reason::new(
                Layer::Approval,
                format!(
                    "an approval was not used: {}",
                    refused.as_deref().unwrap_or_default()
                ),
            ));
        }
        parts.approvals.push(ApprovalRecord {
            approver: approval.approver,
            expires_at: approval.expires_at,
            accepted: refused.is_none(),
            refused,
        });
    }
    if accepted {
        parts.outcome = Outcome::Allow;
        parts.approval = None;
    } else if store_failed {
        // Fail closed: without the store no approval can be spent, so none is asked for.
        parts.outcome = Outcome::Deny;
        parts.approval = None;
    }
    parts
}
