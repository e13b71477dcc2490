//! A tool server on an ephemeral port behind the layer, and a real HTTP client.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::extract::Extension;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use valet::danger::{BearerMinting, DangerousAuthorizerBuilder};
use valet::*;
use valet_http::{Authorized, Execution, Extractor, McpTools, ProtectedResource, ValetLayer};

pub const RESOURCE: &str = "https://tools.example.com/mcp";
pub const METADATA_URL: &str = "https://tools.example.com/.well-known/oauth-protected-resource/mcp";

pub fn scope(s: &str) -> Scope {
    Scope::parse(s).unwrap()
}

/// The MCP tools of the bundled schema, with the scopes they need and where their
/// transactions come from.
pub fn tools() -> McpTools {
    McpTools::new()
        .scope("pay_invoice", scope("payments:write"))
        .scope("send_email", scope("email:send"))
        .scope("read_calendar", scope("calendar:read"))
        .details_from_arguments(
            "pay_invoice",
            "payment",
            ["amount", "currency", "recipient", "memo"],
        )
        .details_from_arguments("send_email", "email", ["recipient", "subject"])
}

pub fn resource() -> ProtectedResource {
    ProtectedResource::new(RESOURCE)
        .unwrap()
        .authorization_server("https://auth.example.com")
        .scope(scope("calendar:read"))
        .scope(scope("email:send"))
        .scope(scope("payments:write"))
        .resource_name("Example tools")
        .resource_documentation("https://tools.example.com/docs")
}

/// What the inner handler saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub headers: HeaderMap,
    pub subject: Option<String>,
    pub agent: Option<String>,
    pub action: String,
}

pub struct Server {
    pub addr: SocketAddr,
    pub root: RootKeyPair,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub layer: ValetLayer,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn challenge(&self) -> &str {
        self.headers
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }
}

pub fn policies() -> PolicyStore {
    PolicyStore::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies")).unwrap()
}

impl Server {
    /// Starts the server with this audit sink.
    pub async fn start(audit: Arc<dyn AuditSink>) -> Server {
        Self::start_with(audit, Execution::Inline).await
    }

    /// Starts the server with this audit sink, deciding where `execution` says. It also
    /// accepts bearer tokens (the `danger` opt-in), for the tests of the layer's HTTP that
    /// use them.
    pub async fn start_with(audit: Arc<dyn AuditSink>, execution: Execution) -> Server {
        Self::start_configured(audit, execution, |b| b.accept_bearer_tokens()).await
    }

    /// Starts the server with this audit sink, deciding where `execution` says, with
    /// `configure` applied to the authorizer's builder (the defaults: bearer tokens
    /// refused).
    pub async fn start_configured(
        audit: Arc<dyn AuditSink>,
        execution: Execution,
        configure: impl FnOnce(AuthorizerBuilder) -> AuthorizerBuilder,
    ) -> Server {
        let root = RootKeyPair::generate(KeyId(1));
        let authorizer =
            Authorizer::builder(KeySet::new().with(root.public()), policies()).audit(audit);
        Self::serve(root, configure(authorizer).build(), execution).await
    }

    /// Starts the server judging with `authorizer`, which trusts `root`.
    pub async fn serve(
        root: RootKeyPair,
        authorizer: impl Into<Arc<Authorizer>>,
        execution: Execution,
    ) -> Server {
        Self::serve_with(root, authorizer, execution, tools()).await
    }

