//! The Authorizer: the token layer first, then the owner's Cedar policies.

use std::sync::Arc;
use std::time::Duration;

use valet_policy::{EntityProvider, PolicyOutcome, PolicyStore, Step, Transaction};
use valet_token::danger::DangerousVerifier;
use valet_token::{
    Approval, ApproverSet, Claims, HolderOptions, HolderProof, KeySet, Limits, ReplayStore,
    Request, Token, Verdict, Verifier, VerifyingKey,
};

use crate::approval::Presentation;
use crate::decision::{Decision, Parts};
use crate::outcome::{Layer, Outcome, Reason};
use crate::stores::{
    ApprovalStore, AuditSink, Clock, MemoryRevocations, NoAudit, RevocationStore, StoreCheck,
    SystemClock,
};

/// Joins the token layer and the policy layer into one decision. Build once, share across
/// threads (`Send + Sync`).
///
/// An authorizer requires proofs of possession: it refuses a token the issuer did not bind
/// to a holder key, and a bound token needs a fresh proof by that key with each request
/// (in the [`Presentation`]). Bearer tokens are honoured only by an authorizer built with
/// the explicit opt-in of [`danger`](crate::danger).
pub struct Authorizer {
    verifier: Verifier,
    policies: Arc<PolicyStore>,
    revocations: Arc<dyn RevocationStore>,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
    approvals: crate::approval::ApprovalState,
    policy_index: bool,
    entities: Option<Arc<dyn EntityProvider>>,
    replica: Option<String>,
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
    extra: crate::approval::Extras,
    cache_capacity: usize,
    policy_index: bool,
    accept_bearer: bool,
    entities: Option<Arc<dyn EntityProvider>>,
    replay: Option<Arc<dyn ReplayStore>>,
    replica: Option<String>,
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

    /// Names this replica in every audit record it writes (`replica`), so that the records
    /// of several replicas sharing stores say which one decided (default: none).
    #[must_use]
    pub fn replica(mut self, name: impl Into<String>) -> Self {
        self.replica = Some(name.into());
        self
    }

    /// Records the nonces of accepted proofs of possession in `store` (default: a replay
    /// cache of this process). Replicas of one resource server must share one store, so
    /// that a proof accepted by one is refused by every other.
    #[must_use]
    pub fn replay_store(mut self, store: Arc<dyn ReplayStore>) -> Self {
        self.replay = Some(store);
        self
    }

    /// Gives the policies the resource server's entity data: its people, teams, resources
    /// and their hierarchies (default: none). The provider is asked once per decision that
    /// reaches the policies, for the entities the request names; an error, a late answer
    /// or data that does not fit the schema is a deny that says so. An
    /// [`EntitiesFile`](valet_policy::EntitiesFile) serves a Cedar entities JSON file.
    #[must_use]
    pub fn entities(mut self, provider: Arc<dyn EntityProvider>) -> Self {
        self.entities = Some(provider);
        self
    }

    /// Evaluates every policy on every request instead of those whose scope can match the
    /// request's action: the `danger` opt-in
    /// ([`DangerousAuthorizerBuilder::unindexed_policies`](crate::danger::DangerousAuthorizerBuilder::unindexed_policies)).
    pub(crate) fn unindexing_policies(mut self) -> Self {
        self.policy_index = false;
        self
    }

    /// Honours bearer tokens: the `danger` opt-in
    /// ([`DangerousAuthorizerBuilder::accept_bearer_tokens`](crate::danger::DangerousAuthorizerBuilder::accept_bearer_tokens)).
    pub(crate) fn accepting_bearer_tokens(mut self) -> Self {
        self.accept_bearer = true;
        self
    }

    /// The authorizer.
    pub fn build(self) -> Authorizer {
        let verifier = Verifier::new(self.keys)
            .with_limits(self.limits)
            .with_holder_options(self.extra.holder.clone())
            .with_cache(self.cache_capacity);
        let verifier = match self.replay {
            Some(store) => verifier.with_replay_store(store),
            None => verifier,
        };
        let verifier = if self.accept_bearer {
            verifier.accept_bearer_tokens()
        } else {
            verifier
        };
        Authorizer {
            verifier,
            policy_index: self.policy_index,
            entities: self.entities,
            replica: self.replica,
            approvals: self.extra.state(),
            policies: self.policies,
            revocations: self.revocations,
            audit: self.audit,
            clock: self.clock,
        }
    }
}

// The holder and approval settings.
impl AuthorizerBuilder {
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

