#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `ValetLayer::judge`, the synchronous core, answers every request exactly as the tower
//! service does: same status, same headers, same body bytes, and the same operation
//! admitted.

mod common;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::*;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};
use tower::ServiceExt;
use tower_layer::Layer;
use valet::danger::{BearerMinting, DangerousAuthorizerBuilder};
use valet::{Audience, Outcome, TokenBuilder};
use valet::{Authorizer, Issuer, KeyId, KeySet, MemoryAudit, RootKeyPair, SigningKey, Token};
use valet_http::{Admission, Authorized, Execution, ValetLayer, CREDENTIAL_HEADERS};

const MAX_BODY: usize = 4096;

/// What the inner service saw of one admitted request.
type Seen = Arc<Mutex<Vec<(HeaderMap, Authorized)>>>;

struct Fixture {
    root: RootKeyPair,
    layer: ValetLayer,
}

impl Fixture {
    /// A layer over the bundled policies, trusting an approver, accepting bearer tokens
    /// (so that a request can be sent twice), deciding on the blocking pool.
    fn new() -> Fixture {
        let root = RootKeyPair::generate(KeyId(1));
        let authorizer = Authorizer::builder(KeySet::new().with(root.public()), policies())
            .audit(Arc::new(MemoryAudit::new()))
            .approver(SigningKey::generate().public())
            .accept_bearer_tokens()
            .build();
        let layer = ValetLayer::builder(resource(), authorizer)
            .extractor(tools())
            .max_body_bytes(MAX_BODY)
            .execution(Execution::Blocking)
            .build();
        Fixture { root, layer }
    }

    fn mint(&self, scopes: &[&str]) -> Token {
        let mut grant =
            TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
                .audience(Audience::parse(RESOURCE).unwrap())
                .expires_in(Duration::from_secs(600))
                .bearer();
        for s in scopes {
            grant = grant.scope(scope(s));
        }
        Issuer::new(self.root.clone())
            .mint_at(grant, SystemTime::now())
            .unwrap()
    }

    /// The request through the tower service: its response, and what the inner service
    /// was given.
    async fn tower(
        &self,
        request: Request<Bytes>,
    ) -> (Response<Bytes>, Vec<(HeaderMap, Authorized)>) {
        let seen: Seen = Arc::default();
        let record = seen.clone();
        let inner = tower::service_fn(move |request: Request<Full<Bytes>>| {
            let record = record.clone();
            async move {
                let authorized = request.extensions().get::<Authorized>().unwrap().clone();
                record
                    .lock()
                    .unwrap()
                    .push((request.headers().clone(), authorized));
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"inner"))))
            }
        });
        let response = self
            .layer
            .layer(inner)
            .oneshot(request.map(Full::new))
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        let seen = seen.lock().unwrap().clone();
        (Response::from_parts(parts, body), seen)
    }

    /// The request through `judge`.
    fn judge(&self, request: Request<Bytes>) -> Admission {
        let (parts, body) = request.into_parts();
        self.layer.judge(&parts, &body)
    }

    /// Sends `request` both ways and checks that both give `status`, the same headers and
    /// the same body bytes; returns the response.
    async fn same_answer(&self, request: Request<Bytes>, status: u16) -> Response<Bytes> {
        let (tower, seen) = self.tower(request.clone()).await;
        assert!(seen.is_empty(), "the inner service was called");
        let Admission::Respond(judged) = self.judge(request) else {
            panic!("judge admitted a request the tower service answered");
        };
        assert_eq!(tower.status(), status, "{:?}", tower.body());
        assert_eq!(judged.status(), tower.status());
        assert_eq!(judged.headers(), tower.headers());
        assert_eq!(judged.body(), tower.body());
        assert_eq!(judged.version(), tower.version());
        tower
    }
}

fn post(token: Option<&Token>, message: &Value) -> Request<Bytes> {
    let mut request = Request::post("/mcp").header("content-type", "application/json");
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {}", t.to_base64()));
    }
    request.body(Bytes::from(message.to_string())).unwrap()
}

fn body_json(response: &Response<Bytes>) -> Value {
    serde_json::from_slice(response.body()).unwrap()
}

#[tokio::test]
async fn an_allowed_request_is_admitted_with_the_same_operation_both_ways() {
    let f = Fixture::new();
    let token = f.mint(&["calendar:read"]);
    let mut request = post(Some(&token), &call("read_calendar", json!({})));
    request
        .headers_mut()
        .insert("x-trace", "abc".parse().unwrap());
    let (response, seen) = f.tower(request.clone()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body().as_ref(), b"inner");
    let [(headers, by_tower)] = seen.as_slice() else {
        panic!("the inner service was called {} times", seen.len());
    };
    let Admission::Admit(by_judge) = f.judge(request.clone()) else {
        panic!("judge refused an allowed request");
    };
    assert_eq!(by_judge.operation, by_tower.operation);
    assert_eq!(by_judge.decision.outcome(), Outcome::Allow);
    assert_eq!(by_tower.decision.outcome(), Outcome::Allow);
    assert_eq!(by_judge.subject(), Some("alice@example.com"));
    assert_eq!(by_judge.operation.action, "read_calendar");
    // What the inner service sees is the request without its credentials.
    let mut expected = request.headers().clone();
    for name in &CREDENTIAL_HEADERS {
        expected.remove(name);
    }
    assert_eq!(headers, &expected);
    assert!(headers.get("authorization").is_none());
}