    /// Starts the server judging with `authorizer`, which trusts `root`, reading
    /// operations with `extractor`.
    pub async fn serve_with(
        root: RootKeyPair,
        authorizer: impl Into<Arc<Authorizer>>,
        execution: Execution,
        extractor: impl Extractor,
    ) -> Server {
        let layer = ValetLayer::builder(resource(), authorizer)
            .extractor(extractor)
            .max_body_bytes(4096)
            .execution(execution)
            .build();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let handler = move |Extension(auth): Extension<Authorized>, headers: HeaderMap| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(Seen {
                    headers,
                    subject: auth.subject().map(str::to_owned),
                    agent: auth.agent().map(str::to_owned),
                    action: auth.operation.action.clone(),
                });
                Json(json!({
                    "jsonrpc": "2.0",
                    "id": 1,
                    "result": {
                        "action": auth.operation.action,
                        "subject": auth.subject(),
                        "agent": auth.agent(),
                        "delegates": auth.delegates(),
                        "outcome": auth.decision.outcome(),
                    }
                }))
            }
        };
        let router = Router::new().route("/mcp", post(handler));
        let app = tower::ServiceBuilder::new()
            .layer(layer.clone())
            .service(router);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
            )
            .await
            .unwrap();
        });
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(32)
            .build_http();
        Server {
            addr,
            root,
            seen,
            layer,
            client,
        }
    }

    pub fn mint(&self, scopes: &[&str], lifetime: Duration) -> Token {
        self.mint_for(RESOURCE, scopes, lifetime, SystemTime::now())
    }

    pub fn mint_for(
        &self,
        audience: &str,
        scopes: &[&str],
        lifetime: Duration,
        now: SystemTime,
    ) -> Token {
        self.mint_with(audience, scopes, lifetime, now, None)
    }

    /// A token bound to `holder`'s key: it needs a proof of possession by that key.
    pub fn mint_bound(&self, scopes: &[&str], holder: &SigningKey) -> Token {
        self.mint_with(
            RESOURCE,
            scopes,
            Duration::from_secs(600),
            SystemTime::now(),
            Some(holder),
        )
    }

    /// A token bound to `holder`'s key, or a bearer token (the `danger` opt-in) without.
    fn mint_with(
        &self,
        audience: &str,
        scopes: &[&str],
        lifetime: Duration,
        now: SystemTime,
        holder: Option<&SigningKey>,
    ) -> Token {
        let mut grant =
            TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
                .audience(Audience::parse(audience).unwrap())
                .expires_in(lifetime)
                .bearer();
        for s in scopes {
            grant = grant.scope(scope(s));
        }
        if let Some(k) = holder {
            grant = grant.holder(k.public());
        }
        Issuer::new(self.root.clone()).mint_at(grant, now).unwrap()
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        body: Bytes,
    ) -> Reply {
        self.send_with(method, path, authorization, &[], body).await
    }

    /// Sends a request with these extra headers.
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        authorization: Option<&str>,
        headers: &[(&str, HeaderValue)],
        body: Bytes,
    ) -> Reply {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header("content-type", "application/json");
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        for (name, value) in headers {
            request = request.header(*name, value.clone());
        }
        let response = self
            .client
            .request(request.body(Full::new(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A JSON-RPC message to `/mcp` with this token.
    pub async fn rpc(&self, token: Option<&Token>, message: Value) -> Reply {
        let auth = token.map(|t| format!("Bearer {}", t.to_base64()));
        self.send(
            "POST",
            "/mcp",
            auth.as_deref(),
            Bytes::from(message.to_string()),
        )
        .await
    }

    pub async fn call(&self, token: Option<&Token>, tool: &str, arguments: Value) -> Reply {
        self.rpc(token, call(tool, arguments)).await
    }

    /// A JSON-RPC message to `/mcp` with this token and these extra headers.
    pub async fn rpc_with(
        &self,
        token: &Token,
        message: &Value,
        headers: &[(&str, HeaderValue)],
    ) -> Reply {
        let auth = format!("Bearer {}", token.to_base64());
        self.send_with(
            "POST",
            "/mcp",
            Some(&auth),
            headers,
            Bytes::from(message.to_string()),
        )
        .await
    }
}

pub fn call(tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":tool,"arguments":arguments}})
}

pub fn payment(amount: &str) -> Value {
    json!({"amount": amount, "currency": "USD", "recipient": "bob@example.com"})
}
