#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Every answer of the layer, over real HTTP on 127.0.0.1.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::*;
use serde_json::json;
use valet::danger::DangerousAuthorizerBuilder;
use valet::token::ReasonKind;
use valet::{Attenuation, Authorizer, KeyId, KeySet, MemoryAudit, Outcome, RootKeyPair};
use valet_http::Execution;

const TEN_MINUTES: Duration = Duration::from_secs(600);

async fn server() -> (Server, Arc<MemoryAudit>) {
    let audit = Arc::new(MemoryAudit::new());
    (Server::start(audit.clone()).await, audit)
}

#[tokio::test]
async fn no_token_is_401_with_the_metadata_url_and_the_scope_the_tool_needs() {
    let (s, audit) = server().await;
    let r = s.call(None, "pay_invoice", payment("50.00")).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.challenge(),
        format!("Bearer resource_metadata=\"{METADATA_URL}\", scope=\"payments:write\"")
    );
    assert_eq!(r.body["error"], "unauthorized");
    // A message that names no scope asks for every supported scope.
    let r = s
        .rpc(None, json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.challenge(),
        format!("Bearer resource_metadata=\"{METADATA_URL}\", scope=\"calendar:read email:send payments:write\"")
    );
    // Another scheme is no bearer token.
    let r = s
        .send(
            "POST",
            "/mcp",
            Some("Basic YTpi"),
            Bytes::from(call("read_calendar", json!({})).to_string()),
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(!r.challenge().contains("error="));
    assert!(s.seen.lock().unwrap().is_empty());
    // Nothing was judged, so nothing was audited.
    assert!(audit.records().is_empty());
}

#[tokio::test]
async fn garbage_token_is_401_invalid_token_and_never_echoed() {
    let (s, audit) = server().await;
    let garbage = "not\"a-valet-token";
    let r = s
        .send(
            "POST",
            "/mcp",
            Some(&format!("Bearer {garbage}")),
            Bytes::from(call("read_calendar", json!({})).to_string()),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.challenge(),
        format!(
            "Bearer error=\"invalid_token\", error_description=\"the bearer token is not a readable valet token\", \
             resource_metadata=\"{METADATA_URL}\", scope=\"calendar:read\""
        )
    );
    assert_eq!(
        r.body,
        json!({"error": "invalid_token", "error_description": "the bearer token is not a readable valet token"})
    );
    let records = audit.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome, Outcome::Deny);
    assert!(!records[0].to_json_line().contains("a-valet-token"));
}

#[tokio::test]
async fn expired_token_is_401() {
    let (s, _) = server().await;
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let token = s.mint_for(RESOURCE, &["calendar:read"], TEN_MINUTES, an_hour_ago);
    let r = s.call(Some(&token), "read_calendar", json!({})).await;
    assert_eq!(r.status, 401);
    assert!(r
        .challenge()
        .starts_with("Bearer error=\"invalid_token\", error_description=\""));
    assert!(r.challenge().contains("expired at"), "{}", r.challenge());
    assert!(r
        .challenge()
        .contains(&format!("resource_metadata=\"{METADATA_URL}\"")));
}

