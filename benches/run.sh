#!/usr/bin/env bash
# Runs the whole benchmark suite and writes the table to benches/README.md.
# Usage: bash benches/run.sh           full run (about 12 minutes on 2 cores once built)
#        bash benches/run.sh --quick   criterion's quick mode (about 2 minutes once built)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p valet-benches --bins
# Only this run's figures go into the table.
rm -rf "${CARGO_TARGET_DIR:-target}/criterion"
cargo bench -p valet-benches --bench '*' -- "$@"
cargo run --release -p valet-benches --bin report -- --write
