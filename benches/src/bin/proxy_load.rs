//! Requests per second and latency (p50, p99) of an allowed MCP `tools/call` over HTTP on
//! 127.0.0.1, side by side in one run:
//!
//! - straight to the upstream;
//! - through one `valet proxy` whose stores are in its memory;
//! - through one `valet proxy` whose stores are on Redis;
//! - through two proxies sharing that Redis, each connection's requests alternating
//!   between them.
//!
//! ```sh
//! bash scripts/redis.sh   # the redis-server this starts on a free port
//! cargo run --release -p valet-benches --bin proxy_load -- [seconds per run] [connections]
//! ```
//!
//! Each connection takes turns between four agents, each with a token minted for its own
//! client id and bound to its own key (so that no agent nears the in-memory replay
//! store's 5 000 live proofs per agent), and signs a fresh proof of possession just before
//! each request is sent, in every row (the first included, so that the client's work is
//! the same in all). The
//! upstream is a small hyper server in this process that answers each JSON-RPC message at
//! once: the Python server of the proxy's tests answers a few hundred requests a second
//! and would be what is measured. Client, proxies, upstream and Redis share the machine,
//! so the rows compare with each other; they are not a proxy's capacity alone.

use std::error::Error;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use valet::{Audience, HolderProof, Issuer, KeyId, RootKeyPair, Scope, SigningKey, TokenBuilder};
use valet_http::{proof_header_value, Extractor};
use valet_proxy::{Config, Proxy};
use valet_redis::testing::RedisServer;

type BoxError = Box<dyn Error + Send + Sync>;

const RESOURCE: &str = "https://tools.example.com/mcp";
const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../policies");
const WARM_UP: Duration = Duration::from_millis(500);
const AGENTS_PER_CONNECTION: usize = 4;

/// The upstream's answer to every message: a JSON-RPC result with the message's id.
async fn answer(request: http::Request<Incoming>) -> Result<http::Response<Full<Bytes>>, BoxError> {
    let body = request.into_body().collect().await?.to_bytes();
    let id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|m| m.get("id").cloned())
        .unwrap_or(Value::Null);
    let reply = json!({"jsonrpc": "2.0", "id": id,
                       "result": {"content": [{"type": "text", "text": "paid"}]}});
    Ok(http::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(reply.to_string())))?)
}

/// Serves [`answer`] on a loopback port; returns the address.
async fn upstream() -> Result<SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(answer);
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// A proxy named `name` in front of `upstream`, its config in `dir` beside the root key,
/// its stores on Redis at `redis` when given; serving until the process ends.
async fn proxy(
    dir: &Path,
    name: &str,
    upstream: SocketAddr,
    redis: Option<&str>,
) -> Result<(SocketAddr, Config), BoxError> {
    let section = redis.map_or_else(String::new, |url| {
        format!("\n[redis]\nurl = \"{url}\"\nkey_prefix = \"load\"\nreplica = \"{name}\"\n")
    });
    let text = format!(
        r#"resource = "{RESOURCE}"
upstream = "http://{upstream}/mcp"
listen = "127.0.0.1:0"

[trust]
root_keys = ["root.pub"]

[policies]
dir = "{POLICIES}"
entities = "{POLICIES}/entities.json"

[tools.pay_invoice]
scopes = ["payments:write"]
details = {{ type = "payment", fields = ["amount", "currency", "recipient", "memo"] }}

[audit]
output = "audit-{name}.jsonl"
{section}"#
    );
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text)?;
    let config = Config::read(&path)?;
    let listening = Proxy::new(config.clone())?.bind().await?;
    let addr = listening.local_addr();
    tokio::spawn(listening.serve(std::future::pending()));
    Ok((addr, config))
}

/// One connection's agent: its key, its token, and the request its proofs sign.
struct Agent {
    key: SigningKey,
    token: valet::Token,
    authorization: String,
    request: valet::Request,
}

impl Agent {
    fn proof(&self) -> Result<http::HeaderValue, BoxError> {
        let proof = HolderProof::sign(&self.key, &self.token, &self.request, SystemTime::now())?;
        Ok(proof_header_value(&proof)?)
    }
}

/// What one run measured.
struct Run {
    answered: u64,
    refused: u64,
    first_refusal: Option<String>,
    seconds: f64,
    latencies_us: Vec<u64>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.answered as f64 / self.seconds
    }

    /// The `p`-th percentile of the latencies, in milliseconds.
    fn percentile_ms(&self, p: usize) -> f64 {
        let n = self.latencies_us.len();
        let i = (n.saturating_mul(p) / 100).min(n.saturating_sub(1));
        self.latencies_us.get(i).copied().unwrap_or(0) as f64 / 1000.0
    }
}