#[tokio::test]
async fn token_minted_for_another_resource_is_401() {
    let (s, audit) = server().await;
    let token = s.mint_for(
        "https://other.example.com/mcp",
        &["calendar:read"],
        TEN_MINUTES,
        SystemTime::now(),
    );
    let r = s.call(Some(&token), "read_calendar", json!({})).await;
    assert_eq!(r.status, 401);
    assert!(r.challenge().contains("error=\"invalid_token\""));
    assert!(r.challenge().contains(RESOURCE), "{}", r.challenge());
    // Refused before its signatures were checked: its claims are recorded as unverified.
    let record = &audit.records()[0];
    assert_eq!(record.subject, None);
    assert_eq!(
        record
            .unverified_claims
            .as_ref()
            .map(|c| c.subject.as_str()),
        Some("alice@example.com")
    );
    assert!(s.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn missing_scope_is_403_insufficient_scope() {
    let (s, _) = server().await;
    let token = s.mint(&["calendar:read"], TEN_MINUTES);
    let r = s.call(Some(&token), "pay_invoice", payment("50.00")).await;
    assert_eq!(r.status, 403);
    let c = r.challenge();
    assert!(
        c.starts_with(&format!(
            "Bearer error=\"insufficient_scope\", scope=\"payments:write\", resource_metadata=\"{METADATA_URL}\", error_description=\""
        )),
        "{c}"
    );
    assert!(c.contains("does not grant scope `payments:write`"), "{c}");
    assert_eq!(r.body["error"], "insufficient_scope");
    assert_eq!(r.body["reasons"][0]["layer"], "token");
    assert_eq!(r.body["reasons"][0]["kind"], "scope");
}

#[tokio::test]
async fn policy_denial_is_403_with_the_policy_reason() {
    let (s, _) = server().await;
    let token = s.mint(&["payments:write"], TEN_MINUTES);
    let r = s
        .call(
            Some(&token),
            "pay_invoice",
            json!({"amount": "50.00", "currency": "USD", "recipient": "mallory@evil.example"}),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.challenge().contains("error=\"insufficient_scope\""));
    assert!(
        r.challenge()
            .contains("payments go only to allowlisted recipients"),
        "{}",
        r.challenge()
    );
    let reasons = r.body["reasons"].as_array().unwrap();
    assert!(reasons
        .iter()
        .any(|r| r["policy"] == "payments-recipient-allowlist" && r["layer"] == "policy"));
}

#[tokio::test]
async fn needs_approval_is_403_with_the_approval_text() {
    let (s, audit) = server().await;
    let token = s.mint(&["payments:write"], TEN_MINUTES);
    let r = s.call(Some(&token), "pay_invoice", payment("600.00")).await;
    assert_eq!(r.status, 403);
    assert!(r.challenge().is_empty());
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(
        r.body,
        json!({
            "error": "approval_required",
            "approval": "payments above 500.00 need the account owner's approval",
            "reasons": [{
                "layer": "policy",
                "policy": "payments-approval-threshold",
                "message": "`payments-approval-threshold` needs approval: payments above 500.00 need the account owner's approval",
            }],
        })
    );
    assert_eq!(audit.records()[0].outcome, Outcome::NeedsApproval);
}

#[tokio::test]
async fn allowed_request_reaches_the_handler_with_the_decision_and_without_the_token() {
    let (s, audit) = server().await;
    let token = s.mint(&["payments:write"], TEN_MINUTES);
    let r = s.call(Some(&token), "pay_invoice", payment("50.00")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["result"],
        json!({
            "action": "pay_invoice",
            "subject": "alice@example.com",
            "agent": "https://orchestrator.example/client",
            "delegates": [],
            "outcome": "allow",
        })
    );
    let seen = s.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].headers.get("authorization").is_none());
    assert!(!format!("{:?}", seen[0].headers).contains(&token.to_base64()));
    assert_eq!(seen[0].headers["content-type"], "application/json");
    let records = audit.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome, Outcome::Allow);
    assert_eq!(records[0].action, "pay_invoice");
    assert_eq!(
        serde_json::to_value(&records[0].authorization_details).unwrap(),
        json!({"type": "payment", "amount": "50.00", "currency": "USD", "recipient": "bob@example.com"})
    );
}

#[tokio::test]
async fn protocol_messages_need_a_valid_token_but_no_policy() {
    let (s, audit) = server().await;
    let token = s.mint(&["calendar:read"], TEN_MINUTES);
    let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
    let r = s.rpc(Some(&token), list.clone()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["result"]["action"], "tools/list");
    let other = s.mint_for(
        "https://other.example.com",
        &[],
        TEN_MINUTES,
        SystemTime::now(),
    );
    let r = s.rpc(Some(&other), list).await;
    assert_eq!(r.status, 401);
    let records = audit.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].outcome, Outcome::Allow);
    assert_eq!(records[0].action, "tools/list");
    assert!(records[0].token_verified);
    assert_eq!(records[1].outcome, Outcome::Deny);
}

#[tokio::test]
async fn token_only_requests_are_written_to_the_authorizers_audit_sink() {
    // The authorizer is built (and kept) by the server; the layer shares it.
    let audit = Arc::new(MemoryAudit::new());
    let root = RootKeyPair::generate(KeyId(1));
    let authorizer = Arc::new(
        Authorizer::builder(KeySet::new().with(root.public()), policies())
            .accept_bearer_tokens()
            .audit(audit.clone())
            .build(),
    );
    let s = Server::serve(root, authorizer.clone(), Execution::Inline).await;
    assert!(std::ptr::eq(s.layer.authorizer(), authorizer.as_ref()));
    let token = s.mint(&["calendar:read"], TEN_MINUTES);
    let list = json!({"jsonrpc":"2.0","id":7,"method":"tools/list"});
    let r = s.rpc(Some(&token), list.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .send(
            "POST",
            "/mcp",
            Some("Bearer not-a-token"),
            Bytes::from(list.to_string()),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body["error_description"],
        "the bearer token is not a readable valet token"
    );
    let records = audit.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].outcome, Outcome::Allow);
    assert_eq!(records[0].action, "tools/list");
    assert_eq!(records[0].audience, RESOURCE);
    assert_eq!(records[0].subject.as_deref(), Some("alice@example.com"));
    assert!(records[0].token_verified);
    assert!(records[0].determining_policies.is_empty());
    assert_eq!(records[1].outcome, Outcome::Deny);
    assert_eq!(records[1].action, "tools/list");
    assert!(!records[1].token_verified);
    assert_eq!(records[1].reasons[0].kind, Some(ReasonKind::Format));
}

