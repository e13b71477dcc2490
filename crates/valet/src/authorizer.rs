//! The Authorizer: the token layer first, then the owner's Cedar policies.

use std::sync::Arc;

use valet_policy::{PolicyOutcome, PolicyStore, Step, Transaction};
use valet_token::{rfc3339, Claims, KeySet, Limits, Request, Token, Verdict, Verifier};

use crate::audit::{AuditRecord, UnverifiedClaims};
use crate::decision::{Decision, Layer, Outcome, Reason};
use crate::stores::{
    AuditSink, Clock, MemoryRevocations, NoAudit, RevocationStore, StoreCheck, SystemClock,
};

/// Joins the token layer and the policy layer into one decision. Build once, share across
/// threads (`Send + Sync`).
pub struct Authorizer {
    verifier: Verifier,
    policies: Arc<PolicyStore>,
    revocations: Arc<dyn RevocationStore>,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
    approvals: crate::approval::ApprovalState,
    policy_index: bool,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Authorizer`].
pub struct AuthorizerBuilder {
    keys: KeySet,
    policies: Arc<PolicyStore>,
    limits: Limits,
    revocations: Arc<dyn RevocationStore>,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
    pub(crate) extra: crate::approval::Extras,
    cache_capacity: usize,
    policy_index: bool,
}

/// How many verified signature chains an [`Authorizer`] keeps by default.
pub const DEFAULT_VERIFIED_CACHE: usize = 4096;

impl AuthorizerBuilder {
    /// Replaces the token limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Uses this revocation store (default: an empty in-memory one).
    #[must_use]
    pub fn revocations(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.revocations = store;
        self
    }

    /// Sends audit records here (default: discarded).
    #[must_use]
    pub fn audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = sink;
        self
    }

    /// Uses this clock (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Keeps up to `capacity` verified signature chains and tokens read, keyed by a SHA-256
    /// digest of the token bytes (default [`DEFAULT_VERIFIED_CACHE`]; 0 turns the cache
    /// off). A repeat presentation skips only reading the token, the signature checks and
    /// the preparation of the blocks' Datalog;
    /// revocation, expiry, audience, holder proofs, every Datalog check and the policies
    /// are evaluated on every call, so decisions are the same with the cache on or off.
    #[must_use]
    pub fn verified_cache(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Whether the policies are looked up by action (default on): only the policies whose
    /// scope can match the request's action are evaluated. Off evaluates every policy;
    /// the decision is the same either way.
    #[must_use]
    pub fn policy_index(mut self, on: bool) -> Self {
        self.policy_index = on;
        self
    }

    /// The authorizer.
    pub fn build(self) -> Authorizer {
        Authorizer {
            verifier: Verifier::new(self.keys)
                .with_limits(self.limits)
                .with_holder_options(self.extra.holder.clone())
                .with_cache(self.cache_capacity),
            policy_index: self.policy_index,
            approvals: self.extra.state(),
            policies: self.policies,
            revocations: self.revocations,
            audit: self.audit,
            clock: self.clock,
        }
    }
}

impl Authorizer {
    /// Starts an authorizer trusting `keys` and judging with `policies`.
    pub fn builder(keys: KeySet, policies: impl Into<Arc<PolicyStore>>) -> AuthorizerBuilder {
        AuthorizerBuilder {
            keys,
            policies: policies.into(),
            limits: Limits::default(),
            revocations: Arc::new(MemoryRevocations::new()),
            audit: Arc::new(NoAudit),
            clock: Arc::new(SystemClock),
            extra: crate::approval::Extras::default(),
            cache_capacity: DEFAULT_VERIFIED_CACHE,
            policy_index: true,
        }
    }

    /// The policy store (to reload it).
    pub fn policies(&self) -> &PolicyStore {
        &self.policies
    }

    /// The revocation store.
    pub fn revocations(&self) -> &dyn RevocationStore {
        self.revocations.as_ref()
    }

    /// The token limits.
    pub fn limits(&self) -> &Limits {
        self.verifier.limits()
    }

    /// Reads a token from its binary form. A token read before (and still in the cache,
    /// see [`AuthorizerBuilder::verified_cache`]) is shared rather than parsed again;
    /// nothing read is trusted before it is authorized.
    pub fn read_token(&self, bytes: &[u8]) -> Result<Arc<Token>, valet_token::TokenError> {
        self.verifier.read_token(bytes)
    }

    /// Reads a token from base64url text, as [`read_token`](Self::read_token) does.
    pub fn read_token_base64(&self, text: &str) -> Result<Arc<Token>, valet_token::TokenError> {
        self.verifier.read_token_base64(text)
    }

    /// Judges a token given as base64url text.
    pub fn authorize_base64(&self, token: &str, request: &Request) -> Decision {
        match self.read_token_base64(token) {
            Ok(t) => self.authorize(&t, request),
            Err(e) => self.refuse_unreadable(e.to_string(), request),
        }
    }

    /// Judges a token given in binary form.
    pub fn authorize_bytes(&self, token: &[u8], request: &Request) -> Decision {
        if token.len() > self.verifier.limits().max_token_bytes {
            return self.refuse_unreadable(
                format!(
                    "the token is {} bytes, more than the limit of {}",
                    token.len(),
                    self.verifier.limits().max_token_bytes
                ),
                request,
            );
        }
        match self.read_token(token) {
            Ok(t) => self.authorize(&t, request),
            Err(e) => self.refuse_unreadable(e.to_string(), request),
        }
    }

    /// Judges one request: the token layer (signatures, audience, expiry, scopes, every
    /// block's limits), then the Cedar policies on the transaction. Never panics and never
    /// returns an error: every failure is a `Deny` with its reason.
    pub fn authorize(&self, token: &Token, request: &Request) -> Decision {
        self.authorize_presented(token, request, &crate::Presentation::new())
    }

    /// Judges one request as [`authorize`](Self::authorize) does, with what the agent sent
    /// beside the token: the holder's proof of possession (checked whenever present, needed
    /// when the token is bound) and signed approvals (an approval by a trusted approver for
    /// exactly this request turns a needs-approval into an allow, once).
    pub fn authorize_presented(
        &self,
        token: &Token,
        request: &Request,
        presented: &crate::Presentation,
    ) -> Decision {
        let now = self.clock.now();
        let revocations = StoreCheck(self.revocations.as_ref());
        // Refusals the token's own statements decide (revoked, expired, not yet valid,
        // another audience, too large) come first: no signature, no request copy.
        if let Some(r) = self
            .verifier
            .early_refusal(token, request, now, &revocations)
        {
            let decision = self.finish(
                Outcome::Deny,
                vec![token_reason(r)],
                None,
                Vec::new(),
                Some(token.shared_claims()),
                false,
                request,
                now,
            );
            // The proof was not checked: its key is not recorded as if it had signed.
            return self.record(decision);
        }
        // Every scope the policies will see is checked by every block's Datalog.
        let granted = token.unverified_scopes();
        let token_request = if granted.iter().all(|s| request.scopes.contains(s)) {
            std::borrow::Cow::Borrowed(request)
        } else {
            let mut r = request.clone();
            for s in granted {
                if !r.scopes.contains(s) {
                    r.scopes.push(s.clone());
                }
            }
            std::borrow::Cow::Owned(r)
        };
        let verdict = self.verifier.verify_with_proof(
            token,
            &token_request,
            presented.proof.as_ref(),
            now,
            &revocations,
        );
        let proof_key = presented.proof.as_ref().map(|p| p.key);
        let proof_verified = match &verdict {
            Verdict::Allowed(_) => proof_key.is_some(),
            Verdict::Denied(d) => d.proof_verified,
        };
        let decision = match verdict {
            Verdict::Denied(denial) => self.token_denial(denial, token, request, now),
            Verdict::Allowed(verified) => {
                let claims = verified.into_claims();
                let decision = self.judge_policies(claims, request, now);
                crate::approval::settle(decision, &self.approvals, token, request, presented, now)
            }
        };
        let mut decision = decision;
        // Only the key of a proof that verified: anyone can name a victim's key.
        decision.audit.proof_key = proof_key.filter(|_| proof_verified);
        self.record(decision)
    }

    /// Judges a request on the token alone, without the policies: what a resource server
    /// needs for protocol messages that act on nothing (an MCP `initialize` or
    /// `tools/list`). The same checks as [`authorize_presented`](Self::authorize_presented)
    /// makes before the policies (early refusals, signatures, every block's checks, the
    /// holder's proof, consumed from the same replay cache), with the same clock and
    /// revocations, recorded in the same audit sink. An allow here says nothing about
    /// what the policies would decide of an action.
    pub fn verify_presented(
        &self,
        token: &Token,
        request: &Request,
        proof: Option<&valet_token::HolderProof>,
    ) -> Decision {
        let now = self.clock.now();
        let revocations = StoreCheck(self.revocations.as_ref());
        let verdict = self
            .verifier
            .verify_with_proof(token, request, proof, now, &revocations);
        let proof_verified = match &verdict {
            Verdict::Allowed(_) => proof.is_some(),
            Verdict::Denied(d) => d.proof_verified,
        };
        let decision = match verdict {
            Verdict::Denied(denial) => self.token_denial(denial, token, request, now),
            Verdict::Allowed(verified) => self.finish(
                Outcome::Allow,
                Vec::new(),
                None,
                Vec::new(),
                Some(Arc::new(verified.into_claims())),
                true,
                request,
                now,
            ),
        };
        let mut decision = decision;
        decision.audit.proof_key = proof.map(|p| p.key).filter(|_| proof_verified);
        self.record(decision)
    }

    /// The longest lifetime of a signed approval this authorizer accepts, when it trusts
    /// at least one approver (`None`: approvals are never accepted).
    pub fn approval_lifetime(&self) -> Option<std::time::Duration> {
        self.approvals.lifetime()
    }

    /// The decision on a token the token layer refused.
    fn token_denial(
        &self,
        denial: valet_token::Denial,
        token: &Token,
        request: &Request,
        now: std::time::SystemTime,
    ) -> Decision {
        let reasons = denial.reasons.into_iter().map(token_reason).collect();
        let claims = match denial.claims {
            Some(c) => Arc::new(c),
            None => token.shared_claims(),
        };
        self.finish(
            Outcome::Deny,
            reasons,
            None,
            Vec::new(),
            Some(claims),
            denial.signature_verified,
            request,
            now,
        )
    }

    fn judge_policies(
        &self,
        claims: Claims,
        request: &Request,
        now: std::time::SystemTime,
    ) -> Decision {
        let chain = claims.delegates();
        let names = |scopes: &std::collections::BTreeSet<valet_token::Scope>| -> Vec<String> {
            scopes.iter().map(|s| s.as_str().to_owned()).collect()
        };
        let scopes = names(&claims.scopes);
        // The token after each block but the last: the request must be allowed for each
        // (its agent then, the delegates named by then, the scopes granted then).
        let blocks = claims.chain.len();
        let earlier_scopes: Vec<Vec<String>> = (0..blocks)
            .map(|block| names(&claims.scopes_as_of(block)))
            .collect();
        let earlier: Vec<Step<'_>> = earlier_scopes
            .iter()
            .enumerate()
            .map(|(block, scopes)| Step {
                block,
                delegates: claims
                    .chain
                    .iter()
                    .take_while(|l| l.block <= block)
                    .filter(|l| l.delegate.is_some())
                    .count(),
                scopes,
            })
            .collect();
        let tx = Transaction {
            agent: claims.agent(),
            subject: &claims.subject,
            client: &claims.client,
            chain: &chain,
            action: &request.action,
            audience: request.audience.as_str(),
            scopes: &scopes,
            details: request.details.as_ref(),
            earlier: &earlier,
        };
        let pd = self.policies.evaluate_with_index(&tx, self.policy_index);
        let outcome = match pd.outcome {
            PolicyOutcome::Allow => Outcome::Allow,
            PolicyOutcome::NeedsApproval => Outcome::NeedsApproval,
            PolicyOutcome::Deny => Outcome::Deny,
        };
        let mut reasons: Vec<Reason> = pd
            .reasons
            .iter()
            .map(|m| Reason {
                layer: Layer::Policy,
                kind: None,
                block: None,
                policy: pd
                    .determining
                    .iter()
                    .find(|p| m.contains(&format!("`{}`", p.id)))
                    .map(|p| p.id.clone()),
                message: m.clone(),
            })
            .collect();
        if outcome != Outcome::Allow {
            for p in &pd.determining {
                if reasons
                    .iter()
                    .any(|r| r.policy.as_deref() == Some(p.id.as_str()))
                {
                    continue;
                }
                let text = p
                    .annotations
                    .get("approval")
                    .or_else(|| p.annotations.get("reason"))
                    .cloned()
                    .unwrap_or_else(|| "this policy applies".to_owned());
                reasons.push(Reason {
                    layer: Layer::Policy,
                    kind: None,
                    block: None,
                    policy: Some(p.id.clone()),
                    message: format!("`{}`: {text}", p.id),
                });
            }
            if reasons.is_empty() {
                reasons.push(Reason::new(
                    Layer::Policy,
                    "the policies refused the request without a reason",
                ));
            }
        }
        self.finish(
            outcome,
            reasons,
            pd.approval.clone(),
            pd.determining,
            Some(Arc::new(claims)),
            true,
            request,
            now,
        )
    }

    fn refuse_unreadable(&self, message: String, request: &Request) -> Decision {
        let reason = Reason {
            layer: Layer::Token,
            kind: Some(valet_token::ReasonKind::Format),
            block: None,
            policy: None,
            message,
        };
        let d = self.finish(
            Outcome::Deny,
            vec![reason],
            None,
            Vec::new(),
            None,
            false,
            request,
            self.clock.now(),
        );
        self.record(d)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one place assembles every part of a decision"
    )]
    fn finish(
        &self,
        outcome: Outcome,
        reasons: Vec<Reason>,
        approval: Option<String>,
        determining: Vec<valet_policy::DeterminingPolicy>,
        claims: Option<Arc<Claims>>,
        token_verified: bool,
        request: &Request,
        now: std::time::SystemTime,
    ) -> Decision {
        // A token whose signatures were not verified is recorded under a name that says
        // so: whoever sent it could have written any subject, client or delegate.
        let verified = claims.as_ref().filter(|_| token_verified);
        let unverified = claims
            .as_ref()
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
            reasons: reasons.clone(),
            approval: approval.clone(),
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
            determining_policies: determining.clone(),
            revocation_ids: verified
                .map(|c| c.revocation_ids.clone())
                .unwrap_or_default(),
            proof_key: None,
            approvals: Vec::new(),
        };
        Decision {
            outcome,
            reasons,
            approval,
            determining_policies: determining,
            claims,
            token_verified,
            audit,
        }
    }

    /// Writes the audit record; an allow that cannot be audited becomes a deny.
    fn record(&self, mut decision: Decision) -> Decision {
        if let Err(e) = self.audit.record(&decision.audit) {
            if decision.outcome != Outcome::Deny {
                decision.outcome = Outcome::Deny;
                decision.approval = None;
                let reason = Reason::new(
                    Layer::Audit,
                    format!("the decision could not be audited, so it is refused: {e}"),
                );
                decision.reasons.push(reason);
                decision.audit.outcome = Outcome::Deny;
                decision.audit.reasons = decision.reasons.clone();
                let _ = self.audit.record(&decision.audit);
            }
        }
        decision
    }
}

/// A token layer reason as a decision's reason.
fn token_reason(r: valet_token::Reason) -> Reason {
    Reason {
        layer: Layer::Token,
        kind: Some(r.kind),
        block: r.block,
        policy: None,
        message: r.message,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn authorizer_is_send_and_sync() {
        fn assert<T: Send + Sync>() {}
        assert::<super::Authorizer>();
    }
}
