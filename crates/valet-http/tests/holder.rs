#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Holder-bound tokens (`Valet-Proof`) and signed approvals (`Valet-Approval`), over real
//! HTTP on 127.0.0.1.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::HeaderValue;
use bytes::Bytes;
use common::*;
use serde_json::{json, Value};
use valet::danger::DangerousAuthorizerBuilder;
use valet::{
    Approval, Audience, HolderProof, MemoryAudit, Outcome, Request, SigningKey, Token,
    TransactionDetails,
};
use valet_http::{approval_header_value, proof_header_value, Execution, Extractor};

const PROOF: &str = "valet-proof";
const APPROVAL: &str = "valet-approval";
const PROOF_REQUIRED: &str = "a proof of possession is required in the Valet-Proof header";

/// A server trusting `owner` as an approver, that also accepts bearer tokens (the
/// `danger` opt-in) for the tests that compare them with bound ones.
async fn server(owner: &SigningKey) -> (Server, Arc<MemoryAudit>) {
    let audit = Arc::new(MemoryAudit::new());
    let key = owner.public();
    let s = Server::start_configured(audit.clone(), Execution::Inline, move |b| {
        b.approver(key).accept_bearer_tokens()
    })
    .await;
    (s, audit)
}

/// The request the layer judges for `message`, as a client computes it: the server's
/// extractor run on the request it is about to send.
fn judged(message: &Value) -> Request {
    let (parts, ()) = http::Request::post(RESOURCE).body(()).unwrap().into_parts();
    tools()
        .operation(&parts, &Bytes::from(message.to_string()))
        .unwrap()
        .request(&Audience::parse(RESOURCE).unwrap())
}

/// A `Valet-Proof` header: `key` proves possession for sending `message` with `token`.
fn prove(key: &SigningKey, token: &Token, message: &Value) -> (&'static str, HeaderValue) {
    let proof = HolderProof::sign(key, token, &judged(message), SystemTime::now()).unwrap();
    (PROOF, proof_header_value(&proof).unwrap())
}

/// A `Valet-Approval` header for `request` made with `token`, signed by `approver` for
/// Alice.
fn approve(approver: &SigningKey, token: &Token, request: &Request) -> (&'static str, HeaderValue) {
    let expires = SystemTime::now() + Duration::from_secs(300);
    let approval = Approval::sign(approver, "alice@example.com", token, request, expires).unwrap();
    (APPROVAL, approval_header_value(&approval).unwrap())
}

/// The request an `approval_request` member describes, as an approver's device reads it.
fn to_approve(body: &Value) -> (String, Request) {
    let a = &body["approval_request"];
    let mut request = Request::new(
        Audience::parse(a["audience"].as_str().unwrap()).unwrap(),
        a["action"].as_str().unwrap(),
    );
    if !a["authorization_details"].is_null() {
        request = request.details(
            TransactionDetails::from_json(&a["authorization_details"].to_string()).unwrap(),
        );
    }
    (a["subject"].as_str().unwrap().to_owned(), request)
}

#[tokio::test]
async fn a_bound_token_with_its_proof_is_allowed_and_the_headers_never_reach_the_handler() {
    let owner = SigningKey::generate();
    let (s, audit) = server(&owner).await;
    let agent = SigningKey::generate();
    let token = s.mint_bound(&["payments:write"], &agent);
    let message = call("pay_invoice", payment("50.00"));
    // An approval nothing asked for is recorded as unused, and the payment is allowed.
    let r = s
        .rpc_with(
            &token,
            &message,
            &[
                prove(&agent, &token, &message),
                approve(&owner, &token, &judged(&message)),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["action"], "pay_invoice");
    let seen = s.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    for name in ["authorization", PROOF, APPROVAL] {
        assert!(seen[0].headers.get(name).is_none(), "{name} reached it");
    }
    let records = audit.records();
    assert_eq!(records[0].outcome, Outcome::Allow);
    assert_eq!(records[0].proof_key, Some(agent.public()));
    assert!(!records[0].approvals[0].accepted);
}

#[tokio::test]
async fn a_bound_token_without_its_proof_is_401_asking_for_one() {
    let owner = SigningKey::generate();
    let (s, _) = server(&owner).await;
    let agent = SigningKey::generate();
    let token = s.mint_bound(&["payments:write"], &agent);
    let r = s.call(Some(&token), "pay_invoice", payment("50.00")).await;
    assert_eq!(r.status, 401);
    assert!(
        r.challenge().starts_with(&format!(
            "Bearer error=\"invalid_token\", error_description=\"{PROOF_REQUIRED}: "
        )),
        "{}",
        r.challenge()
    );
    assert_eq!(r.body["error"], "invalid_token");
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .contains(&agent.public().to_string()));
    // A proof by another key proves nothing.
    let message = call("pay_invoice", payment("50.00"));
    let thief = SigningKey::generate();
    let r = s
        .rpc_with(&token, &message, &[prove(&thief, &token, &message)])
        .await;
    assert_eq!(r.status, 401);
    assert!(r.challenge().contains(PROOF_REQUIRED), "{}", r.challenge());
    // Nor does a protocol message go through without the proof.
    let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
    let r = s.rpc(Some(&token), list.clone()).await;
    assert_eq!(r.status, 401);
    assert!(r.challenge().contains(PROOF_REQUIRED), "{}", r.challenge());
    let r = s
        .rpc_with(&token, &list, &[prove(&agent, &token, &list)])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(s.seen.lock().unwrap()[0].headers.get(PROOF).is_none());
}

