//! The real parts of the proxy tests: the Python MCP server of `tests/upstream`, keys and a
//! config file in a temporary directory, the proxy started in the test's runtime, and an
//! HTTP client that signs each call's proof of possession.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use valet::*;
use valet_http::{proof_header_value, Extractor};
use valet_proxy::{Config, Proxy};

pub const RESOURCE: &str = "https://tools.example.com/mcp";
pub const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
pub const UPSTREAM_SCRIPT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/upstream/mcp_server.py");

/// The Python MCP server, killed when dropped.
pub struct PythonUpstream {
    child: Child,
    pub addr: SocketAddr,
}

impl PythonUpstream {
    pub fn start() -> PythonUpstream {
        let mut child = Command::new("python3")
            .arg(UPSTREAM_SCRIPT)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the upstream server");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from the upstream: {line:?}"))
            .parse()
            .unwrap();
        PythonUpstream { child, addr }
    }

    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// What reached the server: one `{"method", "tool", "path"}` per POST.
    pub async fn log(&self) -> Vec<Value> {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let uri = format!("http://{}/log", self.addr);
        let response = client.get(uri.parse().unwrap()).await.unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice::<Vec<Value>>(&bytes).unwrap()
    }

    /// The tools called through the proxy so far.
    pub async fn calls(&self) -> Vec<String> {
        self.log()
            .await
            .iter()
            .filter_map(|e| e["tool"].as_str().map(str::to_owned))
            .collect()
    }
}

impl Drop for PythonUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory with the trusted keys, and the root and approver keys that sign.
pub struct Keys {
    pub dir: tempfile::TempDir,
    pub root: RootKeyPair,
    pub owner: SigningKey,
}

impl Keys {
    pub fn new() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let root = RootKeyPair::generate(KeyId(1));
        root.public()
            .write_file(dir.path().join("root.pub"), false)
            .unwrap();
        let owner = SigningKey::generate();
        owner
            .public()
            .write_file(dir.path().join("owner.pub"), false)
            .unwrap();
        Keys { dir, root, owner }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` as `proxy.toml` beside the keys and returns its path.
    pub fn write_config(&self, text: &str) -> PathBuf {
        let path = self.path("proxy.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A token for Alice's orchestrator, bound to `holder`.
    pub fn mint(&self, holder: &SigningKey, scopes: &[&str]) -> Token {
        let mut grant =
            TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
                .audience(Audience::parse(RESOURCE).unwrap())
                .expires_in(Duration::from_secs(600))
                .holder(holder.public());
        for s in scopes {
            grant = grant.scope(Scope::parse(*s).unwrap());
        }
        Issuer::new(self.root.clone()).mint(grant).unwrap()
    }
}

/// The config of the tests: the bundled policies and entity data, three tools.
pub fn config_text(upstream: &str, extra: &str) -> String {
    let policies = Path::new(REPO).join("policies");
    format!(
        r#"
resource = "{RESOURCE}"
upstream = "{upstream}"
listen = "127.0.0.1:0"

[trust]
root_keys = ["root.pub"]
approver_keys = ["owner.pub"]

[policies]
dir = "{policies}"
entities = "{policies}/entities.json"

[metadata]
authorization_servers = ["https://auth.example.com"]
resource_name = "Test tools"

[tools.pay_invoice]
scopes = ["payments:write"]
details = {{ type = "payment", fields = ["amount", "currency", "recipient", "memo"] }}

[tools.read_calendar]
scopes = ["calendar:read"]

[tools.send_email]
scopes = ["email:send"]
details = {{ type = "email", fields = ["recipient", "subject"] }}

[audit]
output = "audit.jsonl"
{extra}
"#,
        policies = policies.display()
    )
}

/// A proxy serving in this test's runtime, stopped when dropped.
pub struct Running {
    pub addr: SocketAddr,
    pub config: Config,
    stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    pub task: Option<tokio::task::JoinHandle<()>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Running {
    pub async fn start(config_path: &Path) -> Running {
        let config = Config::read(config_path).unwrap_or_else(|e| panic!("{e}"));
        let proxy = Proxy::new(config.clone()).unwrap_or_else(|e| panic!("{e}"));
        let listening = proxy.bind().await.unwrap();
        let addr = listening.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(listening.serve(async {
            let _ = stopped.await;
        }));
        Running {
            addr,
            config,
            stop: std::sync::Mutex::new(Some(stop)),
            task: Some(task),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Asks the proxy to shut down gracefully.
    pub fn shut_down(&self) {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            let _ = stop.send(());
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The `Valet-Proof` value for sending `message` with `token`, signed by `key`, as a
    /// client computes it: the proxy's extractor run on the request about to be sent.
    pub fn prove(&self, key: &SigningKey, token: &Token, message: &Value) -> String {
        let (parts, ()) = http::Request::post(RESOURCE).body(()).unwrap().into_parts();
        let request = self
            .config
            .tools()
            .operation(&parts, &Bytes::from(message.to_string()))
            .unwrap()
            .request(&Audience::parse(RESOURCE).unwrap());
        let proof = HolderProof::sign(key, token, &request, SystemTime::now()).unwrap();
        proof_header_value(&proof)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Sends a request and returns the response with its body still streaming.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&Value>,
    ) -> http::Response<hyper::body::Incoming> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        self.client
            .request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap()
    }

    /// Sends `message` to the resource with `token` and a fresh proof by `key`, and
    /// `headers` beside them.
    pub async fn call(
        &self,
        (token, key): (&Token, &SigningKey),
        message: &Value,
        headers: &[(&str, String)],
    ) -> Reply {
        let mut all = vec![
            ("authorization", format!("Bearer {}", token.to_base64())),
            ("valet-proof", self.prove(key, token, message)),
        ];
        all.extend(headers.iter().cloned());
        Reply::read(self.send("POST", "/mcp", &all, Some(message)).await).await
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shut_down();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A whole answer.
pub struct Reply {
    pub status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub async fn read(response: http::Response<hyper::body::Incoming>) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

pub fn call(tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": tool, "arguments": arguments}})
}

pub fn payment(amount: &str) -> Value {
    json!({"amount": amount, "currency": "USD", "recipient": "bob@example.com", "memo": "invoice 7"})
}
