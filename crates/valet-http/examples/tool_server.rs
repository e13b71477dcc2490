//! An MCP tool server built on the official Rust MCP SDK (`rmcp`), protected by Valet, and
//! an agent that calls it over HTTP.
//!
//! ```sh
//! cargo run -p valet-http --example tool_server            # the agent flow, then exit
//! cargo run -p valet-http --example tool_server -- --serve  # serve on 127.0.0.1:8080
//! # on a port the system picks, with keys a test can read to mint tokens and approve
//! cargo run -p valet-http --example tool_server -- --serve --addr 127.0.0.1:0 --keys-dir keys
//! # risky: also honour bearer tokens, to call the server with curl alone
//! cargo run -p valet-http --example tool_server -- --serve --accept-bearer-tokens
//! ```
//!
//! The tools `read_calendar`, `send_email` and `pay_invoice` are `rmcp` tools (`#[tool]`,
//! arguments described by JSON Schema), served at `/mcp` by rmcp's streamable HTTP
//! transport, stateless and answered in JSON: no session is kept, so a client of the
//! 2026-07-28 revision sends each request with its own `_meta`, and one of an earlier
//! revision may `initialize` first, which is answered and not remembered.
//! `valet_http::ValetLayer` wraps the transport and judges every request by the bundled
//! `policies/` before rmcp reads it; each tool reads the layer's [`Authorized`] from the
//! HTTP request rmcp hands it and acts on the operation judged. The RFC 9728 metadata is
//! at `/.well-known/oauth-protected-resource/mcp`. The server trusts one approver key, the
//! account owner's, for signed approvals sent in `Valet-Approval`. Every token is bound to
//! its agent's key and every call carries a proof of possession in `Valet-Proof`; bearer
//! tokens are refused unless the server is started with `--accept-bearer-tokens`. Every
//! decision is printed as one audit line on stderr.
//!
//! Without `--serve`, the server listens on a port the system picks and an agent flow
//! calls it over HTTP, each request in the 2026-07-28 form (its `_meta`, and the
//! `Mcp-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers), printing each answer.
//!
//! `--serve` prints, on stdout and flushed before the first request is read:
//!
//! ```text
//! listening on http://127.0.0.1:PORT/mcp
//! resource: http://127.0.0.1:PORT/mcp
//! metadata: http://127.0.0.1:PORT/.well-known/oauth-protected-resource/mcp
//! ```
//!
//! The resource URI is the audience tokens must name. With `--keys-dir DIR`, the server
//! reads the root key pair from `DIR/root.key` and the approver's signing key from
//! `DIR/approver.key` (valet private key files, mode `0600`), writing new ones there when
//! they are missing: whoever reads them can mint tokens for the server and sign approvals
//! (`valet.RootKeyPair.read_file`, `valet.SigningKey.read_file` in Python). Without it,
//! both keys are new for each run and never leave the process.

use std::error::Error;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::schemars::{self, JsonSchema};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{tool, tool_handler, tool_router, ErrorData, ServerHandler};
use serde::Deserialize;
use serde_json::{json, Value};
use valet::danger::{BearerMinting, DangerousAuthorizerBuilder};
use valet::*;
use valet_http::{
    approval_header_value, proof_header_value, Authorized, Extractor, McpTools, ProtectedResource,
    ValetLayer, APPROVAL_HEADER, PROOF_HEADER,
};

type BoxError = Box<dyn Error + Send + Sync>;

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

/// The MCP revision the agent speaks: stateless, each request with its own `_meta`.
const PROTOCOL_VERSION: &str = "2026-07-28";

/// Prints every audit record as one JSON line on stderr.
struct StderrAudit;

impl AuditSink for StderrAudit {
    fn record(&self, record: &AuditRecord) -> Result<(), valet::Error> {
        eprintln!("audit: {}", record.to_json_line());
        Ok(())
    }
}

fn scope(s: &str) -> Result<Scope, BoxError> {
    Ok(Scope::parse(s)?)
}

/// How the layer reads the tools: the scope each needs, and where its transaction comes
/// from.
fn tools() -> Result<McpTools, BoxError> {
    Ok(McpTools::new()
        .scope("read_calendar", scope("calendar:read")?)
        .scope("send_email", scope("email:send")?)
        .scope("pay_invoice", scope("payments:write")?)
        .details_from_arguments("send_email", "email", ["recipient", "subject"])
        .details_from_arguments(
            "pay_invoice",
            "payment",
            ["amount", "currency", "recipient", "memo"],
        ))
}