#[tokio::test]
async fn attenuated_sub_agent_reads_but_cannot_pay_over_its_limit() {
    let (s, _) = server().await;
    let root = s.mint(&["calendar:read", "payments:write"], TEN_MINUTES);
    let child = root
        .attenuate(Attenuation::new().delegate("calendar-agent").max(
            "payment",
            "amount",
            "100.00".parse().unwrap(),
        ))
        .unwrap();
    let r = s.call(Some(&child), "read_calendar", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["agent"], "calendar-agent");
    assert_eq!(r.body["result"]["delegates"], json!(["calendar-agent"]));

    let r = s.call(Some(&child), "pay_invoice", payment("200.00")).await;
    assert_eq!(r.status, 403);
    assert!(r.challenge().contains("error=\"insufficient_scope\""));
    assert!(
        r.challenge()
            .contains("block 1 (delegate: calendar-agent) limits payment amount to 100.00, requested `200.00`"),
        "{}",
        r.challenge()
    );
    assert_eq!(r.body["reasons"][0]["kind"], "limit");
    // The parent token still pays the same invoice.
    let r = s.call(Some(&root), "pay_invoice", payment("200.00")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn metadata_is_served_at_both_paths_without_a_token() {
    let (s, audit) = server().await;
    let expected = json!({
        "resource": "https://tools.example.com/mcp",
        "authorization_servers": ["https://auth.example.com"],
        "scopes_supported": ["calendar:read", "email:send", "payments:write"],
        "bearer_methods_supported": ["header"],
        "authorization_details_types_supported": ["email", "payment"],
        "resource_name": "Example tools",
        "resource_documentation": "https://tools.example.com/docs",
    });
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let r = s.send("GET", path, None, Bytes::new()).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.body, expected, "{path}");
    }
    let r = s
        .send(
            "POST",
            "/.well-known/oauth-protected-resource",
            None,
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, 405);
    assert!(audit.records().is_empty());
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_bad_messages_400() {
    let (s, audit) = server().await;
    let token = s.mint(&["calendar:read"], TEN_MINUTES);
    let auth = format!("Bearer {}", token.to_base64());
    let big = call("read_calendar", json!({"padding": "x".repeat(5000)}));
    let r = s
        .send("POST", "/mcp", Some(&auth), Bytes::from(big.to_string()))
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(r.body["error"], "invalid_request");
    let r = s.send("POST", "/mcp", Some(&auth), Bytes::from("{")).await;
    assert_eq!(r.status, 400);
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("the request body is not valid JSON"));
    // A float amount cannot be judged exactly.
    let r = s
        .call(
            Some(&token),
            "pay_invoice",
            json!({"amount": 50.5, "currency": "USD", "recipient": "bob@example.com"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let mut twice = hyper::Request::post(format!("http://{}/mcp", s.addr))
        .header("authorization", &auth)
        .header("authorization", &auth)
        .body(http_body_util::Full::new(Bytes::from(
            call("read_calendar", json!({})).to_string(),
        )))
        .unwrap();
    twice.headers_mut().remove("content-length");
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let response = client.request(twice).await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(audit.records().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_on_the_blocking_pool_are_the_same() {
    let audit = Arc::new(MemoryAudit::new());
    let s = Server::start_with(audit.clone(), valet_http::Execution::Blocking).await;
    let token = s.mint(&["payments:write"], TEN_MINUTES);
    assert_eq!(
        s.call(Some(&token), "pay_invoice", payment("50.00"))
            .await
            .status,
        200
    );
    assert_eq!(
        s.call(Some(&token), "pay_invoice", payment("600.00"))
            .await
            .status,
        403
    );
    assert_eq!(
        s.call(Some(&token), "read_calendar", json!({}))
            .await
            .status,
        403
    );
    assert_eq!(audit.records().len(), 3);
}

#[tokio::test]
async fn revoked_token_is_401() {
    let (s, _) = server().await;
    let root = s.mint(&["calendar:read"], TEN_MINUTES);
    let child = root
        .attenuate(Attenuation::new().delegate("calendar-agent"))
        .unwrap();
    assert_eq!(
        s.call(Some(&child), "read_calendar", json!({}))
            .await
            .status,
        200
    );
    // Revoking the parent's block revokes everything derived from it.
    let id = root.revocation_ids()[0].clone();
    s.layer.authorizer().revocations().revoke(id).unwrap();
    let r = s.call(Some(&child), "read_calendar", json!({})).await;
    assert_eq!(r.status, 401);
    assert!(r.challenge().contains("error=\"invalid_token\""));
    let r = s
        .rpc(
            Some(&child),
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
        )
        .await;
    assert_eq!(r.status, 401);
}
