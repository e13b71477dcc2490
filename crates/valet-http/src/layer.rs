//! The tower layer: every request's bearer token judged before the inner service sees it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use serde_json::json;
use valet::token::{ApproverSet, HolderOptions, Verdict, Verifier};
use valet::{
    AuditSink, Authorizer, Clock, Decision, HolderProof, KeySet, Layer as ReasonLayer, Limits,
    MemoryRevocations, NoAudit, Outcome, PolicyStore, Presentation, Reason, Request, RevocationId,
    RevocationStore, SystemClock, Token, VerifyingKey,
};

use crate::challenge::{self, Answer};
use crate::extract::{Extractor, McpTools, Operation};
use crate::presented::{read_presentation, APPROVAL_HEADER, PROOF_HEADER};
use crate::resource::{metadata_response, ProtectedResource};

/// Largest request body the layer reads by default (64 KiB); a larger one is answered
/// with `413`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Where the authorizer runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Execution {
    /// On the task that handles the request. A decision (35 to 40 µs in a release build,
    /// see the crate's README) then holds an executor thread that other requests' I/O
    /// waits for.
    Inline,
    /// On tokio's blocking pool (`spawn_blocking`), the default: the executor's threads
    /// stay free for I/O however long a decision takes. Each decision pays a hand-off to
    /// the pool; the crate's README has both measured. Falls back to inline outside a
    /// tokio runtime.
    #[default]
    Blocking,
}

/// What the inner service receives in the request extensions for every allowed request:
/// the decision (claims, delegation chain, determining policies) and the operation that
/// was judged.
#[derive(Clone, Debug)]
pub struct Authorized {
    /// The decision; its outcome is [`Outcome::Allow`].
    pub decision: Arc<Decision>,
    /// What was judged: act on exactly this.
    pub operation: Arc<Operation>,
}

impl Authorized {
    /// The person the agent acts for.
    pub fn subject(&self) -> Option<&str> {
        self.decision.subject()
    }

    /// The acting agent: the last delegate, else the client.
    pub fn agent(&self) -> Option<&str> {
        self.decision.claims.as_ref().map(|c| c.agent())
    }

    /// The delegates, in order.
    pub fn delegates(&self) -> Vec<String> {
        self.decision
            .claims
            .as_ref()
            .map(|c| c.delegates())
            .unwrap_or_default()
    }

    /// The holder key whose proof of possession came with the request (`Valet-Proof`),
    /// if one did.
    pub fn proof_key(&self) -> Option<VerifyingKey> {
        self.decision.audit.proof_key
    }
}

/// Builds a [`ValetLayer`].
///
/// The options shared with [`valet::AuthorizerBuilder`] (limits, revocations, audit, clock,
/// holder options, approvers) are set here, once: the layer builds its authorizer and the
/// verifier of its token-only path (protocol messages, judged without policies) from the
/// same values. An already-built `Authorizer` exposes neither a token-only decision nor
/// its keys, clock, audit sink or holder options, so the layer cannot be built from one.
pub struct ValetLayerBuilder {
    resource: ProtectedResource,
    keys: KeySet,
    policies: Arc<PolicyStore>,
    limits: Limits,
    revocations: Arc<dyn RevocationStore>,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
    extractor: Arc<dyn Extractor>,
    max_body_bytes: usize,
    execution: Execution,
    serve_metadata: bool,
    holder: HolderOptions,
    approvers: ApproverSet,
    max_approval_lifetime: Option<Duration>,
}

impl std::fmt::Debug for ValetLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValetLayerBuilder")
            .field("resource", &self.resource)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("execution", &self.execution)
            .finish_non_exhaustive()
    }
}

impl ValetLayerBuilder {
    /// Reads operations with this extractor (default: [`McpTools::new`]).
    #[must_use]
    pub fn extractor(mut self, extractor: impl Extractor) -> Self {
        self.extractor = Arc::new(extractor);
        self
    }