/// The arguments of `send_email`.
#[derive(Deserialize, JsonSchema)]
struct Email {
    /// Who receives the email.
    recipient: String,
    /// Its subject line.
    subject: String,
    /// Its text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    body: Option<String>,
}

/// The arguments of `pay_invoice`.
#[derive(Deserialize, JsonSchema)]
struct Invoice {
    /// The amount, as decimal text, like "50.00".
    amount: String,
    /// The currency, like "USD".
    currency: String,
    /// Who is paid.
    recipient: String,
    // Optional, and a string when given (not `null`, which the layer refuses).
    /// What the payment is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    memo: Option<String>,
}

/// The tools. rmcp routes each call by its name; the layer has already judged it.
#[derive(Clone)]
struct Tools;

#[tool_router]
impl Tools {
    #[tool(description = "Today's events")]
    async fn read_calendar(&self, Extension(http): Extension<Parts>) -> Result<String, ErrorData> {
        let auth = judged(&http, "read_calendar")?;
        Ok(format!(
            "{}'s calendar, read by {}: 09:30 stand-up; 14:00 dentist",
            auth.subject().unwrap_or("?"),
            auth.agent().unwrap_or("?")
        ))
    }

    #[tool(description = "Send an email in the person's name")]
    async fn send_email(
        &self,
        Extension(http): Extension<Parts>,
        Parameters(email): Parameters<Email>,
    ) -> Result<String, ErrorData> {
        let auth = judged(&http, "send_email")?;
        as_judged(&auth, "recipient", Some(&email.recipient))?;
        as_judged(&auth, "subject", Some(&email.subject))?;
        Ok(format!(
            "{} sent `{}` to {} ({} characters)",
            auth.agent().unwrap_or("?"),
            email.subject,
            email.recipient,
            email.body.unwrap_or_default().chars().count()
        ))
    }

    #[tool(description = "Pay an invoice")]
    async fn pay_invoice(
        &self,
        Extension(http): Extension<Parts>,
        Parameters(invoice): Parameters<Invoice>,
    ) -> Result<String, ErrorData> {
        let auth = judged(&http, "pay_invoice")?;
        as_judged(&auth, "amount", Some(&invoice.amount))?;
        as_judged(&auth, "currency", Some(&invoice.currency))?;
        as_judged(&auth, "recipient", Some(&invoice.recipient))?;
        as_judged(&auth, "memo", invoice.memo.as_deref())?;
        Ok(format!(
            "{} paid {} {} to {} for {}",
            auth.agent().unwrap_or("?"),
            invoice.amount,
            invoice.currency,
            invoice.recipient,
            auth.subject().unwrap_or("?")
        ))
    }
}

#[tool_handler(name = "valet-example-tools", version = "0.1.0")]
impl ServerHandler for Tools {}

/// The layer's decision on this call, which must be of `tool`. rmcp gives a tool the
/// request's HTTP parts; the layer put its [`Authorized`] in their extensions.
fn judged(http: &Parts, tool: &str) -> Result<Authorized, ErrorData> {
    let auth = http
        .extensions
        .get::<Authorized>()
        .cloned()
        .ok_or_else(|| ErrorData::internal_error("the call was not judged", None))?;
    if auth.operation.action != tool {
        return Err(ErrorData::internal_error(
            format!(
                "the call judged was `{}`, not `{tool}`",
                auth.operation.action
            ),
            None,
        ));
    }
    Ok(auth)
}

/// Refuses to act unless the argument `field` the tool was given is the one judged: the
/// layer and rmcp each read the body, and the tool acts only where they agree.
fn as_judged(auth: &Authorized, field: &str, given: Option<&str>) -> Result<(), ErrorData> {
    let judged = auth
        .operation
        .details
        .as_ref()
        .and_then(|d| d.get(field))
        .and_then(FieldValue::as_str);
    if judged != given {
        return Err(ErrorData::internal_error(
            format!("`{field}` is not the one judged"),
            None,
        ));
    }
    Ok(())
}

/// Whether the server honours bearer tokens.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bearer {
    /// Only tokens bound to a holder key, each call with its proof (the default).
    Refused,
    /// Bearer tokens too, for whoever presents them (`valet::danger`).
    Accepted,
}

