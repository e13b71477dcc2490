//! Runs one decision path in a loop, for a profiler: `first` (token bytes never seen
//! before, 3 blocks, 100 policies), `repeat` (the same bytes again) or `policy` (the policy
//! layer alone) or `threads` (`repeat` on two threads at once).
//!
//! `cargo build --release -p valet-benches --bin profile && perf record -g
//! target/release/profile first 2000`

use std::time::Instant;

use valet_benches::{authorizer, request, Fixture};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "repeat".to_owned());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let fx = Fixture::new();
    let az = authorizer(&fx, 100);
    let req = request();
    let start;
    let mut allowed = 0usize;
    match path.as_str() {
        "first" => {
            let tokens: Vec<Vec<u8>> = (0..n).map(|_| fx.token(3).to_bytes().to_vec()).collect();
            start = Instant::now();
            for t in &tokens {
                allowed += usize::from(
                    az.authorize_encoded(
                        valet::Encoded::Bytes(t),
                        &req,
                        &valet::Presentation::new(),
                    )
                    .allowed(),
                );
            }
        }
        "repeat" => {
            let bytes = fx.token(3).to_bytes().to_vec();
            start = Instant::now();
            for _ in 0..n {
                allowed += usize::from(
                    az.authorize_encoded(
                        valet::Encoded::Bytes(&bytes),
                        &req,
                        &valet::Presentation::new(),
                    )
                    .allowed(),
                );
            }
        }
        "threads" => {
            // The same repeat presentation on two threads sharing the authorizer.
            let bytes = fx.token(3).to_bytes().to_vec();
            start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| {
                        for _ in 0..n {
                            std::hint::black_box(az.authorize_encoded(
                                valet::Encoded::Bytes(&bytes),
                                &req,
                                &valet::Presentation::new(),
                            ));
                        }
                    });
                }
            });
            allowed = 2 * n;
        }
        other => {
            eprintln!("unknown path `{other}`: use first, repeat or threads");
            std::process::exit(2);
        }
    }
    let per = start.elapsed() / u32::try_from(n.max(1)).unwrap_or(u32::MAX);
    println!("{path}: {per:?} per decision, {allowed} of {n} allowed");
}