    /// Sends a record of every decision here (default: discarded).
    #[must_use]
    pub fn audit(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = sink;
        self
    }

    /// Uses this revocation store (default: an empty in-memory one).
    #[must_use]
    pub fn revocations(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.revocations = store;
        self
    }

    /// Uses this clock (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the token limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Reads at most this many body bytes (default [`DEFAULT_MAX_BODY_BYTES`]).
    #[must_use]
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Where the authorizer runs (default [`Execution::Blocking`]).
    #[must_use]
    pub fn execution(mut self, execution: Execution) -> Self {
        self.execution = execution;
        self
    }

    /// Refuses tokens that bind no holder key, with `401` (default: bearer tokens
    /// allowed). A bound token always needs its holder's proof in `Valet-Proof`.
    #[must_use]
    pub fn require_holder_binding(mut self, required: bool) -> Self {
        self.holder.require_binding = required;
        self
    }

    /// How old (default 60 s) and how far ahead (default 5 s) the timestamp of a proof of
    /// possession may be.
    #[must_use]
    pub fn proof_window(mut self, max_age: Duration, max_skew: Duration) -> Self {
        self.holder.max_proof_age = max_age;
        self.holder.max_proof_skew = max_skew;
        self
    }

    /// Replaces every holder option (binding required, proof window, replay capacity).
    #[must_use]
    pub fn holder_options(mut self, options: HolderOptions) -> Self {
        self.holder = options;
        self
    }

    /// Trusts this approver's key for signed approvals sent in `Valet-Approval`.
    #[must_use]
    pub fn approver(mut self, key: VerifyingKey) -> Self {
        self.approvers.insert(key);
        self
    }

    /// Trusts these approvers' keys (replacing any set before). Without any, no approval
    /// is accepted and a needs-approval stays a `403`.
    #[must_use]
    pub fn approvers(mut self, approvers: ApproverSet) -> Self {
        self.approvers = approvers;
        self
    }

    /// The longest an approval may still be valid when presented (default
    /// [`valet::DEFAULT_MAX_APPROVAL_LIFETIME`], 15 minutes).
    #[must_use]
    pub fn max_approval_lifetime(mut self, max: Duration) -> Self {
        self.max_approval_lifetime = Some(max);
        self
    }

    /// Whether the layer answers the metadata paths itself, without a token (default
    /// true). Turn it off when the metadata is mounted elsewhere with
    /// [`ProtectedResource::metadata_service`].
    #[must_use]
    pub fn serve_metadata(mut self, serve: bool) -> Self {
        self.serve_metadata = serve;
        self
    }

    /// The layer.
    pub fn build(self) -> ValetLayer {
        let resource = self
            .resource
            .with_default_detail_types(self.policies.detail_types());
        let template = Authorizer::builder(self.keys.clone(), self.policies.clone())
            .clock(self.clock.clone())
            .build();
        let mut authorizer = Authorizer::builder(self.keys.clone(), self.policies)
            .limits(self.limits.clone())
            .revocations(self.revocations.clone())
            .audit(self.audit.clone())
            .clock(self.clock.clone())
            .holder_options(self.holder.clone())
            .approvers(self.approvers.clone());
        if let Some(max) = self.max_approval_lifetime {
            authorizer = authorizer.max_approval_lifetime(max);
        }
        let authorizer = authorizer.build();
        let default_scope = resource
            .scopes_supported()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let metadata_paths = if self.serve_metadata {
            resource.metadata_paths()
        } else {
            Vec::new()
        };
        ValetLayer {
            shared: Arc::new(Shared {
                metadata_url: resource.metadata_url(),
                metadata_body: resource.metadata().to_bytes(),
                metadata_paths,
                default_scope,
                resource,
                authorizer,
                template,
                verifier: Verifier::new(self.keys)
                    .with_limits(self.limits)
                    .with_holder_options(self.holder),
                revocations: self.revocations,
                audit: self.audit,
                clock: self.clock,
                extractor: self.extractor,
                max_body_bytes: self.max_body_bytes,
                execution: self.execution,
                approval_lifetime: (!self.approvers.is_empty()).then(|| {
                    self.max_approval_lifetime
                        .unwrap_or(valet::DEFAULT_MAX_APPROVAL_LIFETIME)
                }),
            }),
        }
    }
}