/// The server at `addr`: the rmcp tools at `/mcp` behind the layer, trusting `keys` for
/// tokens and `approver` for signed approvals, and the metadata beside them.
fn app(
    addr: SocketAddr,
    keys: KeySet,
    approver: VerifyingKey,
    bearer: Bearer,
) -> Result<(ProtectedResource, Router), BoxError> {
    let resource = ProtectedResource::new(&format!("http://{addr}/mcp"))?
        .authorization_server("https://auth.example.com")
        .scope(scope("calendar:read")?)
        .scope(scope("email:send")?)
        .scope(scope("payments:write")?)
        .resource_name("Valet example tools")
        .resource_documentation("https://github.com/valet-auth/valet/tree/main/crates/valet-http");
    let builder = Authorizer::builder(keys, PolicyStore::load(POLICIES)?)
        .audit(Arc::new(StderrAudit))
        .approver(approver);
    let authorizer = match bearer {
        Bearer::Refused => builder.build(),
        Bearer::Accepted => builder.accept_bearer_tokens().build(),
    };
    let layer = ValetLayer::builder(resource.clone(), authorizer)
        .extractor(tools()?)
        .build();
    // Stateless, JSON answers; only requests naming this server's own address (DNS
    // rebinding protection).
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_allowed_hosts([addr.to_string()]);
    let mcp: StreamableHttpService<Tools, NeverSessionManager> =
        StreamableHttpService::new(|| Ok(Tools), Arc::default(), config);
    // The layer guards `/mcp`; the metadata is public and mounted beside it.
    let mut app = Router::new()
        .route_service("/mcp", mcp)
        .layer(layer.clone());
    for path in layer.resource().metadata_paths() {
        app = app.route_service(&path, layer.resource().metadata_service());
    }
    Ok((resource, app))
}