    /// Records spent approvals in this store (default: a [`MemoryApprovals`](crate::MemoryApprovals) of this
    /// authorizer's own). Authorizers sharing one store accept each approval once between
    /// them; when the store errs, the request is denied.
    #[must_use]
    pub fn approval_store(mut self, store: Arc<dyn ApprovalStore>) -> Self {
        self.extra.store = Some(store);
        self
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
            accept_bearer: false,
            entities: None,
            replay: None,
            replica: None,
        }
    }

    /// The policy store (to reload it).
    pub fn policies(&self) -> &PolicyStore {
        &self.policies
    }

    /// The entity data the policies are given, if any.
    pub fn entity_provider(&self) -> Option<&dyn EntityProvider> {
        self.entities.as_deref()
    }

    /// The revocation store.
    pub fn revocations(&self) -> &dyn RevocationStore {
        self.revocations.as_ref()
    }

    /// The token limits.
    pub fn limits(&self) -> &Limits {
        self.verifier.limits()
    }

    /// Whether this authorizer honours bearer tokens (tokens the issuer bound to no holder
    /// key): false unless it was built with
    /// [`accept_bearer_tokens`](crate::danger::DangerousAuthorizerBuilder::accept_bearer_tokens).
    pub fn accepts_bearer_tokens(&self) -> bool {
        self.verifier.accepts_bearer_tokens()
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

    /// Decides one request: the token layer (signatures, audience, expiry, scopes, every
    /// block's limits, the holder's proof of possession), then the Cedar policies on the
    /// transaction, then the signed approvals presented. This is the one method every
    /// decision on an action goes through; [`authorize_encoded`](Self::authorize_encoded)
    /// reads the token first and then decides here.
    ///
    /// `presented` is what the agent sent beside the token: the holder's proof of
    /// possession (checked whenever present, needed when the token is bound) and signed
    /// approvals (an approval by a trusted approver for exactly this request turns a
    /// needs-approval into an allow, once). Pass [`Presentation::new`] when nothing was.
    ///
    /// Never panics and never returns an error: every failure is a `Deny` with its reason.
    /// The decision is recorded in the audit sink before it is returned; when the sink
    /// fails, an allow or a needs-approval becomes a deny.
    pub fn authorize(
        &self,
        token: &Token,
        request: &Request,
        presented: &Presentation,
    ) -> Decision {
        self.decide(
            token,
            request,
            presented.proof.as_ref(),
            Question::Action(&presented.approvals),
        )
    }

    /// Reads a token given in binary form or as base64url text (through the shared
    /// cache of tokens read, as [`read_token`](Self::read_token) does) and decides as
    /// [`authorize`](Self::authorize) does. A token that cannot be read is a `Deny` whose
    /// reason says why, recorded like any other decision.
    pub fn authorize_encoded(
        &self,
        token: Encoded<'_>,
        request: &Request,
        presented: &Presentation,
    ) -> Decision {
        match self.read_encoded(token) {
            Ok(t) => self.authorize(&t, request, presented),
            Err(message) => self.refuse_unreadable(message, request),
        }
    }

    /// Judges a request on the token alone, without the policies: what a resource server
    /// needs for protocol messages that act on nothing (an MCP `initialize` or
    /// `tools/list`). It is a different question from [`authorize`](Self::authorize)'s
    /// (may this token speak to this audience at all, not may it take this action), so
    /// it has its own name: no policy is evaluated and no approval can be used, and an
    /// allow here says nothing about what the policies would decide of an action. The
    /// token layer's checks are the same (early refusals, signatures, every block's
    /// checks, the holder's proof, consumed from the same replay cache), with the same
    /// clock and revocations, and the decision is built and recorded in the same audit
    /// sink the same way.
    pub fn verify_presented(
        &self,
        token: &Token,
        request: &Request,
        proof: Option<&HolderProof>,
    ) -> Decision {
        self.decide(token, request, proof, Question::Token)
    }

    /// The longest lifetime of a signed approval this authorizer accepts, when it trusts
    /// at least one approver (`None`: approvals are never accepted).
    pub fn approval_lifetime(&self) -> Option<std::time::Duration> {
        self.approvals.lifetime()
    }

    /// A token read from its encoding, or why it cannot be.
    fn read_encoded(&self, token: Encoded<'_>) -> Result<Arc<Token>, String> {
        match token {
            Encoded::Bytes(bytes) => {
                let max = self.verifier.limits().max_token_bytes;
                if bytes.len() > max {
                    return Err(format!(
                        "the token is {} bytes, more than the limit of {max}",
                        bytes.len()
                    ));
                }
                self.read_token(bytes).map_err(|e| e.to_string())
            }
            Encoded::Base64(text) => self.read_token_base64(text).map_err(|e| e.to_string()),
        }
    }

    /// The one path of every decision: the token layer, then (for an action) the
    /// policies and the approvals; the parts gathered, then the decision built and
    /// recorded once.
    fn decide(
        &self,
        token: &Token,
        request: &Request,
        proof: Option<&HolderProof>,
        question: Question<'_>,
    ) -> Decision {
        let now = self.clock.now();
        if let Err(e) = self.revocations.freshness() {
            // The server's fault, not the token's: a client must not throw its token away.
            let reason = Reason {
                layer: Layer::Token,
                kind: Some(valet_token::ReasonKind::Internal),
                block: None,
                policy: None,
                message: format!(
                    "the revocation store is unreachable, so whether this token was revoked cannot be told: {e}"
                ),
            };
            let parts = Parts::token(
                Outcome::Deny,
                vec![reason],
                Some(token.shared_claims()),
                false,
            );
            return self.record(parts, request, now);
        }
        let revocations = StoreCheck(self.revocations.as_ref());
        let verdict = match question {
            Question::Action(_) => {
                // Refusals the token's own statements decide (revoked, expired, not yet
                // valid, another audience, too large) come first: no signature, no
                // request copy. The proof was not checked: its key is not recorded.
                if let Some(r) = self
                    .verifier
                    .early_refusal(token, request, now, &revocations)
                {
                    let parts = Parts::token(
                        Outcome::Deny,
                        vec![token_reason(r)],
                        Some(token.shared_claims()),
                        false,
                    );
                    return self.record(parts, request, now);
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
                self.verifier
                    .verify_with_proof(token, &token_request, proof, now, &revocations)
            }
            Question::Token => {
                self.verifier
                    .verify_with_proof(token, request, proof, now, &revocations)
            }
        };
        let proof_verified = match &verdict {
            Verdict::Allowed(_) => proof.is_some(),
            Verdict::Denied(d) => d.proof_verified,
        };
        let mut parts = match (verdict, question) {
            (Verdict::Denied(denial), _) => token_denial(denial, token),
            (Verdict::Allowed(verified), Question::Action(approvals)) => {
                let parts = self.judge_policies(verified.into_claims(), request);
                crate::approval::settle(parts, &self.approvals, token, request, approvals, now)
            }
            (Verdict::Allowed(verified), Question::Token) => Parts::token(
                Outcome::Allow,
                Vec::new(),
                Some(Arc::new(verified.into_claims())),
                true,
            ),
        };
        // Only the key of a proof that verified: anyone can name a victim's key.
        parts.proof_key = proof.map(|p| p.key).filter(|_| proof_verified);
        self.record(parts, request, now)
    }

    fn judge_policies(&self, claims: Claims, request: &Request) -> Parts {
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
                verified: claims.delegations_signed_as_of(block),
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
            verified: claims.delegations_signed_as_of(blocks),
        };
        let pd = match &self.entities {
            Some(provider) => {
                self.policies
                    .evaluate_with_entities(&tx, provider.as_ref(), self.policy_index)
            }
            None => self.policies.evaluate_with_index(&tx, self.policy_index),
        };
        let outcome = match pd.outcome {
            PolicyOutcome::Allow => Outcome::Allow,
            PolicyOutcome::NeedsApproval => Outcome::NeedsApproval,
            PolicyOutcome::Deny => Outcome::Deny,
        };
        let mut reasons: Vec<Reason> = pd
            .reasons
            .into_iter()
            .map(|r| Reason {
                layer: Layer::Policy,
                kind: None,
                block: None,
                policy: r.policy,
                message: r.message,
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
        Parts {
            outcome,
            reasons,
            approval: pd.approval,
            determining: pd.determining,
            claims: Some(Arc::new(claims)),
            token_verified: true,
            proof_key: None,
            approvals: Vec::new(),
        }
    }

    /// The decision on a token that could not be read.
    fn refuse_unreadable(&self, message: String, request: &Request) -> Decision {
        let reason = Reason {
            layer: Layer::Token,
            kind: Some(valet_token::ReasonKind::Format),
            block: None,
            policy: None,
            message,
        };
        self.record(
            Parts::token(Outcome::Deny, vec![reason], None, false),
            request,
            self.clock.now(),
        )
    }

    /// Builds the decision of these parts and writes its audit record. An allow or a
    /// needs-approval that cannot be audited is refused: a deny built anew from the same
    /// parts with the audit failure among its reasons, and recorded in turn.
    fn record(&self, parts: Parts, request: &Request, now: std::time::SystemTime) -> Decision {
        let decision = Decision::new(parts, request, now).made_by(self.replica.as_deref());
        let Err(e) = self.audit.record(decision.audit()) else {
            return decision;
        };
        if decision.outcome() == Outcome::Deny {
            return decision;
        }
        let mut parts = decision.into_parts();
        parts.outcome = Outcome::Deny;
        parts.approval = None;
        parts.reasons.push(Reason::new(
            Layer::Audit,
            format!("the decision could not be audited, so it is refused: {e}"),
        ));
        let refused = Decision::new(parts, request, now).made_by(self.replica.as_deref());
        let _ = self.audit.record(refused.audit());
        refused
    }
}

/// What a decision answers.
#[derive(Clone, Copy)]
enum Question<'a> {
    /// May the token take the request's action? The policies decide after the token
    /// layer, and these approvals may settle a needs-approval.
    Action(&'a [Approval]),
    /// Is the token good for this audience at all? The token layer alone decides.
    Token,
}

/// A token given in an encoded form, for [`Authorizer::authorize_encoded`].
#[derive(Clone, Copy, Debug)]
pub enum Encoded<'a> {
    /// The token's binary form.
    Bytes(&'a [u8]),
    /// The token as base64url text.
    Base64(&'a str),
}

/// The parts of the decision on a token the token layer refused.
fn token_denial(denial: valet_token::Denial, token: &Token) -> Parts {
    let reasons = denial.reasons.into_iter().map(token_reason).collect();
    let claims = match denial.claims {
        Some(c) => Arc::new(c),
        None => token.shared_claims(),
    };
    Parts::token(
        Outcome::Deny,
        reasons,
        Some(claims),
        denial.signature_verified,
    )
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
