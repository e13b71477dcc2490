#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The MCP routing headers `Mcp-Method` and `Mcp-Name` (revision 2026-07-28): they must
//! say what the body says, or the request is refused before anything is judged; over real
//! HTTP on 127.0.0.1.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use base64::Engine;
use bytes::Bytes;
use common::*;
use serde_json::{json, Value};
use valet::MemoryAudit;
use valet_http::{Extractor, JSONRPC_HEADER_MISMATCH, MCP_METHOD_HEADER, MCP_NAME_HEADER};

const TEN_MINUTES: Duration = Duration::from_secs(600);

async fn server() -> (Server, Arc<MemoryAudit>) {
    let audit = Arc::new(MemoryAudit::new());
    (Server::start(audit.clone()).await, audit)
}

fn method(value: &str) -> (&'static str, HeaderValue) {
    ("mcp-method", HeaderValue::from_str(value).unwrap())
}

fn name(value: &str) -> (&'static str, HeaderValue) {
    ("mcp-name", HeaderValue::from_str(value).unwrap())
}

/// `value` in the `=?base64?...?=` form.
fn encoded(value: &str) -> String {
    format!(
        "=?base64?{}?=",
        base64::engine::general_purpose::STANDARD.encode(value)
    )
}

/// Checks that `r` is the JSON-RPC header mismatch for request `id`, naming `header`.
fn assert_mismatch(r: &Reply, id: Value, header: &str) {
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["jsonrpc"], "2.0");
    assert_eq!(r.body["id"], id);
    assert_eq!(r.body["error"]["code"], JSONRPC_HEADER_MISMATCH);
    assert_eq!(r.body["error"]["code"], -32020);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("`{header}`")), "{message}");
    assert!(r.challenge().is_empty());
}

#[test]
fn the_header_names_are_those_of_the_specification() {
    assert_eq!(MCP_METHOD_HEADER.as_str(), "mcp-method");
    assert_eq!(MCP_NAME_HEADER.as_str(), "mcp-name");
}

