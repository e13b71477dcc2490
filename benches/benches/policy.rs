//! The policy layer alone: one transaction against 10, 100 and 1000 policies.

#![expect(
    missing_docs,
    reason = "criterion_main! generates an undocumented main"
)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use valet_benches::{payment, policy_store, AUDIENCE};
use valet_policy::Transaction;

fn policy(c: &mut Criterion) {
    let details = payment();
    let chain = vec!["agent-1".to_owned(), "agent-2".to_owned()];
    let scopes = vec!["files:read".to_owned(), "payments:write".to_owned()];
    let tx = Transaction {
        agent: "agent-2",
        subject: "alice@example.com",
        client: "https://orchestrator.example/client",
        chain: &chain,
        action: "pay_invoice",
        audience: AUDIENCE,
        scopes: &scopes,
        details: Some(&details),
        earlier: &[],
        verified: true,
    };
    let mut group = c.benchmark_group("policy");
    for n in [10usize, 100, 1000] {
        let store = policy_store(n);
        assert!(store.evaluate(&tx).is_allow());
        group.bench_with_input(BenchmarkId::new("policies", n), &store, |b, s| {
            b.iter(|| s.evaluate(&tx))
        });
    }
    group.finish();
}

criterion_group!(benches, policy);
criterion_main!(benches);
