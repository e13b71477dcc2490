//! The tower layer: every request's bearer token judged before the inner service sees it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::request::Parts;
use http::{header, HeaderName, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use serde_json::json;
use valet::{Authorizer, Decision, Presentation, VerifyingKey};

use crate::challenge::{self, Answer};
use crate::extract::{Extractor, Operation};
use crate::mcp::McpTools;
use crate::presented::{read_presentation, APPROVAL_HEADER, PROOF_HEADER};
use crate::remediation;
use crate::resource::{metadata_response, ProtectedResource};

/// Largest request body the layer reads by default (64 KiB); a larger one is answered
/// with `413`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// The request headers that carry credentials: `Authorization`, `Valet-Proof` and
/// `Valet-Approval`. The layer takes them off every request: the extractor and the inner
/// service never see them. A middleware built on [`ValetLayer::judge`] takes them off the
/// request it passes on.
pub const CREDENTIAL_HEADERS: [HeaderName; 3] =
    [header::AUTHORIZATION, PROOF_HEADER, APPROVAL_HEADER];

/// What the layer makes of one request ([`ValetLayer::judge`]). Matched outside this
/// crate, it needs a wildcard arm: treat an answer not known there as a refusal (a `500`),
/// so that nothing is admitted that was not judged allowed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Admission {
    /// Allowed: pass the request on, without its [`CREDENTIAL_HEADERS`], with this in its
    /// extensions (or however the server hands it to its handler).
    Admit(Authorized),
    /// Answered by the layer: send this response, and do not pass the request on. It is
    /// the metadata document, or a refusal (`400`, `401`, `403`, `413`, `500`), exactly as
    /// the tower service sends it.
    Respond(http::Response<Bytes>),
}

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
    /// The decision; its outcome is [`Outcome::Allow`](valet::Outcome::Allow).
    pub decision: Arc<Decision>,
    /// What was judged: act on exactly this.
    pub operation: Arc<Operation>,
}

impl Authorized {
    /// The person the agent acts for.
    pub fn subject(&self) -> Option<&str> {
        self.decision.subject()
    }

    /// The agent the issuer minted the token for (its client id): an identity the issuer
    /// signed.
    pub fn client(&self) -> Option<&str> {
        self.decision.claims().map(|c| c.client.as_str())
    }

    /// The acting agent: the last delegate, else the client. A delegate's name is written
    /// by whoever cut its block (self-asserted): the policies judged the request for every
    /// agent of the chain, but do not grant more on this name than on
    /// [`client`](Self::client), and neither should the service.
    pub fn agent(&self) -> Option<&str> {
        self.decision.claims().map(|c| c.agent())
    }

    /// The delegates, in order, as their delegators named them (self-asserted; see
    /// [`agent`](Self::agent)).
    pub fn delegates(&self) -> Vec<String> {
        self.decision
            .claims()
            .map(|c| c.delegates())
            .unwrap_or_default()
    }

    /// The holder key whose proof of possession came with the request (`Valet-Proof`),
    /// if one did.
    pub fn proof_key(&self) -> Option<VerifyingKey> {
        self.decision.proof_key()
    }
}

/// Builds a [`ValetLayer`] around an already-configured [`Authorizer`].
///
/// Everything about judging (keys, policies, limits, revocations, audit sink, clock,
/// holder options, proof window, approvers) is set on the [`valet::AuthorizerBuilder`];
/// only what is about HTTP is set here. The layer judges actions with
/// [`Authorizer::authorize_encoded`] and protocol messages (token only) with
/// [`Authorizer::verify_presented`], so both paths share one verifier, one replay cache
/// for proofs of possession, one clock and one audit sink.
pub struct ValetLayerBuilder {
    resource: ProtectedResource,
    authorizer: Arc<Authorizer>,
    extractor: Arc<dyn Extractor>,
    max_body_bytes: usize,
    execution: Execution,
    serve_metadata: bool,
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
            .with_default_detail_types(self.authorizer.policies().detail_types());
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
                authorizer: self.authorizer,
                extractor: self.extractor,
                max_body_bytes: self.max_body_bytes,
                execution: self.execution,
            }),
        }
    }
}

struct Shared {
    resource: ProtectedResource,
    authorizer: Arc<Authorizer>,
    extractor: Arc<dyn Extractor>,
    max_body_bytes: usize,
    execution: Execution,
    metadata_paths: Vec<String>,
    metadata_body: Bytes,
    metadata_url: String,
    default_scope: String,
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
    /// Starts a layer for `resource`, judging every request with `authorizer`: build it
    /// with the keys, policies, audit sink and every other judging option first.
    pub fn builder(
        resource: ProtectedResource,
        authorizer: impl Into<Arc<Authorizer>>,
    ) -> ValetLayerBuilder {
        ValetLayerBuilder {
            resource,
            authorizer: authorizer.into(),
            extractor: Arc::new(McpTools::new()),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            execution: Execution::Blocking,
            serve_metadata: true,
        }
    }

