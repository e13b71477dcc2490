//! Requests per second of an allowed `tools/call` through the layer, against the same
//! handler without it, over HTTP on 127.0.0.1.
//!
//! ```sh
//! cargo run --release -p valet-http --example load -- [seconds per run] [connections]
//! ```
//!
//! Client and server share the process and the machine, so the figures compare the runs
//! with each other; they are not the server's capacity alone. Each run is bounded in time.

use std::error::Error;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use valet::danger::{BearerMinting, DangerousAuthorizerBuilder};
use valet::*;
use valet_http::{Execution, McpTools, ProtectedResource, ValetLayer};

type BoxError = Box<dyn Error + Send + Sync>;

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

async fn handler(Json(message): Json<Value>) -> Json<Value> {
    Json(json!({"jsonrpc": "2.0", "id": message.get("id"), "result": {"content": []}}))
}

/// Starts the handler on the servers' runtime, behind `layer` when given; returns its
/// address.
fn start(
    servers: &tokio::runtime::Runtime,
    layer: Option<ValetLayer>,
) -> Result<std::net::SocketAddr, BoxError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let app = Router::new().route("/mcp", post(handler));
    let app = match layer {
        Some(l) => app.layer(l),
        None => app,
    };
    servers.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, app).await
    });
    Ok(addr)
}

/// Sends the same request from `connections` tasks for `seconds`; returns requests/s.
async fn run(
    addr: std::net::SocketAddr,
    authorization: &str,
    body: &str,
    seconds: u64,
    connections: usize,
) -> Result<f64, BoxError> {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build_http();
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (client, done, failed) = (client.clone(), done.clone(), failed.clone());
        let (auth, body) = (authorization.to_owned(), Bytes::from(body.to_owned()));
        tasks.spawn(async move {
            while Instant::now() < deadline {
                let request = http::Request::post(format!("http://{addr}/mcp"))
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()));
                let Ok(request) = request else { break };
                match client.request(request).await {
                    Ok(r) if r.status() == 200 => {
                        if r.into_body().collect().await.is_ok() {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    let failed = failed.load(Ordering::Relaxed);
    if failed > 0 {
        return Err(format!("{failed} requests were not answered 200").into());
    }
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed)
}

fn main() -> Result<(), BoxError> {
    // Servers and client on runtimes of their own, two worker threads each.
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    };
    let (servers, client) = (runtime()?, runtime()?);
    client.block_on(measure(&servers))
}

async fn measure(servers: &tokio::runtime::Runtime) -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map_or(Ok(5), |a| a.parse())?;
    let connections: usize = args.next().map_or(Ok(32), |a| a.parse())?;

    let root = RootKeyPair::generate(KeyId(1));
    let keys = KeySet::new().with(root.public());
    let policies = Arc::new(PolicyStore::load(POLICIES)?);
    let resource_uri = "https://tools.example.com/mcp";
    let token = Issuer::new(root).mint(
        TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .audience(Audience::parse(resource_uri)?)
            .scope(Scope::parse("payments:write")?)
            .detail(AuthorizationDetail::new("payment").max("amount", "1000.00".parse()?))
            .expires_in(Duration::from_secs(900))
            // A bearer token, as this load has always measured: no proof per request.
            .bearer(),
    )?;
    let child = token.attenuate(Attenuation::new().delegate("invoice-agent").max(
        "payment",
        "amount",
        "100.00".parse()?,
    ))?;
    let authorization = format!("Bearer {}", child.to_base64());
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "pay_invoice",
        "arguments": {"amount": "50.00", "currency": "USD", "recipient": "bob@example.com"},
    }})
    .to_string();
    let layer = |execution| -> Result<ValetLayer, BoxError> {
        let tools = McpTools::new()
            .scope("pay_invoice", Scope::parse("payments:write")?)
            .details_from_arguments(
                "pay_invoice",
                "payment",
                ["amount", "currency", "recipient"],
            );
        let authorizer = Authorizer::builder(keys.clone(), policies.clone())
            .accept_bearer_tokens()
            .audit(Arc::new(JsonLinesAudit::open("/dev/null")?))
            .build();
        Ok(
            ValetLayer::builder(ProtectedResource::new(resource_uri)?, authorizer)
                .extractor(tools)
                .execution(execution)
                .build(),
        )
    };

    // One decision, timed without HTTP (a sub-agent's token, a payment with details).
    let inline = layer(Execution::Inline)?;
    let request = Request::new(Audience::parse(resource_uri)?, "pay_invoice")
        .scope(Scope::parse("payments:write")?)
        .details(
            TransactionDetails::new("payment")
                .with("amount", "50.00")
                .with("currency", "USD")
                .with("recipient", "bob@example.com"),
        );
    let text = child.to_base64();
    let n = 2000;
    let started = Instant::now();
    for _ in 0..n {
        let d = inline.authorizer().authorize_encoded(
            valet::Encoded::Base64(&text),
            &request,
            &valet::Presentation::new(),
        );
        if !d.allowed() {
            return Err(format!("the timed request was refused: {d}").into());
        }
    }
    println!(
        "one decision (parse + verify + policies + audit line): {:.0} us",
        started.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    );

    println!("{seconds} s per run, {connections} connections, allowed pay_invoice tools/call:");
    let bare = run(
        start(servers, None)?,
        &authorization,
        &body,
        seconds,
        connections,
    )
    .await?;
    println!("  without the layer:         {bare:>8.0} req/s");
    let with = run(
        start(servers, Some(inline))?,
        &authorization,
        &body,
        seconds,
        connections,
    )
    .await?;
    println!(
        "  with the layer (inline):   {with:>8.0} req/s ({:.0}% of the bare handler)",
        100.0 * with / bare
    );
    let blocking = layer(Execution::Blocking)?;
    let with = run(
        start(servers, Some(blocking))?,
        &authorization,
        &body,
        seconds,
        connections,
    )
    .await?;
    println!(
        "  with the layer (blocking): {with:>8.0} req/s ({:.0}% of the bare handler)",
        100.0 * with / bare
    );
    Ok(())
}