#[tokio::test]
async fn headers_that_agree_with_the_body_are_judged_as_the_body() {
    let (s, audit) = server().await;
    let token = s.mint(&["calendar:read"], TEN_MINUTES);
    let message = call("read_calendar", json!({}));
    let r = s
        .rpc_with(
            &token,
            &message,
            &[method("tools/call"), name("read_calendar")],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["action"], "read_calendar");
    // The inner service sees the routing headers.
    let seen = s.seen.lock().unwrap().clone();
    assert_eq!(seen[0].headers["mcp-method"], "tools/call");
    assert_eq!(seen[0].headers["mcp-name"], "read_calendar");
    // A protocol message carries only `Mcp-Method`.
    let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list"});
    let r = s.rpc_with(&token, &list, &[method("tools/list")]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Agreeing headers do not make a denied call allowed: the body is judged.
    let pay = call("pay_invoice", payment("50.00"));
    let r = s
        .rpc_with(&token, &pay, &[method("tools/call"), name("pay_invoice")])
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(audit.records().len(), 3);
}

#[tokio::test]
async fn a_method_header_that_disagrees_with_the_body_is_refused_before_any_decision() {
    let (s, audit) = server().await;
    let token = s.mint(&["payments:write"], TEN_MINUTES);
    // Routed as a listing, run as a payment.
    let pay = call("pay_invoice", payment("50.00"));
    let r = s.rpc_with(&token, &pay, &[method("tools/list")]).await;
    assert_mismatch(&r, json!(1), "Mcp-Method");
    // The method is compared exactly.
    let r = s.rpc_with(&token, &pay, &[method("Tools/Call")]).await;
    assert_mismatch(&r, json!(1), "Mcp-Method");
    // A response carries no method to repeat.
    let response = json!({"jsonrpc":"2.0","id":"a","result":{}});
    let r = s.rpc_with(&token, &response, &[method("tools/call")]).await;
    assert_mismatch(&r, json!("a"), "Mcp-Method");
    assert!(s.seen.lock().unwrap().is_empty());
    assert!(audit.records().is_empty());
}

#[tokio::test]
async fn a_name_header_that_disagrees_with_the_body_is_refused_before_any_decision() {
    let (s, audit) = server().await;
    let token = s.mint(&["calendar:read", "payments:write"], TEN_MINUTES);
    // Routed (or rate-limited, or logged) as a calendar read, run as a payment.
    let mut pay = call("pay_invoice", payment("50.00"));
    pay["id"] = json!("req-7");
    let r = s
        .rpc_with(&token, &pay, &[method("tools/call"), name("read_calendar")])
        .await;
    assert_mismatch(&r, json!("req-7"), "Mcp-Name");
    // Without `Mcp-Method` too.
    let r = s.rpc_with(&token, &pay, &[name("read_calendar")]).await;
    assert_mismatch(&r, json!("req-7"), "Mcp-Name");
    // `Mcp-Name` on a method that has no name to repeat.
    let list = json!({"jsonrpc":"2.0","id":3,"method":"tools/list"});
    let r = s.rpc_with(&token, &list, &[name("pay_invoice")]).await;
    assert_mismatch(&r, json!(3), "Mcp-Name");
    assert!(s.seen.lock().unwrap().is_empty());
    assert!(audit.records().is_empty());
}

#[tokio::test]
async fn a_base64_value_is_decoded_and_an_ill_formed_one_never_matches() {
    let (s, audit) = server().await;
    let token = s.mint(&["calendar:read"], TEN_MINUTES);
    let message = call("read_calendar", json!({}));
    let r = s
        .rpc_with(
            &token,
            &message,
            &[
                method(&encoded("tools/call")),
                name(&encoded("read_calendar")),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The base64 of another name disagrees.
    let r = s
        .rpc_with(&token, &message, &[name(&encoded("pay_invoice"))])
        .await;
    assert_mismatch(&r, json!(1), "Mcp-Name");
    // The right name, ill-formed: no padding, no end marker, a space, markers in
    // capitals (a literal, then).
    let right = base64::engine::general_purpose::STANDARD.encode("read_calendar");
    assert!(right.ends_with('='));
    for ill in [
        format!("=?base64?{}?=", right.trim_end_matches('=')),
        format!("=?base64?{right}"),
        format!("=?base64? {right}?="),
        format!("=?BASE64?{right}?="),
    ] {
        let r = s.rpc_with(&token, &message, &[name(&ill)]).await;
        assert_mismatch(&r, json!(1), "Mcp-Name");
    }
    // A tool whose name is not ASCII is called with its name in base64.
    let (parts, ()) = http::Request::post(RESOURCE)
        .header("mcp-name", encoded("réserver"))
        .header("mcp-method", "tools/call")
        .body(())
        .unwrap()
        .into_parts();
    let op = tools()
        .operation(
            &parts,
            &Bytes::from(call("réserver", json!({})).to_string()),
        )
        .unwrap();
    assert_eq!(op.action, "réserver");
    assert_eq!(audit.records().len(), 1);
}

#[tokio::test]
async fn a_routing_header_sent_twice_is_refused() {
    let (s, audit) = server().await;
    let token = s.mint(&["calendar:read"], TEN_MINUTES);
    let message = call("read_calendar", json!({}));
    for headers in [
        [method("tools/call"), method("tools/call")],
        [name("read_calendar"), name("read_calendar")],
        [name("read_calendar"), name("pay_invoice")],
    ] {
        let r = s.rpc_with(&token, &message, &headers).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["error"]["code"], JSONRPC_HEADER_MISMATCH);
        let text = r.body["error"]["message"].as_str().unwrap();
        assert!(text.contains("more than once"), "{text}");
    }
    assert!(s.seen.lock().unwrap().is_empty());
    assert!(audit.records().is_empty());
}

#[tokio::test]
async fn without_the_headers_nothing_changes() {
    let (s, audit) = server().await;
    let token = s.mint(&["calendar:read"], TEN_MINUTES);
    let r = s.call(Some(&token), "read_calendar", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s.call(Some(&token), "pay_invoice", payment("50.00")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["error"], "insufficient_scope");
    assert_eq!(audit.records().len(), 2);
    // An empty body (a GET opening a stream) is token only, as before; with a routing
    // header it has no method to agree with.
    let auth = format!("Bearer {}", token.to_base64());
    let r = s
        .send_with("GET", "/mcp", Some(&auth), &[], Bytes::new())
        .await;
    assert_ne!(r.status, 400, "{}", r.body);
    let r = s
        .send_with(
            "GET",
            "/mcp",
            Some(&auth),
            &[method("tools/call")],
            Bytes::new(),
        )
        .await;
    assert_mismatch(&r, Value::Null, "Mcp-Method");
}

#[tokio::test]
async fn the_mismatch_is_the_same_through_judge() {
    let (s, _) = server().await;
    let token = s.mint(&["payments:write"], TEN_MINUTES);
    let pay = call("pay_invoice", payment("50.00"));
    let request = http::Request::post("/mcp")
        .header("authorization", format!("Bearer {}", token.to_base64()))
        .header("mcp-method", "tools/list")
        .body(Bytes::from(pay.to_string()))
        .unwrap();
    let (parts, body) = request.into_parts();
    let valet_http::Admission::Respond(r) = s.layer.judge(&parts, &body) else {
        panic!("a mismatch was admitted");
    };
    assert_eq!(r.status(), 400);
    let body: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(body["error"]["code"], -32020);
    assert_eq!(body["id"], 1);
}
