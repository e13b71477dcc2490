#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Which MCP messages the policies judge, and what they judge them on, over real HTTP on
//! 127.0.0.1.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use serde_json::{json, Value};
use valet::danger::DangerousAuthorizerBuilder;
use valet::{Authorizer, KeyId, KeySet, MemoryAudit, Outcome, PolicyStore, RootKeyPair};
use valet_http::{Execution, McpTools, JSONRPC_INVALID_REQUEST};

const TEN_MINUTES: Duration = Duration::from_secs(600);

const SCHEMA: &str = r#"
@valet("agent")
entity Agent {
  subject: String,
  client: String,
  depth: Long,
  chain: Set<String>,
};
entity Resource;
type ToolContext = {
  audience: String,
  scopes: Set<String>,
};
action "resources/read", "prompts/get", read_file appliesTo {
  principal: [Agent],
  resource: [Resource],
  context: ToolContext,
};
"#;

const POLICIES: &str = r#"
@id("docs-readable")
permit (
  principal,
  action == Action::"resources/read",
  resource == Resource::"file:///docs/readme.md"
);

@id("summarize-prompt")
permit (
  principal,
  action == Action::"prompts/get",
  resource == Resource::"summarize"
);

@id("files-readable")
permit (
  principal,
  action == Action::"read_file",
  resource
);

@id("no-shadow")
@reason("the password file is not for agents")
forbid (
  principal,
  action == Action::"read_file",
  resource == Resource::"/etc/shadow"
);
"#;

/// A policy directory of this test's own, with actions for MCP resources and prompts.
fn policy_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("valet-http-mcp-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("schema.cedarschema"), SCHEMA).unwrap();
    std::fs::write(dir.join("mcp.cedar"), POLICIES).unwrap();
    dir
}

/// A server judging with the test's policies (`policies` names the directory) and
/// reading operations with `tools`.
async fn server_with(name: &str, tools: McpTools) -> (Server, Arc<MemoryAudit>) {
    let audit = Arc::new(MemoryAudit::new());
    let root = RootKeyPair::generate(KeyId(1));
    let store = PolicyStore::load(policy_dir(name)).unwrap();
    let authorizer = Authorizer::builder(KeySet::new().with(root.public()), store)
        .accept_bearer_tokens()
        .audit(audit.clone())
        .build();
    let s = Server::serve_with(root, authorizer, Execution::Inline, tools).await;
    (s, audit)
}

/// A server judging with the bundled policies.
async fn bundled() -> (Server, Arc<MemoryAudit>) {
    let audit = Arc::new(MemoryAudit::new());
    (Server::start(audit.clone()).await, audit)
}

fn message(method: &str, params: Value) -> Value {
    json!({"jsonrpc":"2.0","id":1,"method":method,"params":params})
}

async fn raw(s: &Server, token: &valet::Token, body: &str) -> Reply {
    let auth = format!("Bearer {}", token.to_base64());
    s.send("POST", "/mcp", Some(&auth), Bytes::from(body.to_owned()))
        .await
}

#[tokio::test]
async fn resources_read_is_judged_by_the_policies() {
    let (s, audit) = server_with("resources-read", McpTools::new()).await;
    let token = s.mint(&[], TEN_MINUTES);
    let r = s
        .rpc(
            Some(&token),
            message("resources/read", json!({"uri": "file:///docs/readme.md"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["action"], "resources/read");
    let r = s
        .rpc(
            Some(&token),
            message("resources/read", json!({"uri": "file:///hr/payroll.csv"})),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["error"], "insufficient_scope");
    assert_eq!(s.seen.lock().unwrap().len(), 1);
    let records = audit.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1].outcome, Outcome::Deny);
    assert_eq!(records[1].action, "resources/read");
    assert_eq!(
        serde_json::to_value(&records[1].authorization_details).unwrap(),
        json!({"type": "resources/read", "identifier": "file:///hr/payroll.csv"})
    );
    // A read that names no resource is not a read of the audience.
    let r = s
        .rpc(Some(&token), message("resources/read", json!({})))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .contains("`params.uri`"));
}