/// The root key pair and the approver's signing key: read from `dir` when they are
/// there, else new (and written to `dir` when one is given).
fn keys(dir: Option<&Path>) -> Result<(RootKeyPair, SigningKey), BoxError> {
    let Some(dir) = dir else {
        return Ok((RootKeyPair::generate(KeyId(1)), SigningKey::generate()));
    };
    std::fs::create_dir_all(dir)?;
    let path = dir.join("root.key");
    let root = if path.exists() {
        RootKeyPair::read_file(&path)?
    } else {
        let root = RootKeyPair::generate(KeyId(1));
        root.write_private_file(&path, false)?;
        root
    };
    let path = dir.join("approver.key");
    let approver = if path.exists() {
        SigningKey::read_file(&path)?
    } else {
        let approver = SigningKey::generate();
        approver.write_private_file(&path, false)?;
        approver
    };
    Ok((root, approver))
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// The headers of the 2026-07-28 revision that name what a request is, read without its
/// body: its version, its method and (for `tools/call`) the tool.
fn mcp_headers(message: &Value) -> Result<Vec<(HeaderName, HeaderValue)>, BoxError> {
    let mut headers = vec![(
        HeaderName::from_static("mcp-protocol-version"),
        HeaderValue::from_static(PROTOCOL_VERSION),
    )];
    if let Some(method) = message.get("method").and_then(Value::as_str) {
        headers.push((HeaderName::from_static("mcp-method"), method.parse()?));
    }
    let params = message.get("params");
    if let Some(name) = params.and_then(|p| p.get("name")).and_then(Value::as_str) {
        headers.push((HeaderName::from_static("mcp-name"), name.parse()?));
    }
    Ok(headers)
}

/// Sends one request and prints the answer.
async fn show(
    client: &HttpClient,
    step: &str,
    url: &str,
    token: Option<&Token>,
    message: Option<Value>,
) -> Result<(), BoxError> {
    show_with(client, step, url, token, message, Vec::new()).await?;
    Ok(())
}

/// Sends one request with extra headers, prints the answer and returns its JSON body.
async fn show_with(
    client: &HttpClient,
    step: &str,
    url: &str,
    token: Option<&Token>,
    message: Option<Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
) -> Result<Value, BoxError> {
    println!("\n== {step}");
    let mut request = http::Request::builder().uri(url);
    if let Some(m) = &message {
        request = request
            .method("POST")
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        for (name, value) in mcp_headers(m)? {
            request = request.header(name, value);
        }
    }
    if let Some(t) = token {
        request = request.header("authorization", format!("Bearer {}", t.to_base64()));
    }
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let body = message.map(|m| m.to_string()).unwrap_or_default();
    let response = client
        .request(request.body(Full::new(Bytes::from(body)))?)
        .await?;
    println!("   status: {}", response.status());
    if let Some(c) = response.headers().get("www-authenticate") {
        println!("   www-authenticate: {}", c.to_str()?);
    }
    let bytes = response.into_body().collect().await?.to_bytes();
    let body = serde_json::from_slice::<Value>(&bytes).ok();
    // Short answers pretty-printed, long ones (tools/list) on one line.
    let shown = match &body {
        Some(v) if bytes.len() < 1000 => serde_json::to_string_pretty(v)?,
        Some(v) => v.to_string(),
        None => String::from_utf8_lossy(&bytes).into_owned(),
    };
    println!("   body: {}", shown.replace('\n', "\n   "));
    Ok(body.unwrap_or(Value::Null))
}

/// The `Valet-Proof` header for sending `message` to `mcp` with `token`: the agent signs
/// the request the server will judge, as the server's extractor reads it.
fn prove(
    key: &SigningKey,
    token: &Token,
    mcp: &str,
    message: &Value,
) -> Result<(HeaderName, HeaderValue), BoxError> {
    let (parts, ()) = http::Request::post(mcp).body(())?.into_parts();
    let request = tools()?
        .operation(&parts, &Bytes::from(message.to_string()))?
        .request(&Audience::parse(mcp)?);
    let proof = HolderProof::sign(key, token, &request, SystemTime::now())?;
    Ok((PROOF_HEADER, proof_header_value(&proof)?))
}

/// The person's device: signs an approval of the `approval_request` of a `403`, for the
/// token it names by digest (the device never holds the token).
fn approve(owner: &SigningKey, refusal: &Value) -> Result<Approval, BoxError> {
    let a = &refusal["approval_request"];
    let text = |name: &str| a[name].as_str().ok_or(format!("no `{name}` to approve"));
    let mut request = Request::new(Audience::parse(text("audience")?)?, text("action")?);
    if !a["authorization_details"].is_null() {
        request = request.details(TransactionDetails::from_json(
            &a["authorization_details"].to_string(),
        )?);
    }
    let expires = SystemTime::now() + Duration::from_secs(300);
    Ok(Approval::sign_for_token_digest(
        owner,
        text("subject")?,
        text("token_digest")?,
        &request,
        expires,
    )?)
}

/// A JSON-RPC request of the 2026-07-28 revision: no session, so each request names its
/// protocol version, its client and the client's capabilities in `_meta`.
fn rpc(method: &str, params: Value) -> Value {
    let mut params = match params {
        Value::Object(p) => p,
        _ => serde_json::Map::new(),
    };
    params.insert(
        "_meta".into(),
        json!({
            "io.modelcontextprotocol/protocolVersion": PROTOCOL_VERSION,
            "io.modelcontextprotocol/clientInfo": {"name": "valet-example-agent", "version": "0.1.0"},
            "io.modelcontextprotocol/clientCapabilities": {},
        }),
    );
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
}

fn call(tool: &str, arguments: Value) -> Value {
    rpc("tools/call", json!({"name": tool, "arguments": arguments}))
}

fn pay(amount: &str, recipient: &str) -> Value {
    json!({"amount": amount, "currency": "USD", "recipient": recipient, "memo": "invoice 42"})
}

/// An agent's token for the person, as the authorization server would mint it: bound to
/// the agent's key, so usable only with its proof of possession.
fn mint(root: &RootKeyPair, resource: &str, holder: &SigningKey) -> Result<Token, BoxError> {
    Ok(Issuer::new(root.clone()).mint(grant(resource)?.holder(holder.public()))?)
}

/// What the orchestrator's tokens grant.
fn grant(resource: &str) -> Result<TokenBuilder, BoxError> {
    Ok(
        TokenBuilder::new("alice@example.com", "https://orchestrator.example/client")
            .audience(Audience::parse(resource)?)
            .scope(scope("calendar:read")?)
            .scope(scope("email:send")?)
            .scope(scope("payments:write")?)
            .detail(AuthorizationDetail::new("payment").max("amount", "1000.00".parse()?))
            .detail(AuthorizationDetail::new("email"))
            .expires_in(Duration::from_secs(900)),
    )
}

/// Sends `message` with `token` and a fresh proof of possession by `key`, and prints the
/// answer; returns its JSON body.
async fn send(
    client: &HttpClient,
    step: &str,
    mcp: &str,
    (token, key): (&Token, &SigningKey),
    message: Value,
    mut headers: Vec<(HeaderName, HeaderValue)>,
) -> Result<Value, BoxError> {
    headers.insert(0, prove(key, token, mcp, &message)?);
    show_with(client, step, mcp, Some(token), Some(message), headers).await
}

/// The agent flow: an orchestrator and its sub-agent, each with its own key, call the
/// server over HTTP with a proof of possession per call; a copy of a token without its
/// proof is refused; the person approves a payment; a bearer token is refused.
async fn agent_flow(
    mcp: &str,
    metadata: &str,
    root: &RootKeyPair,
    owner: &SigningKey,
) -> Result<(), BoxError> {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    show(
        &client,
        "the metadata a client discovers",
        metadata,
        None,
        None,
    )
    .await?;
    show(
        &client,
        "a call without a token",
        mcp,
        None,
        Some(call("read_calendar", json!({}))),
    )
    .await?;

    // The orchestrator's own key pair: its token is bound to the public key, and every
    // call carries a fresh proof of possession signed with the private key.
    let orchestrator = SigningKey::generate();
    let token = mint(root, mcp, &orchestrator)?;
    let steps = [
        ("orchestrator: tools/list", rpc("tools/list", json!({}))),
        (
            "orchestrator: read_calendar",
            call("read_calendar", json!({})),
        ),
        (
            "orchestrator: pay 120.00 to bob@example.com",
            call("pay_invoice", pay("120.00", "bob@example.com")),
        ),
        (
            "orchestrator: email outside the organisation",
            call(
                "send_email",
                json!({"recipient": "someone@elsewhere.example", "subject": "hi"}),
            ),
        ),
    ];
    for (step, message) in steps {
        send(
            &client,
            step,
            mcp,
            (&token, &orchestrator),
            message,
            Vec::new(),
        )
        .await?;
    }

    // The orchestrator cuts a copy for its invoice agent, offline, hands it to the
    // sub-agent's key and signs the new block with its own.
    let invoice_agent = SigningKey::generate();
    let child = token.attenuate_signed(
        Attenuation::new()
            .delegate("invoice-agent")
            .scopes([scope("calendar:read")?, scope("payments:write")?])
            .max("payment", "amount", "100.00".parse()?)
            .expires_in(Duration::from_secs(300))
            .holder(invoice_agent.public()),
        &orchestrator,
    )?;
    let steps = [
        (
            "invoice-agent: read_calendar",
            call("read_calendar", json!({})),
        ),
        (
            "invoice-agent: pay 80.00 to carol@example.com",
            call("pay_invoice", pay("80.00", "carol@example.com")),
        ),
        (
            "invoice-agent: pay 250.00 (over its 100.00 limit)",
            call("pay_invoice", pay("250.00", "carol@example.com")),
        ),
        (
            "invoice-agent: send_email (a scope it was not given)",
            call(
                "send_email",
                json!({"recipient": "bob@example.com", "subject": "hi"}),
            ),
        ),
    ];
    for (step, message) in steps {
        send(
            &client,
            step,
            mcp,
            (&child, &invoice_agent),
            message,
            Vec::new(),
        )
        .await?;
    }
    show(
        &client,
        "a copy of invoice-agent's token sent without its proof (a stolen token)",
        mcp,
        Some(&child),
        Some(call("read_calendar", json!({}))),
    )
    .await?;
    let elsewhere = mint(root, "https://other.example.com/mcp", &orchestrator)?;
    send(
        &client,
        "a token minted for another resource",
        mcp,
        (&elsewhere, &orchestrator),
        call("read_calendar", json!({})),
        Vec::new(),
    )
    .await?;

    // A payment over the approval threshold: the 403 names what to approve.
    let payment = call("pay_invoice", pay("600.00", "bob@example.com"));
    let refusal = send(
        &client,
        "orchestrator: pay 600.00 (over the approval threshold)",
        mcp,
        (&token, &orchestrator),
        payment.clone(),
        Vec::new(),
    )
    .await?;
    // The person approves exactly that payment on their device; the agent retries with
    // the approval and a fresh proof.
    let approval = approve(owner, &refusal)?;
    send(
        &client,
        "orchestrator: the same payment with the owner's approval",
        mcp,
        (&token, &orchestrator),
        payment,
        vec![(APPROVAL_HEADER, approval_header_value(&approval)?)],
    )
    .await?;

    // A bearer token, bound to no key, is minted only through `valet::danger`: whoever
    // holds a copy could use it, so this server, built with the defaults, refuses it.
    let bearer = Issuer::new(root.clone()).mint(grant(mcp)?.bearer())?;
    show(
        &client,
        "a bearer token (minted through valet::danger)",
        mcp,
        Some(&bearer),
        Some(call("read_calendar", json!({}))),
    )
    .await?;
    Ok(())
}

/// The command line.
struct Options {
    /// Serve until stopped, rather than run the agent flow.
    serve: bool,
    /// Where `--serve` listens.
    addr: SocketAddr,
    bearer: Bearer,
    /// Where the keys are read from, or written to.
    keys_dir: Option<PathBuf>,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, BoxError> {
        let mut options = Options {
            serve: false,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            bearer: Bearer::Refused,
            keys_dir: None,
        };
        // The last option given that only `--serve` takes.
        let mut of_serve = None;
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--serve" => options.serve = true,
                "--accept-bearer-tokens" => options.bearer = Bearer::Accepted,
                "--addr" => {
                    let addr = args
                        .next()
                        .ok_or("`--addr` needs an address, like `127.0.0.1:0`")?;
                    options.addr = addr.parse().map_err(|e| {
                        format!("`{addr}` is not an address like `127.0.0.1:0`: {e}")
                    })?;
                }
                "--keys-dir" => {
                    let dir = args.next().ok_or("`--keys-dir` needs a directory")?;
                    options.keys_dir = Some(dir.into());
                }
                other => {
                    return Err(format!(
                        "unknown argument `{other}`: expected `--serve`, `--addr ADDR`, \
                         `--keys-dir DIR` or `--accept-bearer-tokens`"
                    )
                    .into())
                }
            }
            if arg != "--serve" {
                of_serve = Some(arg);
            }
        }
        match of_serve {
            Some(arg) if !options.serve => {
                Err(format!("`{arg}` is an option of `--serve`: add `--serve`").into())
            }
            _ => Ok(options),
        }
    }
}