#[tokio::test]
async fn a_proof_for_another_request_or_token_is_401() {
    let owner = SigningKey::generate();
    let (s, _) = server(&owner).await;
    let agent = SigningKey::generate();
    let token = s.mint_bound(&["payments:write", "calendar:read"], &agent);
    let pay = call("pay_invoice", payment("50.00"));
    // Signed for another action.
    let read = call("read_calendar", json!({}));
    let r = s
        .rpc_with(&token, &pay, &[prove(&agent, &token, &read)])
        .await;
    assert_eq!(r.status, 401);
    assert!(r.challenge().contains(PROOF_REQUIRED), "{}", r.challenge());
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .contains("does not verify"));
    // Signed for another amount.
    let more = call("pay_invoice", payment("51.00"));
    let r = s
        .rpc_with(&token, &pay, &[prove(&agent, &token, &more)])
        .await;
    assert_eq!(r.status, 401);
    // Signed for another token of the same holder.
    let other = s.mint_bound(&["payments:write"], &agent);
    let r = s
        .rpc_with(&token, &pay, &[prove(&agent, &other, &pay)])
        .await;
    assert_eq!(r.status, 401);
    assert!(s.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_replayed_proof_is_401() {
    let owner = SigningKey::generate();
    let (s, _) = server(&owner).await;
    let agent = SigningKey::generate();
    let token = s.mint_bound(&["payments:write"], &agent);
    let message = call("pay_invoice", payment("50.00"));
    let proof = prove(&agent, &token, &message);
    let r = s
        .rpc_with(&token, &message, std::slice::from_ref(&proof))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s.rpc_with(&token, &message, &[proof]).await;
    assert_eq!(r.status, 401);
    assert!(r.challenge().contains(PROOF_REQUIRED), "{}", r.challenge());
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{}",
        r.body
    );
    assert_eq!(s.seen.lock().unwrap().len(), 1);
}

/// A protocol message and a tool named like it: the same judged request, so one proof
/// fits both, one on the token-only path and one on the policy path.
fn protocol_and_action() -> (Value, Value) {
    let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
    let action = call("tools/list", json!({}));
    let (a, b) = (judged(&list), judged(&action));
    assert_eq!(a.action, b.action);
    assert_eq!(a.details, b.details);
    assert_eq!(a.scopes, b.scopes);
    (list, action)
}

/// Asserts `r` is the `401` of a proof already used.
fn assert_replayed(r: &Reply) {
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.challenge().contains(PROOF_REQUIRED), "{}", r.challenge());
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_proof_used_on_a_protocol_message_is_refused_on_an_action() {
    let owner = SigningKey::generate();
    let (s, audit) = server(&owner).await;
    let agent = SigningKey::generate();
    let token = s.mint_bound(&["payments:write"], &agent);
    let (list, action) = protocol_and_action();
    let proof = prove(&agent, &token, &list);
    let r = s
        .rpc_with(&token, &list, std::slice::from_ref(&proof))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The same proof, now on the authorizer's policy path: one replay cache for both.
    let r = s.rpc_with(&token, &action, &[proof]).await;
    assert_replayed(&r);
    assert_eq!(s.seen.lock().unwrap().len(), 1);
    let records = audit.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].outcome, Outcome::Deny);
    assert_eq!(records[1].proof_key, Some(agent.public()));
}

#[tokio::test]
async fn a_proof_used_on_an_action_is_refused_on_a_protocol_message() {
    let owner = SigningKey::generate();
    let (s, audit) = server(&owner).await;
    let agent = SigningKey::generate();
    let token = s.mint_bound(&["payments:write"], &agent);
    let (list, action) = protocol_and_action();
    let proof = prove(&agent, &token, &action);
    // No policy allows a tool named `tools/list`: refused by the policies, not the token,
    // and the proof is used all the same.
    let r = s
        .rpc_with(&token, &action, std::slice::from_ref(&proof))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["error"], "insufficient_scope");
    let r = s.rpc_with(&token, &list, &[proof]).await;
    assert_replayed(&r);
    assert!(s.seen.lock().unwrap().is_empty());
    let records = audit.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].action, "tools/list");
    assert_eq!(records[1].outcome, Outcome::Deny);
}

