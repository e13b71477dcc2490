//! An MCP-style tool server protected by Valet, and an agent that calls it over HTTP.
//!
//! ```sh
//! cargo run -p valet-http --example tool_server            # the agent flow, then exit
//! cargo run -p valet-http --example tool_server -- --serve  # serve on 127.0.0.1:8080
//! # risky: also honour bearer tokens, to call the server with curl alone
//! cargo run -p valet-http --example tool_server -- --serve --accept-bearer-tokens
//! ```
//!
//! The server answers JSON-RPC at `/mcp` (`initialize`, `tools/list`, `tools/call` for
//! `read_calendar`, `send_email` and `pay_invoice`) behind the layer, judged by the
//! bundled `policies/`, with its RFC 9728 metadata at
//! `/.well-known/oauth-protected-resource/mcp`. It trusts one approver key, the account
//! owner's, for signed approvals sent in `Valet-Approval`. Every token is bound to its
//! agent's key and every call carries a proof of possession in `Valet-Proof`; bearer tokens
//! are refused unless the server is started with `--accept-bearer-tokens`. Every decision
//! is printed as one audit line on stderr.

use std::error::Error;

type BoxError = Box<dyn Error + Send + Sync>;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{Extension, Json};
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use valet::danger::{BearerMinting, DangerousAuthorizerBuilder};
use valet::*;
use valet_http::{
    approval_header_value, proof_header_value, Authorized, Extractor, McpTools, ProtectedResource,
    ValetLayer, APPROVAL_HEADER, PROOF_HEADER,
};

const POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");

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

/// The tools: the scope each needs, and where its transaction comes from.
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

fn text(id: &Value, text: String) -> Json<Value> {
    Json(json!({
        "jsonrpc": "2.0",
        "id": id,
        "result": {"content": [{"type": "text", "text": text}]},
    }))
}

/// The JSON-RPC endpoint. It runs only for allowed requests, and acts on the operation
/// that was judged.
async fn mcp(Extension(auth): Extension<Authorized>, Json(message): Json<Value>) -> Json<Value> {
    let id = message.get("id").cloned().unwrap_or(Value::Null);
    let field = |name: &str| {
        auth.operation
            .details
            .as_ref()
            .and_then(|d| d.get(name))
            .and_then(FieldValue::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    let who = auth.subject().unwrap_or("?").to_owned();
    let agent = auth.agent().unwrap_or("?").to_owned();
    match message.get("method").and_then(Value::as_str) {
        Some("initialize") => Json(json!({
            "jsonrpc": "2.0",
            "id": id,
            "result": {
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "valet-example-tools", "version": "0.1.0"},
            },
        })),
        Some("tools/list") => Json(json!({
            "jsonrpc": "2.0",
            "id": id,
            "result": {"tools": [
                {"name": "read_calendar", "description": "Today's events",
                 "inputSchema": {"type": "object"}},
                {"name": "send_email", "description": "Send an email in the person's name",
                 "inputSchema": {"type": "object", "required": ["recipient", "subject"],
                   "properties": {"recipient": {"type": "string"}, "subject": {"type": "string"},
                                  "body": {"type": "string"}}}},
                {"name": "pay_invoice", "description": "Pay an invoice",
                 "inputSchema": {"type": "object", "required": ["amount", "currency", "recipient"],
                   "properties": {"amount": {"type": "string", "description": "decimal text, like \"50.00\""},
                                  "currency": {"type": "string"}, "recipient": {"type": "string"},
                                  "memo": {"type": "string"}}}},
            ]},
        })),
        Some("tools/call") => match auth.operation.action.as_str() {
            "read_calendar" => text(
                &id,
                format!("{who}'s calendar, read by {agent}: 09:30 stand-up; 14:00 dentist"),
            ),
            "send_email" => text(
                &id,
                format!(
                    "{agent} sent `{}` to {}",
                    field("subject"),
                    field("recipient")
                ),
            ),
            "pay_invoice" => text(
                &id,
                format!(
                    "{agent} paid {} {} to {} for {who}",
                    field("amount"),
                    field("currency"),
                    field("recipient")
                ),
            ),
            other => Json(json!({
                "jsonrpc": "2.0",
                "id": id,
                "error": {"code": -32602, "message": format!("unknown tool `{other}`")},
            })),
        },
        _ => Json(json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {"code": -32601, "message": "method not found"},
        })),
    }
}

/// Whether the server honours bearer tokens.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Bearer {
    /// Only tokens bound to a holder key, each call with its proof (the default).
    Refused,
    /// Bearer tokens too, for whoever presents them (`valet::danger`).
    Accepted,
}