    /// The authorizer the layer was built with (to reload policies or revoke tokens).
    pub fn authorizer(&self) -> &Authorizer {
        &self.shared.authorizer
    }

    /// This resource server, with its metadata as served.
    pub fn resource(&self) -> &ProtectedResource {
        &self.shared.resource
    }

    /// The largest request body read, in bytes: a larger one is answered `413`.
    pub fn max_body_bytes(&self) -> usize {
        self.shared.max_body_bytes
    }

    /// The paths the layer answers with the metadata document, without a token: both of
    /// [`ProtectedResource::metadata_paths`], or none when built with
    /// [`serve_metadata(false)`](ValetLayerBuilder::serve_metadata).
    pub fn metadata_paths(&self) -> &[String] {
        &self.shared.metadata_paths
    }

    /// Judges one request whose body has been read, on the calling thread, as the tower
    /// service does: the same stages, the same decision and the same answers, byte for
    /// byte. For a server that does not run tower (an ASGI middleware through the Python
    /// binding, a hand-written hyper service).
    ///
    /// In order: a metadata path is answered with the metadata; a body longer than
    /// [`max_body_bytes`](Self::max_body_bytes), or declared longer by its
    /// `Content-Length`, is answered `413`; the [`CREDENTIAL_HEADERS`] are read (a copy
    /// of `parts` without them goes to the extractor); the extractor reads the
    /// operation; the authorizer decides, on this thread whatever the
    /// [`Execution`]; the decision is answered `401`, `403` or `500`, or admitted.
    ///
    /// A caller reads at most `max_body_bytes() + 1` bytes of the body, so that a larger
    /// one is refused without being held whole.
    pub fn judge(&self, parts: &Parts, body: &Bytes) -> Admission {
        self.shared.admit_read(parts, body)
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
                Err(answer) => Ok(answer.map(ResBody::from)),
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

/// A request read and ready for its decision: its credentials and what it does.
struct Pending {
    token: String,
    operation: Arc<Operation>,
    presented: Presentation,
    /// The scopes a challenge asks for.
    scope: String,
}

impl Shared {
    /// The tower path: the body read (streamed up to the limit), then [`Shared::examine`],
    /// the decision where [`Execution`] says, and [`Shared::conclude`].
    async fn admit<ReqBody>(
        self: Arc<Self>,
        request: http::Request<ReqBody>,
    ) -> Result<http::Request<Full<Bytes>>, http::Response<Bytes>>
    where
        ReqBody: Body + Send + 'static,
        ReqBody::Error: Into<BoxError>,
    {
        let (mut parts, body) = request.into_parts();
        if let Some(answer) = self.unread(&parts) {
            return Err(answer);
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
        let pending = self.examine(&mut parts, &body)?;
        let Some((decision, pending)) = self.clone().decide(pending).await else {
            return Err(server_error());
        };
        let authorized = self.conclude(decision, pending)?;
        parts.extensions.insert(authorized);
        Ok(http::Request::from_parts(parts, Full::new(body)))
    }

    /// [`ValetLayer::judge`]: the same stages, the decision on the calling thread.
    fn admit_read(&self, parts: &Parts, body: &Bytes) -> Admission {
        if let Some(answer) = self.unread(parts) {
            return Admission::Respond(answer);
        }
        let mut parts = parts.clone();
        let pending = match self.examine(&mut parts, body) {
            Ok(pending) => pending,
            Err(answer) => return Admission::Respond(answer),
        };
        let decision = self.decision(&pending);
        match self.conclude(decision, pending) {
            Ok(authorized) => Admission::Admit(authorized),
            Err(answer) => Admission::Respond(answer),
        }
    }

    /// The answer to a request that is answered before its body is read: a metadata path,
    /// or a body declared (`Content-Length`) larger than the limit.
    fn unread(&self, parts: &Parts) -> Option<http::Response<Bytes>> {
        if self
            .metadata_paths
            .iter()
            .any(|p| p.as_str() == parts.uri.path())
        {
            return Some(metadata_response(&self.metadata_body, &parts.method));
        }
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body_bytes as u64) {
            return Some(self.too_large());
        }
        None
    }

    /// Takes the credentials off `parts` and reads what the request does, or the answer
    /// to a request that cannot be judged: a body over the limit, no token, credentials
    /// or an operation that cannot be read.
    #[expect(
        clippy::result_large_err,
        reason = "the error is the response, built once per request and sent as is"
    )]
    fn examine(&self, parts: &mut Parts, body: &Bytes) -> Result<Pending, http::Response<Bytes>> {
        if body.len() > self.max_body_bytes {
            return Err(self.too_large());
        }
        let token = bearer(&parts.headers);
        let presented = read_presentation(&parts.headers);
        for name in &CREDENTIAL_HEADERS {
            parts.headers.remove(name);
        }
        let operation = self.extractor.operation(parts, body);
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
        let operation = operation.map_err(|e| e.response())?;
        Ok(Pending {
            token,
            operation: Arc::new(operation),
            presented,
            scope,
        })
    }