#[tokio::test]
async fn a_payment_needing_approval_is_allowed_with_an_approval_of_exactly_it() {
    let owner = SigningKey::generate();
    let (s, audit) = server(&owner).await;
    let token = s.mint(&["payments:write"], Duration::from_secs(600));
    let message = call("pay_invoice", payment("600.00"));
    let r = s.rpc_with(&token, &message, &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"], "approval_required");
    assert!(r.challenge().is_empty());
    let details = json!({"type": "payment", "amount": "600.00", "currency": "USD", "recipient": "bob@example.com"});
    assert_eq!(
        r.body["approval_request"],
        json!({
            "subject": "alice@example.com",
            "token_digest": valet::token::token_digest(&token),
            "audience": RESOURCE,
            "action": "pay_invoice",
            "authorization_details": details,
            "details_digest": valet::token::details_digest(judged(&message).details.as_ref()),
            "max_lifetime_secs": 900,
        })
    );
    let (subject, request) = to_approve(&r.body);
    assert_eq!(subject, "alice@example.com");
    let expected = judged(&message);
    assert_eq!(
        (&request.audience, &request.action, &request.details),
        (&expected.audience, &expected.action, &expected.details)
    );

    // An approval of another amount does not approve this one.
    let other = call("pay_invoice", payment("599.00"));
    let r = s
        .rpc_with(
            &token,
            &message,
            &[approve(&owner, &token, &judged(&other))],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"], "approval_required");
    assert!(
        r.body["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["layer"] == "approval"
                && x["message"]
                    .as_str()
                    .unwrap()
                    .contains("another transaction")),
        "{}",
        r.body
    );
    // Nor does one by a key the server does not trust.
    let stranger = SigningKey::generate();
    let r = s
        .rpc_with(&token, &message, &[approve(&stranger, &token, &request)])
        .await;
    assert_eq!(r.status, 403);

    // The owner's approval of exactly this payment allows it, once.
    let approval = approve(&owner, &token, &request);
    let r = s
        .rpc_with(&token, &message, std::slice::from_ref(&approval))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let seen = s.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].headers.get(APPROVAL).is_none());
    let last = audit.records().pop().unwrap();
    assert_eq!(last.outcome, Outcome::Allow);
    assert_eq!(last.approvals[0].approver, owner.public());
    assert!(last.approvals[0].accepted);
    let r = s.rpc_with(&token, &message, &[approval]).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"], "approval_required");
}

