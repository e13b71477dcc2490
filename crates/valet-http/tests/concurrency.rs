#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Many requests at once, mixed allow and deny: every one decided right, every decision in
//! the audit file.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use valet::{Attenuation, JsonLinesAudit};

const REQUESTS: usize = 300;
const IN_FLIGHT: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_are_all_decided_and_audited() {
    let path = std::env::temp_dir().join(format!("valet-http-audit-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let s = Arc::new(Server::start(Arc::new(JsonLinesAudit::open(&path).unwrap())).await);
    let root = s.mint(
        &["calendar:read", "payments:write"],
        Duration::from_secs(600),
    );
    let child = root
        .attenuate(Attenuation::new().delegate("invoice-agent").max(
            "payment",
            "amount",
            "100.00".parse().unwrap(),
        ))
        .unwrap();
    let (root, child) = (Arc::new(root), Arc::new(child));
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..REQUESTS {
        let (s, root, child, permits) = (s.clone(), root.clone(), child.clone(), permits.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            let (expected, r) = match i % 5 {
                0 => (200, s.call(Some(&child), "read_calendar", json!({})).await),
                1 => (
                    200,
                    s.call(Some(&child), "pay_invoice", payment("99.99")).await,
                ),
                2 => (
                    403,
                    s.call(Some(&child), "pay_invoice", payment("100.01")).await,
                ),
                3 => (
                    403,
                    s.call(Some(&root), "pay_invoice", payment("600.00")).await,
                ),
                _ => (401, s.call(None, "read_calendar", json!({})).await),
            };
            assert_eq!(r.status, expected, "request {i}: {}", r.body);
            if expected == 200 {
                assert_eq!(r.body["result"]["agent"], "invoice-agent");
            }
            i % 5
        });
    }
    let mut per_kind = [0usize; 5];
    while let Some(kind) = tasks.join_next().await {
        per_kind[kind.unwrap()] += 1;
    }
    assert_eq!(per_kind, [REQUESTS / 5; 5]);
    assert_eq!(s.seen.lock().unwrap().len(), 2 * REQUESTS / 5);

    // Every judged request (all but the ones without a token) is one audit line.
    let text = std::fs::read_to_string(&path).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 4 * REQUESTS / 5);
    let count = |outcome: &str| records.iter().filter(|r| r["outcome"] == outcome).count();
    assert_eq!(count("allow"), 2 * REQUESTS / 5);
    assert_eq!(count("deny"), REQUESTS / 5);
    assert_eq!(count("needs_approval"), REQUESTS / 5);
    assert!(!text.contains(&child.to_base64()) && !text.contains(&root.to_base64()));
    let _ = std::fs::remove_file(&path);
}
