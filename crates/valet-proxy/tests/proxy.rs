#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The proxy on a loopback port in front of the Python MCP server of `tests/upstream`,
//! called over real HTTP.

mod common;

use std::time::{Duration, Instant};

use common::*;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use valet::{Attenuation, SigningKey};

async fn setup(extra: &str) -> (PythonUpstream, Keys, Running) {
    let upstream = PythonUpstream::start();
    let keys = Keys::new();
    let path = keys.write_config(&config_text(&upstream.url(), extra));
    let proxy = Running::start(&path).await;
    (upstream, keys, proxy)
}

#[tokio::test]
async fn metadata_is_served_at_both_paths_without_a_token() {
    let (upstream, _keys, proxy) = setup("").await;
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let r = Reply::read(proxy.send("GET", path, &[], None).await).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_eq!(r.body["resource"], RESOURCE);
        assert_eq!(
            r.body["authorization_servers"],
            json!(["https://auth.example.com"])
        );
        // The scopes the tools need, by tool name.
        assert_eq!(
            r.body["scopes_supported"],
            json!(["payments:write", "calendar:read", "email:send"])
        );
        assert_eq!(r.body["resource_name"], "Test tools");
        assert_eq!(
            r.body["authorization_details_types_supported"],
            json!(["email", "payment"])
        );
    }
    assert!(upstream.log().await.is_empty());
}

#[tokio::test]
async fn a_call_without_a_token_is_401_with_a_challenge_and_never_forwarded() {
    let (upstream, _keys, proxy) = setup("").await;
    let message = call("pay_invoice", payment("50.00"));
    let r = Reply::read(proxy.send("POST", "/mcp", &[], Some(&message)).await).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        "Bearer resource_metadata=\"https://tools.example.com/.well-known/oauth-protected-resource/mcp\", scope=\"payments:write\""
    );
    assert_eq!(r.body["error"], "unauthorized");
    assert!(upstream.log().await.is_empty());
}

#[tokio::test]
async fn an_allowed_call_reaches_the_upstream_with_the_identity_and_without_valet_headers() {
    let (upstream, keys, proxy) = setup("").await;
    let orchestrator = SigningKey::generate();
    let token = keys.mint(&orchestrator, &["payments:write", "calendar:read"]);
    // A sub-agent's copy, handed to its own key and signed by the orchestrator's.
    let invoice_agent = SigningKey::generate();
    let child = token
        .attenuate_signed(
            Attenuation::new()
                .delegate("invoice agent, EU")
                .holder(invoice_agent.public()),
            &orchestrator,
        )
        .unwrap();
    let message = call("pay_invoice", payment("50.00"));
    let forged = [
        ("valet-subject", "mallory@example.com".to_owned()),
        ("valet-agent", "admin".to_owned()),
        ("valet-client", "https://evil.example".to_owned()),
        ("valet-delegates", "nobody".to_owned()),
        ("valet-holder-key", "ed25519/00".to_owned()),
        ("valet-anything", "x".to_owned()),
        ("x-request-id", "abc-123".to_owned()),
        ("connection", "x-hop".to_owned()),
        ("x-hop", "dropped".to_owned()),
        ("expect", "100-continue".to_owned()),
    ];
    let r = proxy
        .call((&child, &invoice_agent), &message, &forged)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let result = &r.body["result"];
    assert_eq!(result["tool"], "pay_invoice");
    assert_eq!(result["path"], "/mcp");
    let seen = result["headers"].as_object().unwrap();
    assert_eq!(seen["valet-subject"], "alice@example.com");
    assert_eq!(seen["valet-client"], "https://orchestrator.example/client");
    assert_eq!(seen["valet-agent"], "invoice%20agent%2C%20EU");
    assert_eq!(seen["valet-delegates"], "invoice%20agent%2C%20EU");
    assert_eq!(
        seen["valet-holder-key"],
        invoice_agent.public().to_string().as_str()
    );
    // The client's own headers pass; the credentials, the forged identity, the other
    // `Valet-*` headers and the hop-by-hop ones do not.
    assert_eq!(seen["x-request-id"], "abc-123");
    for gone in [
        "authorization",
        "valet-proof",
        "valet-approval",
        "valet-anything",
        "x-hop",
        "connection",
        "expect",
    ] {
        assert!(
            !seen.contains_key(gone),
            "{gone} reached the upstream: {seen:?}"
        );
    }
    assert_eq!(seen["host"], upstream.addr.to_string().as_str());
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen["x-forwarded-host"], proxy.addr.to_string().as_str());
    assert_eq!(upstream.calls().await, ["pay_invoice"]);

    // A protocol message, judged by the token alone, passes with the identity too.
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let r = proxy.call((&token, &orchestrator), &list, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["result"]["tools"][0]["name"], "read_calendar");

    // The audit file has one line per decision.
    let audit = std::fs::read_to_string(keys.path("audit.jsonl")).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["outcome"], "allow");
    assert_eq!(lines[0]["action"], "pay_invoice");
}

