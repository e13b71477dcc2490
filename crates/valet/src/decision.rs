//! Decisions: the value `authorize` returns.

use std::fmt;

use serde::Serialize;
use valet_policy::DeterminingPolicy;
use valet_token::{Claims, Link, ReasonKind};

use crate::audit::AuditRecord;

/// The three answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Both the token and the policies allow it.
    Allow,
    /// The token or the policies refuse it (or something failed: a failure is a deny).
    Deny,
    /// Only an `@approval` policy stands in the way: ask a human.
    NeedsApproval,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::NeedsApproval => "needs approval",
        })
    }
}

/// Which layer a reason comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// The request itself could not be read.
    Request,
    /// The token layer (signatures and Datalog checks).
    Token,
    /// The policy layer (Cedar).
    Policy,
    /// The audit sink.
    Audit,
    /// A signed approval presented with the request.
    Approval,
}

/// One reason, from one layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// The layer.
    pub layer: Layer,
    /// For token reasons, what kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ReasonKind>,
    /// For token reasons, the block (0 is the authority block).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block: Option<usize>,
    /// For policy reasons, the policy id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The explanation.
    pub message: String,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Reason {
    pub(crate) fn new(layer: Layer, message: impl Into<String>) -> Self {
        Reason {
            layer,
            kind: None,
            block: None,
            policy: None,
            message: message.into(),
        }
    }
}

/// The answer to one request, with everything needed to explain and audit it.
#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    /// Allow, deny or needs-approval.
    pub outcome: Outcome,
    /// Why (empty only for a plain allow with no determining policy text).
    pub reasons: Vec<Reason>,
    /// For needs-approval: what to ask the human.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<String>,
    /// The Cedar policies that determined the outcome.
    pub determining_policies: Vec<DeterminingPolicy>,
    /// The token's claims, when it could be read (verified when `token_verified`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<std::sync::Arc<Claims>>,
    /// Whether the token's signatures were checked and valid.
    pub token_verified: bool,
    /// The audit record written for this decision.
    #[serde(skip)]
    pub audit: AuditRecord,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn allowed(&self) -> bool {
        self.outcome == Outcome::Allow
    }

    /// The token id, if the token had one.
    pub fn token_id(&self) -> Option<&str> {
        self.claims.as_ref()?.token_id.as_deref()
    }

    /// The person the agent acts for.
    pub fn subject(&self) -> Option<&str> {
        self.claims.as_ref().map(|c| c.subject.as_str())
    }

    /// The delegation chain.
    pub fn chain(&self) -> &[Link] {
        self.claims.as_ref().map_or(&[], |c| c.chain.as_slice())
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.outcome)?;
        if let Some(a) = &self.approval {
            write!(f, " ({a})")?;
        }
        for r in &self.reasons {
            write!(f, "\n  - {r}")?;
        }
        Ok(())
    }
}
