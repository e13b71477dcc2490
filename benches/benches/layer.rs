//! The per-request cost of `valet_http::ValetLayer` in front of a handler, against the
//! handler alone. The handler is a tower `service_fn` answering a small JSON `200`; every
//! request is an MCP `tools/call` of `pay_invoice` (50.00 USD to alice) with a 1-block
//! token bound to the agent's key and a fresh proof of possession in `Valet-Proof`,
//! judged by the bundled `policies/` (the tools and scopes of
//! `crates/valet-http/examples/tool_server.rs`). The rows:
//!
//! - `handler_alone`: the handler, no layer;
//! - `authorizer_alone`: the decision the layer asks for, `Authorizer::authorize_encoded`
//!   of the same token, request and proof, no HTTP;
//! - `allowed_blocking`: the handler behind the layer with its defaults (the decision on
//!   tokio's blocking pool, `Execution::Blocking`);
//! - `allowed_inline`: the same with `Execution::Inline` (the decision on the request's
//!   task);
//! - `no_token_401`: the same request without `Authorization` and `Valet-Proof`,
//!   answered `401` by the layer.
//!
//! Every request is driven with `tower::ServiceExt::oneshot` and `Runtime::block_on` on
//! a multi-thread tokio runtime, the handler alone included. The token is the same on
//! every request (an agent's steady state: a repeat presentation); the request and its
//! proof, which a nonce makes single use, are built in criterion's setup, so only the
//! server's work is timed.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::{header, HeaderValue, StatusCode};
use http_body_util::Full;
use tower::ServiceExt as _;
use valet::{
    Audience, AuthorizationDetail, Authorizer, FixedClock, HolderOptions, HolderProof, Issuer,
    PolicyStore, Presentation, Scope, SigningKey, Token, TokenBuilder,
};
use valet_benches::{fixture, now, Fixture};
use valet_http::{
    proof_header_value, Execution, Extractor as _, McpTools, ProtectedResource, ValetLayer,
    ValetService, PROOF_HEADER,
};

/// The tool server's `/mcp` endpoint: the tokens' audience.
const RESOURCE: &str = "https://tools.example.com/mcp";

/// An allowed call: under the approval threshold, in USD, to an allowlisted recipient.
const BODY: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"pay_invoice","arguments":{"amount":"50.00","currency":"USD","recipient":"alice@example.com","memo":"invoice 42"}}}"#;

/// What the handler answers.
const ANSWER: &[u8] =
    br#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"paid"}]}}"#;

fn scope(s: &str) -> Scope {
    fixture(Scope::parse(s))
}

/// The tools of the example tool server: the scope each needs, and where its
/// transaction comes from.
fn tools() -> McpTools {
    McpTools::new()
        .scope("read_calendar", scope("calendar:read"))
        .scope("send_email", scope("email:send"))
        .scope("pay_invoice", scope("payments:write"))
        .details_from_arguments("send_email", "email", ["recipient", "subject"])
        .details_from_arguments(
            "pay_invoice",
            "payment",
            ["amount", "currency", "recipient", "memo"],
        )
}

fn resource() -> ProtectedResource {
    fixture(ProtectedResource::new(RESOURCE))
        .authorization_server("https://auth.example.com")
        .scope(scope("calendar:read"))
        .scope(scope("email:send"))
        .scope(scope("payments:write"))
}

/// An authorizer trusting the fixture's key, judging with the bundled policies at
/// [`now`], with bearer tokens refused, and with room in its replay cache for every
/// proof of a run (the clock stands still, so no nonce expires).
fn authorizer(fx: &Fixture) -> Arc<Authorizer> {
    let policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    let authorizer = Authorizer::builder(fx.keys(), fixture(PolicyStore::load(policies)))
        .clock(Arc::new(FixedClock::new(now())))
        .holder_options(HolderOptions {
            replay_capacity: 2_000_000,
            replay_per_agent: 2_000_000,
            ..HolderOptions::default()
        })
        .build();
    Arc::new(authorizer)
}

/// The agent's token: the orchestrator's grant, bound to `holder`.
fn token(fx: &Fixture, holder: &SigningKey) -> Token {
    let grant = TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
        .audience(fixture(Audience::parse(RESOURCE)))
        .scope(scope("calendar:read"))
        .scope(scope("email:send"))
        .scope(scope("payments:write"))
        .detail(AuthorizationDetail::new("payment").max("amount", fixture("1000.00".parse())))
        .expires_in(Duration::from_secs(600))
        .holder(holder.public());
    fixture(Issuer::new(fx.root.clone()).mint_at(grant, now()))
}

/// What the agent sends and the server judges.
struct Agent {
    key: SigningKey,
    token: Token,
    authorization: HeaderValue,
    /// The request the layer's extractor reads from [`BODY`], which the proof signs.
    judged: valet::Request,
}

