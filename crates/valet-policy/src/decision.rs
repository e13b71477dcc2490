//! What the policies say about a transaction: its outcome, the policies that decided it,
//! and the reasons in words.

use std::collections::BTreeMap;

use cedar_policy::Policy;
use serde::{Deserialize, Serialize};

use crate::annotations::annotations_of;

/// What the policies say about a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyOutcome {
    /// A permit applies and no forbid does.
    Allow,
    /// Refused.
    Deny,
    /// Only `@approval` forbids stand in the way: allowed once someone approves.
    NeedsApproval,
}

/// The effect of a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// A `permit` policy.
    Permit,
    /// A `forbid` policy.
    Forbid,
}

/// A policy that decided the outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeterminingPolicy {
    /// The policy id (its `@id`, or `<file stem>.<n>`).
    pub id: String,
    /// Permit or forbid.
    pub effect: Effect,
    /// The policy's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// The decision on one transaction. A deny is a value, not an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyDecision {
    /// Allow, deny or needs approval.
    pub outcome: PolicyOutcome,
    /// The policies that decided: the permits for an allow, the forbids for a deny, the
    /// approval forbids for a needs-approval.
    pub determining: Vec<DeterminingPolicy>,
    /// Whose approval is needed, for [`PolicyOutcome::NeedsApproval`].
    pub approval: Option<String>,
    /// Why, in words, each reason naming the policy it is about when it is about one.
    pub reasons: Vec<PolicyReason>,
}

/// One reason of a [`PolicyDecision`]: its words, and the id of the policy it is about
/// (a permit that allowed, a forbid that denied or asks for approval, a policy that could
/// not be evaluated), or `None` for a reason about the request itself (an action not in
/// the schema, a detail that does not fit it, no permit).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyReason {
    /// The id of the policy the reason is about, if it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The explanation.
    pub message: String,
}

impl PolicyReason {
    /// A reason about no one policy.
    pub fn general(message: impl Into<String>) -> Self {
        PolicyReason {
            policy: None,
            message: message.into(),
        }
    }

    /// A reason about the policy `id`.
    pub fn about(id: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyReason {
            policy: Some(id.into()),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for PolicyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl PolicyDecision {
    pub(crate) fn deny(reasons: Vec<String>) -> Self {
        let reasons = reasons.into_iter().map(PolicyReason::general).collect();
        PolicyDecision {
            outcome: PolicyOutcome::Deny,
            determining: Vec::new(),
            approval: None,
            reasons,
        }
    }

    /// Whether the outcome is [`PolicyOutcome::Allow`].
    pub fn is_allow(&self) -> bool {
        self.outcome == PolicyOutcome::Allow
    }
}

impl DeterminingPolicy {
    /// The policy as it is reported in a decision.
    pub(crate) fn of(policy: &Policy) -> Self {
        DeterminingPolicy {
            id: policy.id().to_string(),
            effect: match policy.effect() {
                cedar_policy::Effect::Permit => Effect::Permit,
                cedar_policy::Effect::Forbid => Effect::Forbid,
            },
            annotations: annotations_of(policy),
        }
    }
}
