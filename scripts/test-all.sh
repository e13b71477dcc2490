#!/usr/bin/env bash
# Sets up and runs every test: formatting, lints, Rust (library, policy and command line
# tests), Python, and a short smoke run of the fuzz targets and benchmarks.
# Usage: bash scripts/test-all.sh   (from anywhere in the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
# One build from scratch gains nothing from incremental compilation, which doubles the disk
# the build takes; set CARGO_INCREMENTAL=1 to keep it while iterating.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
step() { printf '\n== %s ==\n' "$*"; }

step "formatting"
cargo fmt --all -- --check

step "lints"
cargo clippy --workspace --all-targets -- -D warnings

step "Redis for the replica tests"
bash scripts/redis.sh

step "Rust tests (libraries, policies, command line)"
cargo test --workspace

step "bundled policies: validate with zero warnings, formatted, tests pass"
cargo run -q -p valet-cli -- validate -p policies --deny-warnings
cargo run -q -p valet-cli -- format -p policies --check
cargo run -q -p valet-cli -- run-tests -p policies | tail -n 1

if [ -f crates/valet-py/pyproject.toml ]; then
  step "Python tests"
  # A debug build of the extension reuses the Rust test build; benchmarks build release.
  VALET_PY_PROFILE="${VALET_PY_PROFILE:-debug}" bash scripts/test-python.sh
fi

if [ -f fuzz/Cargo.toml ]; then
  step "fuzz smoke run"
  bash scripts/fuzz.sh "${VALET_FUZZ_SECONDS:-20}"
fi

if [ -f benches/Cargo.toml ]; then
  # Each benchmark runs once, built with the test profile (it reuses the test build);
  # `bash benches/run.sh` measures for real.
  step "benchmark smoke run"
  cargo test -p valet-benches --benches
fi

step "all tests passed"