    /// What the request gets for its decision: admitted, or refused.
    #[expect(
        clippy::result_large_err,
        reason = "the error is the response, built once per request and sent as is"
    )]
    fn conclude(
        &self,
        decision: Decision,
        pending: Pending,
    ) -> Result<Authorized, http::Response<Bytes>> {
        match challenge::classify(&decision) {
            Answer::Allow => Ok(Authorized {
                decision: Arc::new(decision),
                operation: pending.operation,
            }),
            answer => Err(self.refuse(answer, &decision, &pending)),
        }
    }

    /// The authorizer's decision and the request given back, or `None` when the task
    /// running it failed (answered `500`: nothing was judged, so nothing is allowed).
    async fn decide(self: Arc<Self>, pending: Pending) -> Option<(Decision, Pending)> {
        if self.execution == Execution::Blocking {
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                return handle
                    .spawn_blocking(move || (self.decision(&pending), pending))
                    .await
                    .ok();
            }
        }
        Some((self.decision(&pending), pending))
    }

    /// One decision of the authorizer: the token and the policies for an action, the
    /// token alone for a protocol message. A token that cannot be read is refused and
    /// recorded as unreadable by the authorizer either way.
    fn decision(&self, pending: &Pending) -> Decision {
        let Pending {
            token,
            operation,
            presented,
            ..
        } = pending;
        let request = operation.request(self.resource.audience());
        if operation.policies {
            return self.authorizer.authorize_encoded(
                valet::Encoded::Base64(token),
                &request,
                presented,
            );
        }
        match self.authorizer.read_token_base64(token) {
            Ok(t) => self
                .authorizer
                .verify_presented(&t, &request, presented.proof.as_ref()),
            // Unreadable tokens get the authorizer's own refusal.
            Err(_) => self.authorizer.authorize_encoded(
                valet::Encoded::Base64(token),
                &request,
                &valet::Presentation::new(),
            ),
        }
    }

    /// `400`, for a request whose credentials cannot be read.
    fn invalid_request(&self, description: &str) -> http::Response<Bytes> {
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

    fn too_large(&self) -> http::Response<Bytes> {
        challenge::json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            &json!({
                "error": "invalid_request",
                "error_description": format!("the request body is larger than {} bytes", self.max_body_bytes),
            }),
        )
    }

    fn unauthorized(&self, scope: &str) -> http::Response<Bytes> {
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

    fn refuse(
        &self,
        answer: Answer,
        decision: &Decision,
        pending: &Pending,
    ) -> http::Response<Bytes> {
        let Pending {
            token,
            operation,
            scope,
            ..
        } = pending;
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
                    "approval": decision.approval(),
                    "reasons": challenge::reasons_json(decision),
                });
                // What to sign, when an approval sent in `Valet-Approval` can be accepted: a
                // needs-approval decision means the token was read, so it is read again here.
                let token = self.authorizer.read_token_base64(token).ok();
                if let (Some(max), Some(token), Some(fields)) = (
                    self.authorizer.approval_lifetime(),
                    token,
                    body.as_object_mut(),
                ) {
                    fields.insert(
                        "approval_request".to_owned(),
                        challenge::approval_request(decision, &token, max),
                    );
                }
                challenge::json_response(StatusCode::FORBIDDEN, None, &body)
            }
            Answer::ServerError => server_error(),
            Answer::Forbidden | Answer::Allow => {
                let description = challenge::first_reason(decision);
                let mut body = json!({
                    "error": "insufficient_scope",
                    "error_description": description,
                    "reasons": challenge::reasons_json(decision),
                });
                if let (Some(hints), Some(fields)) = (
                    remediation::hints(decision, operation),
                    body.as_object_mut(),
                ) {
                    fields.insert("remediationHints".to_owned(), hints);
                }
                challenge::json_response(
                    StatusCode::FORBIDDEN,
                    Some(challenge::challenge(&[
                        ("error", "insufficient_scope"),
                        ("scope", scope),
                        ("resource_metadata", &self.metadata_url),
                        ("error_description", &description),
                    ])),
                    &body,
                )
            }
        }
    }
}

/// `500`, for a request that could not be judged.
fn server_error() -> http::Response<Bytes> {
    challenge::json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        None,
        &json!({"error": "server_error", "error_description": "the request could not be judged, so it is refused"}),
    )
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