struct Shared {
    resource: ProtectedResource,
    authorizer: Authorizer,
    template: Authorizer,
    verifier: Verifier,
    revocations: Arc<dyn RevocationStore>,
    audit: Arc<dyn AuditSink>,
    clock: Arc<dyn Clock>,
    extractor: Arc<dyn Extractor>,
    max_body_bytes: usize,
    execution: Execution,
    metadata_paths: Vec<String>,
    metadata_body: Bytes,
    metadata_url: String,
    default_scope: String,
    /// The longest approval lifetime accepted, when an approver is trusted.
    approval_lifetime: Option<Duration>,
}

/// A tower [`Layer`](tower_layer::Layer) judging every request with Valet before the
/// inner service sees it. Cheap to clone.
#[derive(Clone)]
pub struct ValetLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ValetLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValetLayer")
            .field("resource", &self.shared.resource)
            .field("max_body_bytes", &self.shared.max_body_bytes)
            .field("execution", &self.shared.execution)
            .finish_non_exhaustive()
    }
}

impl ValetLayer {
    /// Starts a layer for `resource`, trusting `keys` and judging with `policies`.
    pub fn builder(
        resource: ProtectedResource,
        keys: KeySet,
        policies: impl Into<Arc<PolicyStore>>,
    ) -> ValetLayerBuilder {
        ValetLayerBuilder {
            resource,
            keys,
            policies: policies.into(),
            limits: Limits::default(),
            revocations: Arc::new(MemoryRevocations::new()),
            audit: Arc::new(NoAudit),
            clock: Arc::new(SystemClock),
            extractor: Arc::new(McpTools::new()),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            execution: Execution::Blocking,
            serve_metadata: true,
            holder: HolderOptions::default(),
            approvers: ApproverSet::new(),
            max_approval_lifetime: None,
        }
    }

    /// The authorizer (to reload policies or revoke tokens).
    pub fn authorizer(&self) -> &Authorizer {
        &self.shared.authorizer
    }

    /// This resource server, with its metadata as served.
    pub fn resource(&self) -> &ProtectedResource {
        &self.shared.resource
    }
}

impl<S> tower_layer::Layer<S> for ValetLayer {
    type Service = ValetService<S>;

    fn layer(&self, inner: S) -> ValetService<S> {
        ValetService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`ValetLayer`] wraps around an inner service. It passes the inner service
/// a `Request<Full<Bytes>>` (the body it read) without its `Authorization`, `Valet-Proof`
/// and `Valet-Approval` headers, with [`Authorized`] in the extensions.
#[derive(Clone)]
pub struct ValetService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for ValetService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValetService").finish_non_exhaustive()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for ValetService<S>
where
    S: tower_service::Service<http::Request<Full<Bytes>>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
    ResBody: From<Bytes> + Send + 'static,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = BoxFuture<Result<http::Response<ResBody>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        // The inner service was made ready: take it, leave a clone for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            match shared.admit(request).await {
                Ok(request) => inner.call(request).await,
                Err(refusal) => Ok(refusal),
            }
        })
    }
}

/// The bearer token, as the request carries it.
enum Bearer {
    None,
    Token(String),
    Ambiguous,
}

fn bearer(headers: &http::HeaderMap) -> Bearer {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return if headers.contains_key(header::AUTHORIZATION) {
            Bearer::Ambiguous
        } else {
            Bearer::None
        };
    };
    let Ok(text) = value.to_str() else {
        return Bearer::None;
    };
    match text.trim().split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Bearer::Token(token.trim().to_owned())
        }
        _ => Bearer::None,
    }
}

