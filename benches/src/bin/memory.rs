//! Peak resident memory of an authorizer holding 1000 policies and 100 000 revoked ids,
//! after one decision: prints `VmHWM` and `VmRSS` from `/proc/self/status` (Linux).

use valet_benches::{authorizer_with_revocations, request, Fixture};

fn status_kib(name: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

fn main() {
    let before = status_kib("VmRSS:").unwrap_or(0);
    let fx = Fixture::new();
    let az = authorizer_with_revocations(&fx, 1000, 100_000);
    let token = fx.token(3);
    let allowed = az
        .authorize(&token, &request(), &valet::Presentation::new())
        .allowed();
    let peak = status_kib("VmHWM:").unwrap_or(0);
    let rss = status_kib("VmRSS:").unwrap_or(0);
    println!("memory.allowed={allowed}");
    println!("memory.start_rss_kib={before}");
    println!("memory.peak_rss_kib={peak}");
    println!("memory.rss_kib={rss}");
}
