#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `remediationHints` (the MCP draft proposal SEP-2643): a `403` that another token would
//! turn into an allow says which authorization the request needs; over real HTTP on
//! 127.0.0.1.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::json;
use valet::{Attenuation, MemoryAudit};

const TEN_MINUTES: Duration = Duration::from_secs(600);

async fn server() -> (Server, Arc<MemoryAudit>) {
    let audit = Arc::new(MemoryAudit::new());
    (Server::start(audit.clone()).await, audit)
}

#[tokio::test]
async fn a_payment_over_the_tokens_limit_carries_the_details_it_needs() {
    let (s, _) = server().await;
    let root = s.mint(&["payments:write"], TEN_MINUTES);
    let child = root
        .attenuate(Attenuation::new().delegate("invoice-agent").max(
            "payment",
            "amount",
            "100.00".parse().unwrap(),
        ))
        .unwrap();
    let r = s.call(Some(&child), "pay_invoice", payment("200.00")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["error"], "insufficient_scope");
    assert_eq!(r.body["reasons"][0]["kind"], "limit");
    assert_eq!(
        r.body["remediationHints"],
        json!([{
            "type": "oauth_authorization_details",
            "authorization_details": [{
                "type": "payment",
                "amount": "200.00",
                "currency": "USD",
                "recipient": "bob@example.com",
                "actions": ["pay_invoice"],
                "locations": [RESOURCE],
            }],
            "scope": "payments:write",
        }]),
        "{}",
        r.body
    );
    // The challenge is unchanged: it stays what drives an OAuth client.
    assert!(r
        .challenge()
        .starts_with("Bearer error=\"insufficient_scope\""));
    // Within the limit, the same token pays.
    let r = s.call(Some(&child), "pay_invoice", payment("50.00")).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_missing_scope_carries_the_scope_and_the_details_it_needs() {
    let (s, _) = server().await;
    let token = s.mint(&["calendar:read"], TEN_MINUTES);
    let r = s.call(Some(&token), "pay_invoice", payment("50.00")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["reasons"][0]["kind"], "scope");
    let hints = r.body["remediationHints"].as_array().unwrap();
    assert_eq!(hints.len(), 1);
    assert_eq!(hints[0]["type"], "oauth_authorization_details");
    assert_eq!(hints[0]["scope"], "payments:write");
    assert_eq!(
        hints[0]["authorization_details"][0]["amount"], "50.00",
        "{}",
        r.body
    );
    // A tool with no transaction: the scope alone.
    let token = s.mint(&["email:send"], TEN_MINUTES);
    let r = s.call(Some(&token), "read_calendar", json!({})).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        r.body["remediationHints"],
        json!([{"type": "oauth_authorization_details", "scope": "calendar:read"}])
    );
}

#[tokio::test]
async fn a_policy_denial_carries_no_hint() {
    let (s, _) = server().await;
    // The owner's policies refuse email outside the organisation's domain and payments in
    // GBP, whatever the token: no token would help.
    let token = s.mint(&["email:send", "payments:write"], TEN_MINUTES);
    let r = s
        .call(
            Some(&token),
            "send_email",
            json!({"recipient": "eve@elsewhere.example", "subject": "hi"}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["reasons"][0]["layer"], "policy");
    assert!(r.body.get("remediationHints").is_none(), "{}", r.body);
    let gbp = json!({"amount": "50.00", "currency": "GBP", "recipient": "bob@example.com"});
    let r = s.call(Some(&token), "pay_invoice", gbp).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.get("remediationHints").is_none(), "{}", r.body);
    // Nor does a payment that needs a human's approval.
    let r = s.call(Some(&token), "pay_invoice", payment("600.00")).await;
    assert_eq!(r.body["error"], "approval_required");
    assert!(r.body.get("remediationHints").is_none(), "{}", r.body);
}

#[tokio::test]
async fn a_401_carries_no_hint() {
    let (s, _) = server().await;
    let r = s.call(None, "pay_invoice", payment("50.00")).await;
    assert_eq!(r.status, 401);
    assert!(r.body.get("remediationHints").is_none(), "{}", r.body);
    let other = s.mint_for(
        "https://other.example.com/mcp",
        &["payments:write"],
        TEN_MINUTES,
        std::time::SystemTime::now(),
    );
    let r = s.call(Some(&other), "pay_invoice", payment("50.00")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"], "invalid_token");
    assert!(r.body.get("remediationHints").is_none(), "{}", r.body);
}