/// Serves until stopped, after printing where on stdout.
async fn serve(options: Options) -> Result<(), BoxError> {
    let (root, owner) = keys(options.keys_dir.as_deref())?;
    let listener = tokio::net::TcpListener::bind(options.addr).await?;
    let addr = listener.local_addr()?;
    let keys = KeySet::new().with(root.public());
    let (resource, app) = app(addr, keys, owner.public(), options.bearer)?;
    let mcp = resource.audience().as_str().to_owned();
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{addr}/mcp")?;
    writeln!(out, "resource: {mcp}")?;
    writeln!(out, "metadata: {}", resource.metadata_url())?;
    match options.bearer {
        Bearer::Refused => writeln!(
            out,
            "every call needs a token bound to the agent's key and a fresh proof of possession \
             in the Valet-Proof header, as the agent flow (run without --serve) sends them; to \
             call it with curl alone, serve with --accept-bearer-tokens (risky: the server then \
             honours bearer tokens for whoever holds a copy)"
        )?,
        Bearer::Accepted => {
            let token = Issuer::new(root.clone()).mint(grant(&mcp)?.bearer())?;
            let message = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                "params": {"name": "pay_invoice", "arguments": pay("50.00", "bob@example.com")}});
            writeln!(
                out,
                "honouring bearer tokens: whoever holds a copy of this one can use it for 15 \
                 minutes:\ncurl -s {mcp} -H 'authorization: Bearer {}' \\\n  -H 'content-type: \
                 application/json' -H 'accept: application/json, text/event-stream' \\\n  -d '{message}'",
                token.to_base64()
            )?;
        }
    }
    out.flush()?;
    drop(out);
    axum::serve(listener, app).await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let options = Options::parse(std::env::args().skip(1))?;
    if options.serve {
        return serve(options).await;
    }
    let (root, owner) = keys(None)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let (resource, app) = app(
        listener.local_addr()?,
        KeySet::new().with(root.public()),
        owner.public(),
        Bearer::Refused,
    )?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mcp = resource.audience().as_str().to_owned();
    println!("tool server at {mcp}, judged by {POLICIES}");
    let flow = agent_flow(&mcp, &resource.metadata_url(), &root, &owner).await;
    server.abort();
    flow
}
