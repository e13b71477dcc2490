//! The answer of a decision and the reasons given for it, from each layer.

use std::fmt;

use serde::Serialize;
use valet_token::ReasonKind;

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