#[tokio::test]
async fn prompts_get_is_judged_by_the_policies() {
    let (s, audit) = server_with("prompts-get", McpTools::new()).await;
    let token = s.mint(&[], TEN_MINUTES);
    let r = s
        .rpc(
            Some(&token),
            message("prompts/get", json!({"name": "summarize"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .rpc(
            Some(&token),
            message(
                "prompts/get",
                json!({"name": "exfiltrate", "arguments": {}}),
            ),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(s.seen.lock().unwrap().len(), 1);
    let records = audit.records();
    assert_eq!(records[1].action, "prompts/get");
    assert_eq!(
        serde_json::to_value(&records[1].authorization_details).unwrap(),
        json!({"type": "prompts/get", "identifier": "exfiltrate"})
    );
}

#[tokio::test]
async fn a_method_name_in_another_case_is_not_a_protocol_message() {
    let (s, audit) = bundled().await;
    let token = s.mint(&["payments:write"], TEN_MINUTES);
    let smuggled = json!({
        "name": "pay_invoice",
        "arguments": {"amount": "5000.00", "currency": "USD", "recipient": "mallory@evil.example"},
    });
    for method in [
        "Tools/Call",
        "TOOLS/CALL",
        "tools/call ",
        "Tools/List",
        "Initialize",
    ] {
        let r = s.rpc(Some(&token), message(method, smuggled.clone())).await;
        assert_eq!(r.status, 403, "{method}: {}", r.body);
    }
    assert!(s.seen.lock().unwrap().is_empty());
    let records = audit.records();
    assert_eq!(records.len(), 5);
    assert_eq!(records[0].action, "Tools/Call");
    assert!(records.iter().all(|r| r.outcome == Outcome::Deny));
}

#[tokio::test]
async fn methods_other_than_the_protocol_messages_are_judged() {
    let (s, audit) = bundled().await;
    let token = s.mint(&["calendar:read"], TEN_MINUTES);
    for protocol in [
        message("initialize", json!({"protocolVersion": "2025-06-18"})),
        json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
        json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
        json!({"jsonrpc":"2.0","id":1,"method":"resources/list"}),
        json!({"jsonrpc":"2.0","id":1,"method":"resources/templates/list"}),
        json!({"jsonrpc":"2.0","id":1,"method":"prompts/list"}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":1,"result":{}}),
    ] {
        let r = s.rpc(Some(&token), protocol.clone()).await;
        assert_eq!(r.status, 200, "{protocol}: {}", r.body);
    }
    assert_eq!(s.seen.lock().unwrap().len(), 8);
    for action in [
        message(
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "x"}}),
        ),
        message("logging/setLevel", json!({"level": "debug"})),
        message(
            "resources/subscribe",
            json!({"uri": "file:///hr/payroll.csv"}),
        ),
        message("sampling/createMessage", json!({})),
        message("tasks/run", json!({})),
    ] {
        let r = s.rpc(Some(&token), action.clone()).await;
        assert_eq!(r.status, 403, "{action}: {}", r.body);
    }
    assert_eq!(s.seen.lock().unwrap().len(), 8);
    let records = audit.records();
    assert_eq!(records[8].action, "completion/complete");
    assert!(records[8..].iter().all(|r| r.outcome == Outcome::Deny));
    // A notification answers nothing: one with an `id` is a request in disguise.
    let r = s
        .rpc(
            Some(&token),
            json!({"jsonrpc":"2.0","id":2,"method":"notifications/initialized"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(s.seen.lock().unwrap().len(), 8);
}

#[tokio::test]
async fn a_batch_cannot_carry_an_action_past_the_policies() {
    let (s, audit) = bundled().await;
    let token = s.mint(&["payments:write"], TEN_MINUTES);
    let theft = call(
        "pay_invoice",
        json!({"amount": "5000.00", "currency": "USD", "recipient": "mallory@evil.example"}),
    );
    for batch in [
        json!([{"jsonrpc":"2.0","id":1,"method":"tools/list"}, theft]),
        json!([theft]),
        json!([{"jsonrpc":"2.0","id":1,"method":"tools/list"}]),
    ] {
        let r = s.rpc(Some(&token), batch.clone()).await;
        assert_eq!(r.status, 400, "{batch}: {}", r.body);
        assert_eq!(
            r.body,
            json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {
                    "code": -32600,
                    "message": "batches are not accepted: send one message per request",
                },
            })
        );
        assert_eq!(r.body["error"]["code"], JSONRPC_INVALID_REQUEST);
        assert!(r.challenge().is_empty());
    }
    assert!(s.seen.lock().unwrap().is_empty());
    assert!(audit.records().is_empty());
}

#[tokio::test]
async fn a_batch_of_tool_calls_never_reaches_the_service() {
    let (s, audit) = bundled().await;
    let token = s.mint(&["calendar:read", "payments:write"], TEN_MINUTES);
    // Each call alone would be allowed.
    let calls = json!([
        call("read_calendar", json!({})),
        call("pay_invoice", payment("50.00")),
    ]);
    let r = s.rpc(Some(&token), calls).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["error"]["code"], -32600);
    assert!(s.seen.lock().unwrap().is_empty());
    assert!(audit.records().is_empty());
    let r = s.call(Some(&token), "pay_invoice", payment("50.00")).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_notification_is_judged_by_the_token_alone() {
    let (s, audit) = bundled().await;
    // A token with no scope, which no policy permits anything.
    let token = s.mint(&[], TEN_MINUTES);
    for method in ["notifications/initialized", "notifications/cancelled"] {
        let r = s
            .rpc(
                Some(&token),
                json!({"jsonrpc":"2.0","method":method,"params":{}}),
            )
            .await;
        assert_eq!(r.status, 200, "{method}: {}", r.body);
        assert_eq!(r.body["result"]["action"], method);
    }
    let records = audit.records();
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.outcome == Outcome::Allow));
    // It still needs a good token.
    let r = s
        .rpc(
            None,
            json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        )
        .await;
    assert_eq!(r.status, 401);
    // And a notification carries no `id`.
    let r = s
        .rpc(
            Some(&token),
            json!({"jsonrpc":"2.0","id":1,"method":"notifications/initialized"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(s.seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_tool_call_without_id_is_judged_as_the_action() {
    let (s, audit) = bundled().await;
    let without_id = |tool: &str, arguments: Value| json!({"jsonrpc":"2.0","method":"tools/call","params":{"name":tool,"arguments":arguments}});
    // The policies deny a payment in GBP: without an `id` it is denied just the same.
    let token = s.mint(&["payments:write"], TEN_MINUTES);
    let gbp = json!({"amount": "50.00", "currency": "GBP", "recipient": "bob@example.com"});
    let r = s
        .rpc(Some(&token), without_id("pay_invoice", gbp.clone()))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["error"], "insufficient_scope");
    assert!(
        r.body["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["layer"] == "policy"),
        "{}",
        r.body
    );
    // A token without the tool's scope is refused just the same.
    let reader = s.mint(&["calendar:read"], TEN_MINUTES);
    let r = s
        .rpc(Some(&reader), without_id("pay_invoice", payment("50.00")))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(s.seen.lock().unwrap().is_empty());
    let records = audit.records();
    assert_eq!(records.len(), 2);
    assert!(records
        .iter()
        .all(|r| r.action == "pay_invoice" && r.outcome == Outcome::Deny));
    // An allowed one passes, judged as the tool.
    let r = s
        .rpc(Some(&token), without_id("pay_invoice", payment("50.00")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"]["action"], "pay_invoice");
}

#[tokio::test]
async fn a_repeated_member_cannot_carry_an_action_past_the_policies() {
    let (s, audit) = bundled().await;
    let token = s.mint(&["payments:write"], TEN_MINUTES);
    // A server whose JSON reader keeps the first of two members would run the payment,
    // judged as the `tools/list` after it.
    let two_methods = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"pay_invoice","arguments":{"amount":"5000.00","currency":"USD","recipient":"mallory@evil.example"}},"method":"tools/list"}"#;
    // Or pay mallory, judged as a payment to bob.
    let two_recipients = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"pay_invoice","arguments":{"amount":"50.00","currency":"USD","recipient":"mallory@evil.example","recipient":"bob@example.com"}}}"#;
    for body in [two_methods, two_recipients] {
        let r = raw(&s, &token, body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(
            r.body["error_description"]
                .as_str()
                .unwrap()
                .contains("more than once"),
            "{}",
            r.body
        );
    }
    assert!(s.seen.lock().unwrap().is_empty());
    assert!(audit.records().is_empty());
}

#[tokio::test]
async fn a_tool_that_takes_no_authorization_details_argument_refuses_one() {
    let audit = Arc::new(MemoryAudit::new());
    let root = RootKeyPair::generate(KeyId(1));
    let authorizer = Authorizer::builder(KeySet::new().with(root.public()), policies())
        .accept_bearer_tokens()
        .audit(audit.clone())
        .build();
    let tools = McpTools::new()
        .scope("pay_invoice", scope("payments:write"))
        .scope("send_email", scope("email:send"))
        .details_argument("send_email")
        .refuse_authorization_details();
    let s = Server::serve_with(root, authorizer, Execution::Inline, tools).await;
    let token = s.mint(&["payments:write", "email:send"], TEN_MINUTES);
    // The function's own arguments pay 5000.00 to mallory: the server never sees the
    // 1.00 to bob that `authorization_details` states.
    let smuggled = json!({
        "amount": "5000.00",
        "recipient": "mallory@evil.example",
        "currency": "USD",
        "authorization_details": {"type": "payment", "amount": "1.00", "currency": "USD", "recipient": "bob@example.com"},
    });
    let r = s.call(Some(&token), "pay_invoice", smuggled).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["error"], "invalid_request");
    assert!(r.body["error_description"]
        .as_str()
        .unwrap()
        .contains("tool `pay_invoice` takes no `authorization_details` argument"));
    assert!(audit.records().is_empty());
    // The tool opted in is judged on the transaction its argument states.
    let email = json!({"authorization_details": {"type": "email", "recipient": "bob@example.com", "subject": "hi"}});
    let r = s.call(Some(&token), "send_email", email).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let records = audit.records();
    assert_eq!(
        serde_json::to_value(&records[0].authorization_details).unwrap(),
        json!({"type": "email", "recipient": "bob@example.com", "subject": "hi"})
    );
    assert_eq!(s.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_tool_resource_comes_from_its_argument() {
    let tools = McpTools::new().resource_argument("read_file", "path");
    let (s, audit) = server_with("resource-argument", tools).await;
    let token = s.mint(&[], TEN_MINUTES);
    let r = s
        .call(
            Some(&token),
            "read_file",
            json!({"path": "/docs/readme.md"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .call(Some(&token), "read_file", json!({"path": "/etc/shadow"}))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["policy"] == "no-shadow"));
    let records = audit.records();
    assert_eq!(
        serde_json::to_value(&records[1].authorization_details).unwrap(),
        json!({"type": "read_file", "identifier": "/etc/shadow"})
    );
    // The client cannot name another resource beside the argument.
    let r = s
        .call(
            Some(&token),
            "read_file",
            json!({"path": "/etc/shadow", "authorization_details": {"type": "read_file", "identifier": "/docs/readme.md"}}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // An argument that is not a string, or is missing, is refused.
    for arguments in [
        json!({"path": 42}),
        json!({"path": ["/etc/shadow"]}),
        json!({}),
    ] {
        let r = s.call(Some(&token), "read_file", arguments.clone()).await;
        assert_eq!(r.status, 400, "{arguments}: {}", r.body);
        let text = r.body["error_description"].as_str().unwrap();
        assert!(
            text.contains("tool `read_file` takes its resource from argument `path`"),
            "{text}"
        );
    }
    assert_eq!(s.seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_tool_resource_argument_joins_the_details_from_its_arguments() {
    let tools = McpTools::new()
        .details_from_arguments("read_file", "file", ["encoding"])
        .resource_argument("read_file", "path");
    let (s, audit) = server_with("resource-and-details", tools).await;
    let token = s.mint(&[], TEN_MINUTES);
    let r = s
        .call(
            Some(&token),
            "read_file",
            json!({"path": "/etc/shadow", "identifier": "/docs/readme.md"}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        serde_json::to_value(&audit.records()[0].authorization_details).unwrap(),
        json!({"type": "file", "identifier": "/etc/shadow"})
    );
}

#[tokio::test]
async fn the_handshakes_of_both_revisions_are_judged_by_the_token_alone() {
    let (s, audit) = bundled().await;
    // A token with no scope, which no policy permits anything.
    let token = s.mint(&[], TEN_MINUTES);
    for method in ["initialize", "server/discover"] {
        let r = s
            .rpc(
                Some(&token),
                json!({"jsonrpc":"2.0","id":1,"method":method,"params":{}}),
            )
            .await;
        assert_eq!(r.status, 200, "{method}: {}", r.body);
        assert_eq!(r.body["result"]["action"], method);
    }
    assert!(audit.records().iter().all(|r| r.outcome == Outcome::Allow));
    // Without a token, the first request of a connection is told where to get one.
    let r = s
        .rpc(
            None,
            json!({"jsonrpc":"2.0","id":1,"method":"server/discover"}),
        )
        .await;
    assert_eq!(r.status, 401);
}
