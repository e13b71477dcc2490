//! Decisions: the value [`Authorizer::authorize`](crate::Authorizer::authorize) returns,
//! built once from its parts, with its audit record derived from it in one place.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use valet_policy::DeterminingPolicy;
use valet_token::{rfc3339, Claims, Link, Request, VerifyingKey};

use crate::audit::{ApprovalRecord, AuditRecord, UnverifiedClaims};
use crate::outcome::{Outcome, Reason};

/// The parts of a decision, gathered before it is built: what each stage of the
/// authorizer (token layer, policies, approvals, proof of possession) concluded. Nothing
/// edits a [`Decision`] once built; a stage that changes the answer changes these parts.
#[derive(Clone, Debug)]
pub(crate) struct Parts {
    pub(crate) outcome: Outcome,
    pub(crate) reasons: Vec<Reason>,
    pub(crate) approval: Option<String>,
    pub(crate) determining: Vec<DeterminingPolicy>,
    pub(crate) claims: Option<Arc<Claims>>,
    pub(crate) token_verified: bool,
    /// The key of a proof of possession whose signature verified.
    pub(crate) proof_key: Option<VerifyingKey>,
    pub(crate) approvals: Vec<ApprovalRecord>,
}

impl Parts {
    /// The token layer's answer: this outcome for these reasons, with the token's claims
    /// (verified when `token_verified`), before any policy, approval or proof key.
    pub(crate) fn token(
        outcome: Outcome,
        reasons: Vec<Reason>,
        claims: Option<Arc<Claims>>,
        token_verified: bool,
    ) -> Self {
        Parts {
            outcome,
            reasons,
            approval: None,
            determining: Vec::new(),
            claims,
            token_verified,
            proof_key: None,
            approvals: Vec::new(),
        }
    }

    /// The person the agent acts for, as the claims say.
    pub(crate) fn subject(&self) -> Option<&str> {
        self.claims.as_ref().map(|c| c.subject.as_str())
    }
}

/// The answer to one request, with everything needed to explain and audit it.
///
/// Built once from its parts; its fields are private, so the audit record
/// ([`audit`](Self::audit)) always says what the decision says: the same outcome, reasons,
/// approval text, determining policies, proof key and approvals.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The token's claims, when it could be read (verified when `token_verified`).
    claims: Option<Arc<Claims>>,
    /// The audit record, which also holds the decision's own outcome, reasons, approval,
    /// determining policies, proof key and approvals: one copy of each.
    audit: AuditRecord,
}

impl Decision {
    /// The decision of these parts on `request`, made at `now`, and its audit record.
    pub(crate) fn new(parts: Parts, request: &Request, now: SystemTime) -> Self {
        let Parts {
            outcome,
            reasons,
            approval,
            determining,
            claims,
            token_verified,
            proof_key,
            approvals,
        } = parts;
        // A token whose signatures were not verified is recorded under a name that says
        // so: whoever sent it could have written any subject, client or delegate.
        let verified = claims.as_deref().filter(|_| token_verified);
        let unverified = claims
            .as_deref()
            .filter(|_| !token_verified)
            .map(|c| UnverifiedClaims {
                token_id: c.token_id.clone(),
                subject: c.subject.clone(),
                client: c.client.clone(),
                agent: c.agent().to_owned(),
                chain: c.chain.clone(),
                revocation_ids: c.revocation_ids.clone(),
            });
        let audit = AuditRecord {
            time: rfc3339(
                now.duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            ),
            outcome,
            reasons,
            approval,
            token_id: verified.and_then(|c| c.token_id.clone()),
            subject: verified.map(|c| c.subject.clone()),
            client: verified.map(|c| c.client.clone()),
            agent: verified.map(|c| c.agent().to_owned()),
            chain: verified.map(|c| c.chain.clone()).unwrap_or_default(),
            token_verified,
            unverified_claims: unverified,
            audience: request.audience.as_str().to_owned(),
            action: request.action.clone(),
            authorization_details: request.details.clone(),
            determining_policies: determining,
            revocation_ids: verified
                .map(|c| c.revocation_ids.clone())
                .unwrap_or_default(),
            proof_key,
            approvals,
            replica: None,
        };
        Decision { claims, audit }
    }

    /// Names the replica that made the decision in its audit record.
    pub(crate) fn made_by(mut self, replica: Option<&str>) -> Self {
        self.audit.replica = replica.map(str::to_owned);
        self
    }

    /// The parts this decision was built from, to build another from them.
    pub(crate) fn into_parts(self) -> Parts {
        let Decision { claims, audit } = self;
        Parts {
            outcome: audit.outcome,
            reasons: audit.reasons,
            approval: audit.approval,
            determining: audit.determining_policies,
            claims,
            token_verified: audit.token_verified,
            proof_key: audit.proof_key,
            approvals: audit.approvals,
        }
    }

    /// Allow, deny or needs-approval.
    pub fn outcome(&self) -> Outcome {
        self.audit.outcome
    }

    /// Whether the request may proceed.
    pub fn allowed(&self) -> bool {
        self.audit.outcome == Outcome::Allow
    }

    /// Why (empty only for a plain allow with no determining policy text).
    pub fn reasons(&self) -> &[Reason] {
        &self.audit.reasons
    }

    /// For needs-approval: what to ask the human.
    pub fn approval(&self) -> Option<&str> {
        self.audit.approval.as_deref()
    }

    /// The Cedar policies that determined the outcome.
    pub fn determining_policies(&self) -> &[DeterminingPolicy] {
        &self.audit.determining_policies
    }

    /// The token's claims, when it could be read (verified when
    /// [`token_verified`](Self::token_verified)).
    pub fn claims(&self) -> Option<&Arc<Claims>> {
        self.claims.as_ref()
    }

    /// Whether the token's signatures were checked and valid.
    pub fn token_verified(&self) -> bool {
        self.audit.token_verified
    }

    /// The key of the proof of possession presented, when its signature verified for a
    /// key the token binds (see [`reasons`](Self::reasons) for whether it was accepted).
    pub fn proof_key(&self) -> Option<VerifyingKey> {
        self.audit.proof_key
    }

    /// Every signed approval presented, accepted or not.
    pub fn approvals(&self) -> &[ApprovalRecord] {
        &self.audit.approvals
    }

    /// The audit record written for this decision.
    pub fn audit(&self) -> &AuditRecord {
        &self.audit
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

/// What a decision shows when serialized (the audit record is not part of it).
#[derive(Serialize)]
struct Shown<'a> {
    outcome: Outcome,
    reasons: &'a [Reason],
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<&'a str>,
    determining_policies: &'a [DeterminingPolicy],
    #[serde(skip_serializing_if = "Option::is_none")]
    claims: Option<&'a Claims>,
    token_verified: bool,
}

impl Serialize for Decision {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Shown {
            outcome: self.outcome(),
            reasons: self.reasons(),
            approval: self.approval(),
            determining_policies: self.determining_policies(),
            claims: self.claims.as_deref(),
            token_verified: self.token_verified(),
        }
        .serialize(serializer)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.outcome())?;
        if let Some(a) = self.approval() {
            write!(f, " ({a})")?;
        }
        for r in self.reasons() {
            write!(f, "\n  - {r}")?;
        }
        Ok(())
    }
}