#[tokio::test]
async fn a_request_without_a_token_gets_the_same_401() {
    let f = Fixture::new();
    let r = f
        .same_answer(post(None, &call("pay_invoice", payment("50.00"))), 401)
        .await;
    assert_eq!(body_json(&r)["error"], "unauthorized");
    assert!(r.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn an_unreadable_token_gets_the_same_401() {
    let f = Fixture::new();
    let request = Request::post("/mcp")
        .header("authorization", "Bearer not-a-token")
        .body(Bytes::from(call("read_calendar", json!({})).to_string()))
        .unwrap();
    let r = f.same_answer(request, 401).await;
    assert_eq!(body_json(&r)["error"], "invalid_token");
}

#[tokio::test]
async fn a_refused_request_gets_the_same_403() {
    let f = Fixture::new();
    let token = f.mint(&["calendar:read"]);
    let r = f
        .same_answer(
            post(Some(&token), &call("pay_invoice", payment("50.00"))),
            403,
        )
        .await;
    assert_eq!(body_json(&r)["error"], "insufficient_scope");
    // A Cedar forbid: good scope, recipient outside the domain.
    let token = f.mint(&["email:send"]);
    let message = call(
        "send_email",
        json!({"recipient": "eve@elsewhere.example", "subject": "hi"}),
    );
    let r = f.same_answer(post(Some(&token), &message), 403).await;
    assert_eq!(body_json(&r)["error"], "insufficient_scope");
    assert!(body_json(&r).get("remediationHints").is_none());
    // Over a block's limit, with the hint of what it needs.
    let child = f
        .mint(&["payments:write"])
        .attenuate(valet::Attenuation::new().max("payment", "amount", "100.00".parse().unwrap()))
        .unwrap();
    let r = f
        .same_answer(
            post(Some(&child), &call("pay_invoice", payment("200.00"))),
            403,
        )
        .await;
    assert_eq!(
        body_json(&r)["remediationHints"][0]["type"],
        "oauth_authorization_details"
    );
}

#[tokio::test]
async fn a_payment_needing_approval_gets_the_same_approval_required() {
    let f = Fixture::new();
    let token = f.mint(&["payments:write"]);
    let r = f
        .same_answer(
            post(Some(&token), &call("pay_invoice", payment("600.00"))),
            403,
        )
        .await;
    let body = body_json(&r);
    assert_eq!(body["error"], "approval_required");
    assert_eq!(
        body["approval_request"]["token_digest"],
        valet::token::token_digest(&token)
    );
}

#[tokio::test]
async fn a_body_over_the_limit_gets_the_same_413_declared_or_not() {
    let f = Fixture::new();
    let token = f.mint(&["calendar:read"]);
    let big = call("read_calendar", json!({"pad": "x".repeat(MAX_BODY)}));
    // Without `Content-Length`: found too long as it is read.
    let r = f.same_answer(post(Some(&token), &big), 413).await;
    assert_eq!(body_json(&r)["error"], "invalid_request");
    // Declared too long.
    let mut request = post(Some(&token), &big);
    request
        .headers_mut()
        .insert("content-length", big.to_string().len().into());
    f.same_answer(request, 413).await;
    // Exactly the limit is read.
    let (tower, _) = f
        .tower(post(
            Some(&token),
            &json!({"pad": "x".repeat(MAX_BODY - 10)}),
        ))
        .await;
    assert_ne!(tower.status(), 413);
    assert_eq!(f.layer.max_body_bytes(), MAX_BODY);
}

#[tokio::test]
async fn malformed_requests_get_the_same_400() {
    let f = Fixture::new();
    let token = f.mint(&["calendar:read"]);
    // Two Authorization headers.
    let mut request = post(Some(&token), &call("read_calendar", json!({})));
    request
        .headers_mut()
        .append("authorization", "Bearer other".parse().unwrap());
    f.same_answer(request, 400).await;
    // A Valet-Proof that is not a proof.
    let mut request = post(Some(&token), &call("read_calendar", json!({})));
    request
        .headers_mut()
        .insert("valet-proof", "not base64!".parse().unwrap());
    f.same_answer(request, 400).await;
    // A body that is not JSON.
    let request = Request::post("/mcp")
        .header("authorization", format!("Bearer {}", token.to_base64()))
        .body(Bytes::from_static(b"{"))
        .unwrap();
    f.same_answer(request, 400).await;
}

#[tokio::test]
async fn the_metadata_is_the_same_at_both_paths() {
    let f = Fixture::new();
    assert_eq!(
        f.layer.metadata_paths(),
        [
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource"
        ]
    );
    for path in f.layer.metadata_paths() {
        let request = Request::get(path.as_str()).body(Bytes::new()).unwrap();
        let r = f.same_answer(request, 200).await;
        assert_eq!(body_json(&r)["resource"], RESOURCE);
        let request = Request::post(path.as_str()).body(Bytes::new()).unwrap();
        f.same_answer(request, 405).await;
    }
}

#[test]
fn judge_runs_without_a_runtime() {
    let f = Fixture::new();
    let token = f.mint(&["calendar:read"]);
    let admission = f.judge(post(Some(&token), &call("read_calendar", json!({}))));
    assert!(matches!(admission, Admission::Admit(a) if a.operation.action == "read_calendar"));
    let Admission::Respond(r) = f.judge(post(None, &call("read_calendar", json!({})))) else {
        panic!("judge admitted a request without a token");
    };
    assert_eq!(r.status(), 401);
}