#[tokio::test]
async fn a_denied_call_is_403_as_the_layer_answers_and_never_reaches_the_upstream() {
    let (upstream, keys, proxy) = setup("").await;
    let agent = SigningKey::generate();
    let token = keys.mint(&agent, &["payments:write", "email:send"]);
    let r = proxy
        .call(
            (&token, &agent),
            &call("pay_invoice", payment("5000.00")),
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["error"], "insufficient_scope");
    assert!(r
        .header("www-authenticate")
        .starts_with("Bearer error=\"insufficient_scope\", scope=\"payments:write\""));
    let reasons = r.body["reasons"].as_array().unwrap();
    assert!(
        reasons
            .iter()
            .any(|x| x["policy"] == "payments-ceiling-usd"),
        "{reasons:?}"
    );
    let r = proxy
        .call(
            (&token, &agent),
            &call(
                "send_email",
                json!({"recipient": "eve@elsewhere.example", "subject": "hi"}),
            ),
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    // Needs approval: the layer's answer names what to sign, unchanged.
    let r = proxy
        .call(
            (&token, &agent),
            &call("pay_invoice", payment("600.00")),
            &[],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(r.body["error"], "approval_required");
    assert_eq!(r.body["approval_request"]["action"], "pay_invoice");
    // A token without its proof.
    let message = call("pay_invoice", payment("50.00"));
    let auth = ("authorization", format!("Bearer {}", token.to_base64()));
    let r = Reply::read(proxy.send("POST", "/mcp", &[auth], Some(&message)).await).await;
    assert_eq!(r.status, 401);
    assert!(r
        .header("www-authenticate")
        .contains("a proof of possession is required"));
    assert!(upstream.calls().await.is_empty());
}

#[tokio::test]
async fn a_server_sent_event_stream_is_passed_on_as_it_comes() {
    let (_upstream, keys, proxy) = setup("").await;
    let agent = SigningKey::generate();
    let token = keys.mint(&agent, &["calendar:read"]);
    let message = call(
        "read_calendar",
        json!({"stream": true, "events": 3, "pause": 0.6}),
    );
    let headers = [
        ("authorization", format!("Bearer {}", token.to_base64())),
        ("valet-proof", proxy.prove(&agent, &token, &message)),
    ];
    let sent = Instant::now();
    let response = proxy.send("POST", "/mcp", &headers, Some(&message)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut body = response.into_body();
    let mut text = String::new();
    let mut first_event = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.unwrap();
        if let Some(data) = frame.data_ref() {
            text.push_str(std::str::from_utf8(data).unwrap());
            if first_event.is_none() && text.contains("\n\n") {
                first_event = Some(sent.elapsed());
            }
        }
    }
    let ended = sent.elapsed();
    let first = first_event.expect("an event arrived");
    // The upstream pauses 0.6 s twice after its first event: the first reached the client
    // while the upstream was still writing.
    assert!(
        ended - first >= Duration::from_millis(600),
        "first event after {first:?}, stream ended after {ended:?}"
    );
    assert_eq!(text.matches("event: progress").count(), 3, "{text}");
    assert!(text.contains("event: message"), "{text}");
    assert!(
        text.contains("\"valet-subject\": \"alice@example.com\""),
        "{text}"
    );
}

#[tokio::test]
async fn an_upstream_that_is_down_is_502() {
    // A port nothing listens on: bound, then released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/mcp", closed.local_addr().unwrap());
    drop(closed);
    let keys = Keys::new();
    let proxy = Running::start(&keys.write_config(&config_text(&url, ""))).await;
    let agent = SigningKey::generate();
    let token = keys.mint(&agent, &["calendar:read"]);
    let r = proxy
        .call((&token, &agent), &call("read_calendar", json!({})), &[])
        .await;
    assert_eq!(r.status, 502, "{}", r.text);
    assert_eq!(r.body["error"], "bad_gateway");
    assert_eq!(r.header("content-type"), "application/json");
    assert!(
        !r.text.contains(&url),
        "the upstream URL is not shown: {}",
        r.text
    );
}

#[tokio::test]
async fn an_upstream_that_answers_late_is_504() {
    let (upstream, keys, proxy) = setup("\n[timeouts]\nresponse_headers = \"300ms\"\n").await;
    let agent = SigningKey::generate();
    let token = keys.mint(&agent, &["calendar:read"]);
    let started = Instant::now();
    let r = proxy
        .call(
            (&token, &agent),
            &call("read_calendar", json!({"delay": 2})),
            &[],
        )
        .await;
    assert_eq!(r.status, 504, "{}", r.text);
    assert_eq!(r.body["error"], "gateway_timeout");
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(upstream.calls().await, ["read_calendar"]);
}

#[tokio::test]
async fn paths_outside_the_resource_are_404_and_never_forwarded() {
    let (upstream, _keys, proxy) = setup("").await;
    for path in ["/", "/mcpx", "/admin"] {
        let r = Reply::read(proxy.send("GET", path, &[], None).await).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.body["error"], "not_found");
    }
    assert!(upstream.log().await.is_empty());
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish_and_stops_accepting() {
    let (upstream, keys, mut proxy) = setup("").await;
    let agent = SigningKey::generate();
    let token = keys.mint(&agent, &["calendar:read"]);
    let message = call("read_calendar", json!({"delay": 0.8}));
    let headers = [
        ("authorization", format!("Bearer {}", token.to_base64())),
        ("valet-proof", proxy.prove(&agent, &token, &message)),
    ];
    let in_flight = proxy.send("POST", "/mcp", &headers, Some(&message));
    // Shut down once the upstream has the request, while it is still answering.
    let stop = async {
        while upstream.calls().await.is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        proxy.shut_down();
    };
    let (response, ()) = tokio::join!(in_flight, stop);
    let r = Reply::read(response).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let task = proxy.task.take().unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the proxy stops once the request is answered")
        .unwrap();
    assert!(std::net::TcpStream::connect(proxy.addr).is_err());
}