impl Shared {
    async fn admit<ReqBody, ResBody>(
        self: Arc<Self>,
        request: http::Request<ReqBody>,
    ) -> Result<http::Request<Full<Bytes>>, http::Response<ResBody>>
    where
        ReqBody: Body + Send + 'static,
        ReqBody::Error: Into<BoxError>,
        ResBody: From<Bytes>,
    {
        if self
            .metadata_paths
            .iter()
            .any(|p| p.as_str() == request.uri().path())
        {
            return Err(metadata_response(&self.metadata_body, request.method()));
        }
        let (mut parts, body) = request.into_parts();
        let token = bearer(&parts.headers);
        let presented = read_presentation(&parts.headers);
        parts.headers.remove(header::AUTHORIZATION);
        parts.headers.remove(PROOF_HEADER);
        parts.headers.remove(APPROVAL_HEADER);
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body_bytes as u64) {
            return Err(self.too_large());
        }
        let body = match Limited::new(body, self.max_body_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => return Err(self.too_large()),
            Err(_) => {
                return Err(challenge::json_response(
                    StatusCode::BAD_REQUEST,
                    None,
                    &json!({"error": "invalid_request", "error_description": "the request body could not be read"}),
                ))
            }
        };
        let operation = self.extractor.operation(&parts, &body);
        let scope = match &operation {
            Ok(op) if !op.scopes.is_empty() => op
                .scopes
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            _ => self.default_scope.clone(),
        };
        let token = match token {
            Bearer::Token(t) => t,
            Bearer::None => return Err(self.unauthorized(&scope)),
            Bearer::Ambiguous => {
                let description = "send exactly one Authorization header";
                return Err(self.invalid_request(description));
            }
        };
        let presented = match presented {
            Ok(p) => p,
            Err(e) => return Err(self.invalid_request(&e.to_string())),
        };
        let operation = match operation {
            Ok(op) => op,
            Err(e) => {
                return Err(challenge::json_response(
                    StatusCode::BAD_REQUEST,
                    None,
                    &json!({"error": "invalid_request", "error_description": e.to_string()}),
                ))
            }
        };
        let operation = Arc::new(operation);
        let decision = self
            .clone()
            .decide(token, operation.clone(), presented)
            .await;
        match challenge::classify(&decision) {
            Answer::Allow => {
                parts.extensions.insert(Authorized {
                    decision: Arc::new(decision),
                    operation,
                });
                Ok(http::Request::from_parts(parts, Full::new(body)))
            }
            answer => Err(self.refuse(answer, &decision, &scope)),
        }
    }

    async fn decide(
        self: Arc<Self>,
        token: String,
        operation: Arc<Operation>,
        presented: Presentation,
    ) -> Decision {
        if self.execution == Execution::Blocking {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                let shared = self.clone();
                let op = operation.clone();
                if let Ok(d) = handle
                    .spawn_blocking(move || shared.judge(&token, &op, &presented))
                    .await
                {
                    return d;
                }
                return self.failure(&operation, "the authorization task failed");
            }
        }
        self.judge(&token, &operation, &presented)
    }

    fn request(&self, operation: &Operation) -> Request {
        operation.request(self.resource.audience())
    }

    fn judge(&self, token: &str, operation: &Operation, presented: &Presentation) -> Decision {
        let request = self.request(operation);
        if operation.policies {
            match self.authorizer.read_token_base64(token) {
                Ok(t) => self.authorizer.authorize_presented(&t, &request, presented),
                // Refused and recorded as unreadable, as the authorizer records it.
                Err(_) => self.authorizer.authorize_base64(token, &request),
            }
        } else {
            self.verify_token_only(token, &request, presented.proof.as_ref())
        }
    }

    /// The token layer alone (with the proof of possession, if any), recorded as the
    /// authorizer records.
    fn verify_token_only(
        &self,
        token: &str,
        request: &Request,
        proof: Option<&HolderProof>,
    ) -> Decision {
        let now = self.clock.now();
        let token_reason = |kind, block, message| Reason {
            layer: ReasonLayer::Token,
            kind: Some(kind),
            block,
            policy: None,
            message,
        };
        let (outcome, reasons, claims, verified) = match Token::from_base64(token) {
            Err(e) => (
                Outcome::Deny,
                vec![token_reason(
                    valet::token::ReasonKind::Format,
                    None,
                    e.to_string(),
                )],
                None,
                false,
            ),
            Ok(t) => match self.verifier.verify_with_proof(
                &t,
                request,
                proof,
                now,
                &Revocations(self.revocations.as_ref()),
            ) {
                Verdict::Allowed(v) => (Outcome::Allow, Vec::new(), Some(v.into_claims()), true),
                Verdict::Denied(d) => (
                    Outcome::Deny,
                    d.reasons
                        .into_iter()
                        .map(|r| token_reason(r.kind, r.block, r.message))
                        .collect(),
                    d.claims.or_else(|| t.unverified_claims().ok()),
                    d.signature_verified,
                ),
            },
        };
        let proof_key = proof.map(|p| p.key);
        self.record(outcome, reasons, claims, verified, proof_key, request)
    }

    /// Assembles a decision the authorizer did not make and records it; an allow that
    /// cannot be audited becomes a deny. The shape comes from the template authorizer
    /// (no audit sink), so every member of the record is filled as the authorizer fills
    /// it for a token it could not read, then overwritten with what is known here.
    fn record(
        &self,
        outcome: Outcome,
        reasons: Vec<Reason>,
        claims: Option<valet::Claims>,
        verified: bool,
        proof_key: Option<VerifyingKey>,
        request: &Request,
    ) -> Decision {
        let mut decision = self.template.authorize_base64("", request);
        let audit = &mut decision.audit;
        audit.outcome = outcome;
        audit.reasons.clone_from(&reasons);
        audit.approval = None;
        audit.token_id = claims.as_ref().and_then(|c| c.token_id.clone());
        audit.subject = claims.as_ref().map(|c| c.subject.clone());
        audit.client = claims.as_ref().map(|c| c.client.clone());
        audit.agent = claims.as_ref().map(|c| c.agent().to_owned());
        audit.chain = claims.as_ref().map(|c| c.chain.clone()).unwrap_or_default();
        audit.token_verified = verified;
        audit.proof_key = proof_key;
        audit.determining_policies = Vec::new();
        audit.revocation_ids = claims
            .as_ref()
            .map(|c| c.revocation_ids.clone())
            .unwrap_or_default();
        decision.outcome = outcome;
        decision.reasons = reasons;
        decision.approval = None;
        decision.determining_policies = Vec::new();
        decision.claims = claims.map(std::sync::Arc::new);
        decision.token_verified = verified;
        if let Err(e) = self.audit.record(&decision.audit) {
            if decision.outcome != Outcome::Deny {
                decision.outcome = Outcome::Deny;
                decision.reasons.push(Reason {
                    layer: ReasonLayer::Audit,
                    kind: None,
                    block: None,
                    policy: None,
                    message: format!("the decision could not be audited, so it is refused: {e}"),
                });
                decision.audit.outcome = Outcome::Deny;
                decision.audit.reasons = decision.reasons.clone();
                let _ = self.audit.record(&decision.audit);
            }
        }
        decision
    }

    /// A deny for a failure of the layer itself.
    fn failure(&self, operation: &Operation, message: &str) -> Decision {
        let reason = Reason {
            layer: ReasonLayer::Request,
            kind: None,
            block: None,
            policy: None,
            message: message.to_owned(),
        };
        let request = self.request(operation);
        self.record(Outcome::Deny, vec![reason], None, false, None, &request)
    }
    /// `400`, for a request whose credentials cannot be read.
    fn invalid_request<B: From<Bytes>>(&self, description: &str) -> http::Response<B> {
        challenge::json_response(
            StatusCode::BAD_REQUEST,
            Some(challenge::challenge(&[
                ("error", "invalid_request"),
                ("error_description", description),
                ("resource_metadata", &self.metadata_url),
            ])),
            &json!({"error": "invalid_request", "error_description": description}),
        )
    }

    fn too_large<B: From<Bytes>>(&self) -> http::Response<B> {
        challenge::json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            &json!({
                "error": "invalid_request",
                "error_description": format!("the request body is larger than {} bytes", self.max_body_bytes),
            }),
        )
    }

    fn unauthorized<B: From<Bytes>>(&self, scope: &str) -> http::Response<B> {
        challenge::json_response(
            StatusCode::UNAUTHORIZED,
            Some(challenge::challenge(&[
                ("resource_metadata", &self.metadata_url),
                ("scope", scope),
            ])),
            &json!({
                "error": "unauthorized",
                "error_description": "this resource needs a valet token: `Authorization: Bearer <token>`",
                "resource_metadata": self.metadata_url,
            }),
        )
    }

    fn refuse<B: From<Bytes>>(
        &self,
        answer: Answer,
        decision: &Decision,
        scope: &str,
    ) -> http::Response<B> {
        match answer {
            Answer::InvalidToken => {
                let description = challenge::token_description(decision);
                challenge::json_response(
                    StatusCode::UNAUTHORIZED,
                    Some(challenge::challenge(&[
                        ("error", "invalid_token"),
                        ("error_description", &description),
                        ("resource_metadata", &self.metadata_url),
                        ("scope", scope),
                    ])),
                    &json!({"error": "invalid_token", "error_description": description}),
                )
            }
            Answer::Approval => {
                let mut body = json!({
                    "error": "approval_required",
                    "approval": decision.approval,
                    "reasons": challenge::reasons_json(decision),
                });
                // What to sign, when an approval sent in `Valet-Approval` can be accepted.
                if let (Some(max), Some(fields)) = (self.approval_lifetime, body.as_object_mut()) {
                    fields.insert(
                        "approval_request".to_owned(),
                        challenge::approval_request(decision, max),
                    );
                }
                challenge::json_response(StatusCode::FORBIDDEN, None, &body)
            }
            Answer::ServerError => challenge::json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                &json!({"error": "server_error", "error_description": "the request could not be judged, so it is refused"}),
            ),
            Answer::Forbidden | Answer::Allow => {
                let description = challenge::first_reason(decision);
                challenge::json_response(
                    StatusCode::FORBIDDEN,
                    Some(challenge::challenge(&[
                        ("error", "insufficient_scope"),
                        ("scope", scope),
                        ("resource_metadata", &self.metadata_url),
                        ("error_description", &description),
                    ])),
                    &json!({
                        "error": "insufficient_scope",
                        "error_description": description,
                        "reasons": challenge::reasons_json(decision),
                    }),
                )
            }
        }
    }
}

struct Revocations<'a>(&'a dyn RevocationStore);

impl valet::token::RevocationCheck for Revocations<'_> {
    fn is_revoked(&self, id: &RevocationId) -> bool {
        self.0.is_revoked(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn bearer_reads_one_authorization_header() {
        let mut h = http::HeaderMap::new();
        assert!(matches!(bearer(&h), Bearer::None));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert!(matches!(bearer(&h), Bearer::None));
        h.insert(header::AUTHORIZATION, "bearer  abc ".parse().unwrap());
        assert!(matches!(bearer(&h), Bearer::Token(t) if t == "abc"));
        h.append(header::AUTHORIZATION, "Bearer def".parse().unwrap());
        assert!(matches!(bearer(&h), Bearer::Ambiguous));
    }

    #[test]
    fn method_is_not_used_for_metadata_posts() {
        let r: http::Response<Full<Bytes>> = metadata_response(&Bytes::new(), &Method::POST);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