#[tokio::test]
async fn an_approval_cannot_be_spent_by_another_token_of_the_same_person() {
    let owner = SigningKey::generate();
    let (s, _) = server(&owner).await;
    let token = s.mint(&["payments:write"], Duration::from_secs(600));
    let other = s.mint(&["payments:write"], Duration::from_secs(600));
    assert_ne!(token.to_bytes(), other.to_bytes());
    let message = call("pay_invoice", payment("600.00"));
    let r = s.rpc_with(&token, &message, &[]).await;
    assert_eq!(r.status, 403);
    let digest = r.body["approval_request"]["token_digest"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(digest, valet::token::token_digest(&token));
    let (subject, request) = to_approve(&r.body);
    // Signed from the refusal alone, as the person's device does.
    let approval = Approval::sign_for_token_digest(
        &owner,
        subject,
        &digest,
        &request,
        SystemTime::now() + Duration::from_secs(300),
    )
    .unwrap();
    let header = (APPROVAL, approval_header_value(&approval).unwrap());
    let r = s
        .rpc_with(&other, &message, std::slice::from_ref(&header))
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"], "approval_required");
    assert!(
        r.body["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["message"]
                .as_str()
                .unwrap()
                .contains("this approval is for another token")),
        "{}",
        r.body
    );
    let r = s.rpc_with(&token, &message, &[header]).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_bound_token_retries_with_a_fresh_proof_and_the_approval() {
    let owner = SigningKey::generate();
    let (s, _) = server(&owner).await;
    let agent = SigningKey::generate();
    let token = s.mint_bound(&["payments:write"], &agent);
    let message = call("pay_invoice", payment("700.00"));
    let r = s
        .rpc_with(&token, &message, &[prove(&agent, &token, &message)])
        .await;
    assert_eq!(r.status, 403);
    let (_, request) = to_approve(&r.body);
    // Two approvals folded into one field: the other transaction's is not used.
    let other = approve(
        &owner,
        &token,
        &judged(&call("pay_invoice", payment("1.00"))),
    )
    .1;
    let this = approve(&owner, &token, &request).1;
    let folded = HeaderValue::from_str(&format!(
        "{}, {}",
        other.to_str().unwrap(),
        this.to_str().unwrap()
    ))
    .unwrap();
    let r = s
        .rpc_with(
            &token,
            &message,
            &[prove(&agent, &token, &message), (APPROVAL, folded)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn without_a_trusted_approver_the_body_has_no_approval_request() {
    let audit = Arc::new(MemoryAudit::new());
    let s = Server::start(audit).await;
    let token = s.mint(&["payments:write"], Duration::from_secs(600));
    let r = s.call(Some(&token), "pay_invoice", payment("600.00")).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"], "approval_required");
    assert!(r.body.get("approval_request").is_none());
}

#[tokio::test]
async fn malformed_headers_are_400_and_nothing_is_judged() {
    let owner = SigningKey::generate();
    let (s, audit) = server(&owner).await;
    let agent = SigningKey::generate();
    let token = s.mint_bound(&["payments:write"], &agent);
    let message = call("pay_invoice", payment("50.00"));
    let proof = HolderProof::sign(&agent, &token, &judged(&message), SystemTime::now()).unwrap();
    let good = proof_header_value(&proof).unwrap();
    let cases: Vec<(Vec<(&str, HeaderValue)>, &str)> = vec![
        (
            vec![(PROOF, HeaderValue::from_static("not base64!"))],
            "the Valet-Proof header is malformed (it is not base64url",
        ),
        (
            vec![(
                PROOF,
                HeaderValue::from_str(&proof.to_json().unwrap()).unwrap(),
            )],
            "the Valet-Proof header is malformed (it is JSON text",
        ),
        (
            vec![(PROOF, HeaderValue::from_static("e30"))],
            "the Valet-Proof header is malformed (not a valet proof of possession",
        ),
        (
            vec![(PROOF, good.clone()), (PROOF, good.clone())],
            "send at most one Valet-Proof header",
        ),
        (
            vec![(PROOF, good), (APPROVAL, HeaderValue::from_static("%%%"))],
            "the Valet-Approval header is malformed",
        ),
    ];
    for (headers, expected) in cases {
        let r = s.rpc_with(&token, &message, &headers).await;
        assert_eq!(r.status, 400, "{expected}: {}", r.body);
        assert_eq!(r.body["error"], "invalid_request");
        let description = r.body["error_description"].as_str().unwrap();
        assert!(description.starts_with(expected), "{description}");
        assert!(
            r.challenge()
                .starts_with("Bearer error=\"invalid_request\""),
            "{}",
            r.challenge()
        );
        let text = format!("{:?} {}", r.headers, r.body);
        assert!(!text.contains(&token.to_base64()));
    }
    assert!(audit.records().is_empty());
    assert!(s.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_layer_with_the_defaults_refuses_bearer_tokens() {
    let audit = Arc::new(MemoryAudit::new());
    let s = Server::start_configured(audit.clone(), Execution::Inline, |b| {
        b.proof_window(Duration::from_secs(30), Duration::from_secs(2))
    })
    .await;
    assert!(!s.layer.authorizer().accepts_bearer_tokens());
    let bearer = s.mint(&["payments:write"], Duration::from_secs(600));
    let r = s.call(Some(&bearer), "pay_invoice", payment("50.00")).await;
    assert_eq!(r.status, 401);
    assert!(
        r.challenge().starts_with("Bearer error=\"invalid_token\""),
        "{}",
        r.challenge()
    );
    assert!(
        r.challenge().contains(
            "accepts only tokens bound to a holder key, and this token is a bearer token"
        ),
        "{}",
        r.challenge()
    );
    // The whole reason, with what to do, is in the body and the audit record.
    assert!(
        r.body.to_string().contains(
            "mint the token with the agent's public key and sign a proof of possession for each request"
        ),
        "{}",
        r.body
    );
    assert_eq!(audit.records().last().unwrap().outcome, Outcome::Deny);
    assert!(s.seen.lock().unwrap().is_empty());
    let agent = SigningKey::generate();
    let bound = s.mint_bound(&["payments:write"], &agent);
    let message = call("pay_invoice", payment("50.00"));
    let r = s
        .rpc_with(&bound, &message, &[prove(&agent, &bound, &message)])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A proof older than the window.
    let stale = HolderProof::sign(
        &agent,
        &bound,
        &judged(&message),
        SystemTime::now() - Duration::from_secs(45),
    )
    .unwrap();
    let r = s
        .rpc_with(
            &bound,
            &message,
            &[(PROOF, proof_header_value(&stale).unwrap())],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.challenge().contains(PROOF_REQUIRED), "{}", r.challenge());
}