/// Serves the tools on `listener`, trusting `keys` for tokens and `approver` for signed
/// approvals.
async fn serve(
    listener: tokio::net::TcpListener,
    keys: KeySet,
    approver: VerifyingKey,
    bearer: Bearer,
) -> Result<(), BoxError> {
    let addr = listener.local_addr()?;
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
    let layer = ValetLayer::builder(resource, authorizer)
        .extractor(tools()?)
        .build();
    // The layer guards `/mcp`; the metadata is public and mounted beside it.
    let mut app = Router::new().route("/mcp", post(mcp)).layer(layer.clone());
    for path in layer.resource().metadata_paths() {
        app = app.route_service(&path, layer.resource().metadata_service());
    }
    axum::serve(listener, app).await?;
    Ok(())
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

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
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
) -> Result<Value, BoxError> {
    println!("\n== {step}");
    let mut request = http::Request::builder()
        .method(if message.is_some() { "POST" } else { "GET" })
        .uri(url)
        .header("content-type", "application/json");
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
) -> Result<(http::HeaderName, http::HeaderValue), BoxError> {
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

fn call(tool: &str, arguments: Value) -> Option<Value> {
    Some(json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments},
    }))
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
    mut headers: Vec<(http::HeaderName, http::HeaderValue)>,
) -> Result<Value, BoxError> {
    headers.insert(0, prove(key, token, mcp, &message)?);
    show_with(client, step, mcp, Some(token), Some(message), headers).await
}

/// The agent flow: an orchestrator and its sub-agent, each with its own key, call the
/// server over HTTP with a proof of possession per call; a copy of a token without its
/// proof is refused; the person approves a payment; a bearer token is refused.
async fn agent_flow(base: &str, root: &RootKeyPair, owner: &SigningKey) -> Result<(), BoxError> {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let mcp = format!("{base}/mcp");
    let metadata = format!("{base}/.well-known/oauth-protected-resource/mcp");
    show(
        &client,
        "the metadata a client discovers",
        &metadata,
        None,
        None,
    )
    .await?;
    show(
        &client,
        "a call without a token",
        &mcp,
        None,
        call("read_calendar", json!({})),
    )
    .await?;

    // The orchestrator's own key pair: its token is bound to the public key, and every
    // call carries a fresh proof of possession signed with the private key.
    let orchestrator = SigningKey::generate();
    let token = mint(root, &mcp, &orchestrator)?;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    send(
        &client,
        "orchestrator: tools/list",
        &mcp,
        (&token, &orchestrator),
        list,
        Vec::new(),
    )
    .await?;
    let steps = [
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
        let message = message.ok_or("no message")?;
        send(
            &client,
            step,
            &mcp,
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
        let message = message.ok_or("no message")?;
        send(
            &client,
            step,
            &mcp,
            (&child, &invoice_agent),
            message,
            Vec::new(),
        )
        .await?;
    }
    show(
        &client,
        "a copy of invoice-agent's token sent without its proof (a stolen token)",
        &mcp,
        Some(&child),
        call("read_calendar", json!({})),
    )
    .await?;
    let elsewhere = mint(root, "https://other.example.com/mcp", &orchestrator)?;
    send(
        &client,
        "a token minted for another resource",
        &mcp,
        (&elsewhere, &orchestrator),
        call("read_calendar", json!({})).ok_or("no message")?,
        Vec::new(),
    )
    .await?;

    // A payment over the approval threshold: the 403 names what to approve.
    let payment = call("pay_invoice", pay("600.00", "bob@example.com")).ok_or("no message")?;
    let refusal = send(
        &client,
        "orchestrator: pay 600.00 (over the approval threshold)",
        &mcp,
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
        &mcp,
        (&token, &orchestrator),
        payment,
        vec![(APPROVAL_HEADER, approval_header_value(&approval)?)],
    )
    .await?;

    // A bearer token, bound to no key, is minted only through `valet::danger`: whoever
    // holds a copy could use it, so this server, built with the defaults, refuses it.
    let bearer = Issuer::new(root.clone()).mint(grant(&mcp)?.bearer())?;
    show(
        &client,
        "a bearer token (minted through valet::danger)",
        &mcp,
        Some(&bearer),
        call("read_calendar", json!({})),
    )
    .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let root = RootKeyPair::generate(KeyId(1));
    let keys = KeySet::new().with(root.public());
    // The account owner's approval key, on their own device.
    let owner = SigningKey::generate();
    if std::env::args().any(|a| a == "--serve") {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
        let mcp = "http://127.0.0.1:8080/mcp";
        if !std::env::args().any(|a| a == "--accept-bearer-tokens") {
            println!(
                "serving {mcp} (Ctrl-C to stop): every call needs a token bound to the agent's key and a \
                 fresh proof of possession in the Valet-Proof header, as the agent flow (run without \
                 --serve) sends them; to call it with curl alone, serve with --accept-bearer-tokens \
                 (risky: the server then honours bearer tokens for whoever holds a copy)\n"
            );
            return serve(listener, keys, owner.public(), Bearer::Refused).await;
        }
        let token = Issuer::new(root.clone()).mint(grant(mcp)?.bearer())?;
        println!(
            "serving {mcp} (Ctrl-C to stop), honouring bearer tokens: whoever holds a copy of this \
             one can use it for 15 minutes:\n"
        );
        println!(
            "curl -s {mcp} -H 'authorization: Bearer {}' -H 'content-type: application/json' \\\n  -d '{}'\n",
            token.to_base64(),
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
                   "params":{"name":"pay_invoice","arguments":pay("50.00", "bob@example.com")}})
        );
        return serve(listener, keys, owner.public(), Bearer::Accepted).await;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(serve(listener, keys, owner.public(), Bearer::Refused));
    println!("tool server at {base}/mcp, judged by {POLICIES}");
    let flow = agent_flow(&base, &root, &owner).await;
    server.abort();
    flow
}