/// Each connection sends the message for `length`, one request after the other, taking
/// turns between its agents; the `i`-th connection sends its `k`-th request to
/// `targets[(i + k) % n]`.
async fn run(
    client: &Client<HttpConnector, Full<Bytes>>,
    targets: &[SocketAddr],
    agents: &[Arc<Agent>],
    body: &Bytes,
    length: Duration,
) -> Result<Run, BoxError> {
    let started = Instant::now();
    let deadline = started + length;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, turns) in agents.chunks(AGENTS_PER_CONNECTION).enumerate() {
        let (client, turns, body) = (client.clone(), turns.to_vec(), body.clone());
        let targets = targets.to_vec();
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let (mut refused, mut first_refusal) = (0u64, None);
            let mut k = i;
            while Instant::now() < deadline {
                let (Some(target), Some(agent)) = (
                    targets.get(k % targets.len().max(1)),
                    turns.get(k % turns.len().max(1)),
                ) else {
                    break;
                };
                k = k.wrapping_add(1);
                let request = http::Request::post(format!("http://{target}/mcp"))
                    .header("authorization", &agent.authorization)
                    .header("valet-proof", agent.proof()?)
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .body(Full::new(body.clone()))?;
                let sent = Instant::now();
                let response = client.request(request).await?;
                let status = response.status();
                let answer = response.into_body().collect().await?.to_bytes();
                let took = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                if status == http::StatusCode::OK {
                    latencies.push(took);
                } else {
                    refused += 1;
                    first_refusal.get_or_insert_with(|| {
                        format!("{status}: {}", String::from_utf8_lossy(&answer))
                    });
                }
            }
            Ok::<_, BoxError>((latencies, refused, first_refusal))
        });
    }
    let mut all = Run {
        answered: 0,
        refused: 0,
        first_refusal: None,
        seconds: 0.0,
        latencies_us: Vec::new(),
    };
    while let Some(done) = tasks.join_next().await {
        let (latencies, refused, first_refusal) = done??;
        all.answered += latencies.len() as u64;
        all.latencies_us.extend(latencies);
        all.refused += refused;
        if all.first_refusal.is_none() {
            all.first_refusal = first_refusal;
        }
    }
    all.seconds = started.elapsed().as_secs_f64();
    all.latencies_us.sort_unstable();
    Ok(all)
}

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map_or(Ok(5), |a| a.parse())?;
    let connections: usize = args.next().map_or(Ok(16), |a| a.parse())?;
    // Upstream and proxies on one runtime, the client on another, two worker threads each.
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    };
    let (servers, client) = (runtime()?, runtime()?);
    let redis = RedisServer::start()?;
    let dir = tempfile::tempdir()?;
    let root = RootKeyPair::generate(KeyId(1));
    root.public()
        .write_file(dir.path().join("root.pub"), false)?;
    let (upstream, memory, a, b) = servers.block_on(async {
        let upstream = upstream().await?;
        let memory = proxy(dir.path(), "memory", upstream, None).await?;
        let a = proxy(dir.path(), "proxy-a", upstream, Some(&redis.url())).await?;
        let b = proxy(dir.path(), "proxy-b", upstream, Some(&redis.url())).await?;
        Ok::<_, BoxError>((upstream, memory, a, b))
    })?;

    let message = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "pay_invoice",
        "arguments": {"amount": "50.00", "currency": "USD", "recipient": "bob@example.com"},
    }});
    let body = Bytes::from(message.to_string());
    // What the proxies judge, so what each proof signs: the proxies' own extractor run on
    // the request about to be sent.
    let (parts, ()) = http::Request::post(RESOURCE).body(())?.into_parts();
    let request = memory
        .1
        .tools()
        .operation(&parts, &body)?
        .request(&Audience::parse(RESOURCE)?);
    let issuer = Issuer::new(root);
    let agents = (0..connections * AGENTS_PER_CONNECTION)
        .map(|i| {
            let key = SigningKey::generate();
            let token = issuer.mint(
                TokenBuilder::new(
                    "alice@example.com",
                    format!("https://agent-{i}.example/client"),
                )
                .audience(Audience::parse(RESOURCE)?)
                .scope(Scope::parse("payments:write")?)
                .expires_in(Duration::from_secs(900))
                .holder(key.public()),
            )?;
            Ok(Arc::new(Agent {
                authorization: format!("Bearer {}", token.to_base64()),
                key,
                token,
                request: request.clone(),
            }))
        })
        .collect::<Result<Vec<_>, BoxError>>()?;

    let rows: [(&str, Vec<SocketAddr>); 4] = [
        ("straight to the upstream", vec![upstream]),
        ("one proxy, stores in memory", vec![memory.0]),
        ("one proxy, stores on Redis", vec![a.0]),
        ("two proxies sharing Redis, alternating", vec![a.0, b.0]),
    ];
    let results = client.block_on(async {
        let http: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(connections)
            .build_http();
        let mut results = Vec::new();
        for (name, targets) in &rows {
            run(&http, targets, &agents, &body, WARM_UP).await?;
            let measured =
                run(&http, targets, &agents, &body, Duration::from_secs(seconds)).await?;
            results.push((*name, measured));
        }
        Ok::<_, BoxError>(results)
    })?;

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "{seconds} s per run after {} ms of warm-up, {connections} connections ({AGENTS_PER_CONNECTION} agents each), {cores} cores; \
         an allowed pay_invoice tools/call, a holder-bound token and a fresh proof per request:",
        WARM_UP.as_millis()
    );
    println!();
    println!("| path | requests/s | p50 | p99 | not 200 |");
    println!("|---|---:|---:|---:|---:|");
    for (name, r) in &results {
        println!(
            "| {name} | {:.0} | {:.2} ms | {:.2} ms | {} |",
            r.per_second(),
            r.percentile_ms(50),
            r.percentile_ms(99),
            r.refused
        );
    }
    for (name, r) in &results {
        if let Some(first) = &r.first_refusal {
            println!(
                "\n{name}: {} not answered 200, the first: {first}",
                r.refused
            );
        }
    }
    drop(redis);
    Ok(())
}
