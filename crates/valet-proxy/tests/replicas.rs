#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Two proxies in front of one Python MCP server, sharing one real Redis (started by the
//! test from the `redis-server` that `scripts/redis.sh` installs), each with a `[redis]`
//! section of its own naming another `replica`: a proof, an approval and a revocation are
//! one truth across them; Redis down is a refusal that says so and recovers by itself;
//! Redis restarted empty refuses the proofs signed before. Without `[redis]`, the same
//! proof passes both.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::*;
use serde_json::{json, Value};
use valet::{Approval, Audience, RevocationStore, SigningKey, Token};
use valet_http::{approval_header_value, Extractor};
use valet_redis::testing::RedisServer;
use valet_redis::{Redis, RedisConfig};

const PREFIX: &str = "replicas";

/// One upstream, the keys, and a proxy on each side of it; Redis, when they share one.
struct Replicas {
    upstream: PythonUpstream,
    keys: Keys,
    a: Running,
    b: Running,
}

/// Proxies `proxy-a` and `proxy-b`, each writing its audit records to a file of its own
/// (`audit-a.jsonl`, `audit-b.jsonl`), with a `[redis]` section on `redis` when given.
async fn replicas(redis: Option<&RedisServer>) -> Replicas {
    let upstream = PythonUpstream::start();
    let keys = Keys::new();
    let start = |name: &str| {
        let section = redis.map_or_else(String::new, |r| {
            format!(
                "\n[redis]\nurl = \"{}\"\nkey_prefix = \"{PREFIX}\"\ntimeout = \"250ms\"\nreplica = \"proxy-{name}\"\n",
                r.url()
            )
        });
        let text = config_text(&upstream.url(), &section).replace(
            "output = \"audit.jsonl\"",
            &format!("output = \"audit-{name}.jsonl\""),
        );
        let path = keys.path(&format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    };
    let (a, b) = (start("a"), start("b"));
    let a = Running::start(&a).await;
    let b = Running::start(&b).await;
    Replicas {
        upstream,
        keys,
        a,
        b,
    }
}

impl Replicas {
    /// The audit records of `proxy-{name}`.
    fn audit(&self, name: &str) -> Vec<Value> {
        let path: PathBuf = self.keys.path(&format!("audit-{name}.jsonl"));
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The `Authorization` and `Valet-Proof` headers of one call, the proof signed now: sent
/// twice, they present the same proof twice.
fn credentials(
    proxy: &Running,
    (token, key): (&Token, &SigningKey),
    message: &Value,
) -> Vec<(&'static str, String)> {
    vec![
        ("authorization", format!("Bearer {}", token.to_base64())),
        ("valet-proof", proxy.prove(key, token, message)),
    ]
}

async fn send(proxy: &Running, headers: &[(&str, String)], message: &Value) -> Reply {
    Reply::read(proxy.send("POST", "/mcp", headers, Some(message)).await).await
}

/// Everything a refusal says: its description, its challenge and its reasons.
fn refusal(r: &Reply) -> String {
    format!(
        "{} | {} | {}",
        r.body["error_description"].as_str().unwrap_or(""),
        r.header("www-authenticate"),
        r.body["reasons"]
    )
}

/// The request the proxy judges for `message`: what an approver signs.
fn judged(proxy: &Running, message: &Value) -> valet::Request {
    let (parts, ()) = http::Request::post(RESOURCE).body(()).unwrap().into_parts();
    proxy
        .config
        .tools()
        .operation(&parts, &Bytes::from(message.to_string()))
        .unwrap()
        .request(&Audience::parse(RESOURCE).unwrap())
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn a_proof_accepted_by_one_proxy_is_refused_by_the_other() {
    let redis = RedisServer::start().unwrap();
    let r = replicas(Some(&redis)).await;
    let agent = SigningKey::generate();
    let token = r.keys.mint(&agent, &["payments:write"]);
    let message = call("pay_invoice", payment("50.00"));
    let once = credentials(&r.a, (&token, &agent), &message);
    let reply = send(&r.a, &once, &message).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = send(&r.b, &once, &message).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert_eq!(reply.body["error"], "invalid_token");
    assert!(
        refusal(&reply).contains("the proof of possession was already used"),
        "{}",
        refusal(&reply)
    );
    assert_eq!(r.upstream.calls().await, ["pay_invoice"]);
    // A fresh proof passes the other.
    let reply = r.b.call((&token, &agent), &message, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(r.upstream.log().await.len(), 2);
}

#[tokio::test]
async fn without_redis_the_same_proof_passes_both_proxies() {
    // Each proxy keeps the proofs it saw in its own memory: what the test above refuses
    // passes here, and the upstream runs the call twice.
    let r = replicas(None).await;
    let agent = SigningKey::generate();
    let token = r.keys.mint(&agent, &["payments:write"]);
    let message = call("pay_invoice", payment("50.00"));
    let once = credentials(&r.a, (&token, &agent), &message);
    let reply = send(&r.a, &once, &message).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let reply = send(&r.b, &once, &message).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(r.upstream.calls().await, ["pay_invoice", "pay_invoice"]);
    // Each proxy still refuses a proof it saw itself.
    let reply = send(&r.a, &once, &message).await;
    assert_eq!(reply.status, 401, "{}", reply.text);
}

#[tokio::test]
async fn an_approval_spent_on_one_proxy_is_refused_on_the_other() {
    let redis = RedisServer::start().unwrap();
    let r = replicas(Some(&redis)).await;
    let agent = SigningKey::generate();
    let token = r.keys.mint(&agent, &["payments:write"]);
    let message = call("pay_invoice", payment("600.00"));
    let reply = r.a.call((&token, &agent), &message, &[]).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert_eq!(reply.body["error"], "approval_required");
    // Signed for the longest lifetime the proxy accepts, as the refusal says. The memory
    // Redis holds began moments ago: an approval of a shorter lifetime could have been
    // signed before it, and is refused until that much time has passed.
    let max = reply.body["approval_request"]["max_lifetime_secs"]
        .as_u64()
        .unwrap();
    let sign = |lifetime: u64| {
        let approval = Approval::sign(
            &r.keys.owner,
            "alice@example.com",
            &token,
            &judged(&r.a, &message),
            SystemTime::now() + Duration::from_secs(lifetime),
        )
        .unwrap();
        [(
            "valet-approval",
            approval_header_value(&approval)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned(),
        )]
    };
    let short = r.a.call((&token, &agent), &message, &sign(300)).await;
    assert_eq!(short.status, 403, "{}", short.text);
    assert!(
        short.text.contains("it started empty then"),
        "{}",
        short.text
    );
    let approved = sign(max);
    let reply = r.a.call((&token, &agent), &message, &approved).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // The same approval, with a fresh proof, on the other proxy.
    let reply = r.b.call((&token, &agent), &message, &approved).await;
    assert_eq!(reply.status, 403, "{}", reply.text);
    assert_eq!(reply.body["error"], "approval_required");
    assert!(
        reply.text.contains("the approval was already used"),
        "{}",
        reply.text
    );
    assert_eq!(r.upstream.calls().await, ["pay_invoice"]);
}

#[tokio::test]
async fn a_revocation_is_refused_by_both_proxies_within_a_second() {
    let redis = RedisServer::start().unwrap();
    let r = replicas(Some(&redis)).await;
    let agent = SigningKey::generate();
    let token = r.keys.mint(&agent, &["calendar:read"]);
    let message = call("read_calendar", json!({}));
    for proxy in [&r.a, &r.b] {
        let reply = proxy.call((&token, &agent), &message, &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    // Revoked as an operator's tool does: a store of its own on the same Redis and prefix.
    let operator = Redis::connect(RedisConfig::new(redis.url()).prefix(PREFIX))
        .unwrap()
        .revocation_store()
        .unwrap();
    let id = token.revocation_ids()[0].clone();
    operator.revoke(id.clone()).unwrap();
    let revoked_at = Instant::now();
    assert!(redis.is_member(&format!("{PREFIX}:revoked"), &id.to_string()));
    for (name, proxy) in [("a", &r.a), ("b", &r.b)] {
        loop {
            let reply = proxy.call((&token, &agent), &message, &[]).await;
            if reply.status != 200 {
                assert_eq!(reply.status, 401, "{}", reply.text);
                assert!(refusal(&reply).contains("revoked"), "{}", refusal(&reply));
                break;
            }
            assert!(
                revoked_at.elapsed() < Duration::from_secs(1),
                "proxy-{name} still allows the token a second after its revocation"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    assert!(revoked_at.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn redis_down_is_refused_with_the_reason_and_redis_back_is_allowed_again() {
    let mut redis = RedisServer::start().unwrap();
    let r = replicas(Some(&redis)).await;
    let agent = SigningKey::generate();
    let token = r.keys.mint(&agent, &["calendar:read"]);
    let message = call("read_calendar", json!({}));
    let reply = r.a.call((&token, &agent), &message, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    redis.down();
    // A decision that could not be made: the layer answers `500` without saying why, and
    // the audit record gives the reason.
    for (name, proxy) in [("a", &r.a), ("b", &r.b)] {
        let reply = proxy.call((&token, &agent), &message, &[]).await;
        assert_eq!(reply.status, 500, "{}", reply.text);
        assert_eq!(reply.body["error"], "server_error");
        let record = r.audit(name).pop().unwrap();
        assert_eq!(record["outcome"], "deny");
        assert!(
            record["reasons"]
                .to_string()
                .contains("the verifier's replay store is unreachable"),
            "{record}"
        );
    }
    // Once the local copy of the revocations is older than a second, every decision is
    // refused for that reason first.
    let down_at = Instant::now();
    loop {
        let reply = r.b.call((&token, &agent), &message, &[]).await;
        assert_ne!(reply.status, 200, "{}", reply.text);
        let record = r.audit("b").pop().unwrap();
        if record["reasons"]
            .to_string()
            .contains("the revocation store is unreachable")
        {
            assert_eq!(record["outcome"], "deny");
            // The server's fault, not the token's: not `invalid_token`, nor the store's
            // address in the answer.
            assert_eq!(reply.status, 500, "{}", reply.text);
            assert!(!reply.text.contains("127.0.0.1"), "{}", reply.text);
            break;
        }
        assert!(down_at.elapsed() < Duration::from_secs(3), "{record}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(r.upstream.calls().await, ["read_calendar"]);

    // Back on the same port (empty): both proxies allow again, neither restarted.
    redis.up().unwrap();
    let up_at = Instant::now();
    for (name, proxy) in [("a", &r.a), ("b", &r.b)] {
        loop {
            let reply = proxy.call((&token, &agent), &message, &[]).await;
            if reply.status == 200 {
                break;
            }
            assert!(
                up_at.elapsed() < Duration::from_secs(5),
                "proxy-{name} still refuses after Redis is back: {}",
                refusal(&reply)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(r.upstream.calls().await.len(), 3);
}

#[tokio::test]
async fn redis_restarted_empty_refuses_proofs_signed_before_on_either_proxy() {
    let mut redis = RedisServer::start().unwrap();
    let r = replicas(Some(&redis)).await;
    let agent = SigningKey::generate();
    let token = r.keys.mint(&agent, &["calendar:read"]);
    let message = call("read_calendar", json!({}));
    let reply = r.a.call((&token, &agent), &message, &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Two proofs signed now, never presented before Redis loses its memory.
    let for_a = credentials(&r.a, (&token, &agent), &message);
    let for_b = credentials(&r.b, (&token, &agent), &message);
    let signed = unix_seconds();
    redis.restart_empty().unwrap();
    // Proofs carry whole seconds: the memory Redis holds now begins a second later.
    while unix_seconds() <= signed {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for (proxy, headers) in [(&r.a, &for_a), (&r.b, &for_b)] {
        let reply = send(proxy, headers, &message).await;
        assert_eq!(reply.status, 401, "{}", reply.text);
        assert!(
            refusal(&reply).contains("signed before the replay store lost its memory"),
            "{}",
            refusal(&reply)
        );
    }
    // A proof signed since passes either.
    for proxy in [&r.a, &r.b] {
        let reply = proxy.call((&token, &agent), &message, &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    assert_eq!(r.upstream.calls().await.len(), 3);
}

#[tokio::test]
async fn each_proxy_names_itself_in_its_audit_records() {
    let redis = RedisServer::start().unwrap();
    let r = replicas(Some(&redis)).await;
    let agent = SigningKey::generate();
    let token = r.keys.mint(&agent, &["calendar:read"]);
    let message = call("read_calendar", json!({}));
    let once = credentials(&r.a, (&token, &agent), &message);
    assert_eq!(send(&r.a, &once, &message).await.status, 200);
    assert_eq!(send(&r.b, &once, &message).await.status, 401);
    assert_eq!(r.b.call((&token, &agent), &message, &[]).await.status, 200);
    for (name, decisions) in [("a", 1), ("b", 2)] {
        let records = r.audit(name);
        assert_eq!(records.len(), decisions, "{records:?}");
        for record in &records {
            assert_eq!(record["replica"], format!("proxy-{name}"), "{record}");
        }
    }
    // The refusal is recorded by the proxy that refused, with its reason.
    assert_eq!(r.audit("b")[0]["outcome"], "deny");
    assert_eq!(r.audit("b")[1]["outcome"], "allow");
}