impl Agent {
    fn new(fx: &Fixture) -> Self {
        let key = SigningKey::generate();
        let token = token(fx, &key);
        let authorization = fixture(HeaderValue::from_str(&format!(
            "Bearer {}",
            token.to_base64()
        )));
        let (parts, ()) = fixture(http::Request::post(RESOURCE).body(())).into_parts();
        let judged = fixture(tools().operation(&parts, &Bytes::from_static(BODY.as_bytes())))
            .request(&fixture(Audience::parse(RESOURCE)));
        Agent {
            key,
            token,
            authorization,
            judged,
        }
    }

    /// A fresh proof of possession (a new nonce) of the judged request.
    fn proof(&self) -> HolderProof {
        fixture(HolderProof::sign(
            &self.key,
            &self.token,
            &self.judged,
            now(),
        ))
    }

    /// The `tools/call` request, with the token and a fresh proof when `credentials`.
    fn request(&self, credentials: bool) -> http::Request<Full<Bytes>> {
        let mut request = http::Request::post(RESOURCE)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, BODY.len());
        if credentials {
            request = request
                .header(header::AUTHORIZATION, self.authorization.clone())
                .header(PROOF_HEADER, fixture(proof_header_value(&self.proof())));
        }
        fixture(request.body(Full::new(Bytes::from_static(BODY.as_bytes()))))
    }
}

/// The handler: a small JSON `200` for every request, ready at once.
fn handler(_request: http::Request<Full<Bytes>>) -> HandlerFuture {
    let mut response = http::Response::new(Full::new(Bytes::from_static(ANSWER)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    std::future::ready(Ok(response))
}

/// The handler as a tower service.
type Handler = tower::util::ServiceFn<fn(http::Request<Full<Bytes>>) -> HandlerFuture>;

type HandlerFuture = std::future::Ready<Result<http::Response<Full<Bytes>>, Infallible>>;

/// The handler behind the layer.
type Served = ValetService<Handler>;

/// Fails the run when a row's request is not answered as the row says.
fn check(status: StatusCode, expected: StatusCode, row: &str) {
    if status != expected {
        fixture::<(), _>(Err(format!("{row}: answered {status}, not {expected}")));
    }
}

fn layer(c: &mut Criterion) {
    let fx = Fixture::new();
    let agent = Agent::new(&fx);
    let rt = fixture(tokio::runtime::Builder::new_multi_thread().build());
    let handler: Handler = tower::service_fn(handler as fn(_) -> _);
    let service = |execution: Execution| -> Served {
        let layer = ValetLayer::builder(resource(), authorizer(&fx))
            .extractor(tools())
            .execution(execution)
            .build();
        tower::Layer::layer(&layer, handler)
    };
    let blocking = service(Execution::Blocking);
    let inline = service(Execution::Inline);
    let az = authorizer(&fx);
    let encoded = agent.token.to_base64();

    // Every row is answered as it says before it is timed.
    let status = |svc: &Served, credentials| {
        fixture(rt.block_on(svc.clone().oneshot(agent.request(credentials)))).status()
    };
    check(
        fixture(rt.block_on(handler.oneshot(agent.request(true)))).status(),
        StatusCode::OK,
        "handler_alone",
    );
    check(status(&blocking, true), StatusCode::OK, "allowed_blocking");
    check(status(&inline, true), StatusCode::OK, "allowed_inline");
    check(
        status(&inline, false),
        StatusCode::UNAUTHORIZED,
        "no_token_401",
    );
    let presentation = Presentation::new().proof(agent.proof());
    if !az
        .authorize_encoded(
            valet::Encoded::Base64(&encoded),
            &agent.judged,
            &presentation,
        )
        .allowed()
    {
        fixture::<(), _>(Err("authorizer_alone: not allowed"));
    }

    let mut group = c.benchmark_group("layer");
    group.bench_function("handler_alone", |b| {
        b.iter_batched(
            || agent.request(true),
            |request| rt.block_on(handler.oneshot(request)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("authorizer_alone", |b| {
        b.iter_batched(
            || Presentation::new().proof(agent.proof()),
            |p| az.authorize_encoded(valet::Encoded::Base64(&encoded), &agent.judged, &p),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("allowed_blocking", |b| {
        b.iter_batched(
            || agent.request(true),
            |request| rt.block_on(blocking.clone().oneshot(request)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("allowed_inline", |b| {
        b.iter_batched(
            || agent.request(true),
            |request| rt.block_on(inline.clone().oneshot(request)),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("no_token_401", |b| {
        b.iter_batched(
            || agent.request(false),
            |request| rt.block_on(inline.clone().oneshot(request)),
            BatchSize::SmallInput,
        )
    });
    group.finish();

    // The replay caches still had room: the last requests were allowed too.
    check(status(&blocking, true), StatusCode::OK, "allowed_blocking");
    check(status(&inline, true), StatusCode::OK, "allowed_inline");
}

criterion_group!(benches, layer);
criterion_main!(benches);
