#!/usr/bin/env bash
# Builds every fuzz target and runs each for a while.
#   bash scripts/fuzz.sh          # 20 s per target (the CI smoke run)
#   bash scripts/fuzz.sh 600      # 10 minutes per target
#   bash scripts/fuzz.sh 600 verify_token_bytes   # one target
# cargo-fuzz needs nightly features; on a stable toolchain RUSTC_BOOTSTRAP=1 enables them,
# and it is set here only, for the fuzz build. cargo-fuzz itself is installed into .tools/.
# Targets are built without a sanitizer: the crates forbid unsafe code, and the properties
# checked are panics, hangs and wrong allows.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
only="${2:-}"
export PATH="$PWD/.tools/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2 --root .tools
fi
export RUSTC_BOOTSTRAP=1
cargo fuzz build --sanitizer none -O
targets=$(cargo fuzz list)
for t in $targets; do
  if [ -n "$only" ] && [ "$t" != "$only" ]; then continue; fi
  mkdir -p "fuzz/corpus/$t"
  # A scratch copy of the seeds, so runs never write into the committed corpus.
  work=$(mktemp -d)
  cp -r "fuzz/corpus/$t/." "$work/" 2>/dev/null || true
  echo "-- $t: ${seconds}s"
  log="$work.log"
  status=0
  cargo fuzz run --sanitizer none -O "$t" "$work" -- \
    -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|ERROR|panicked|SUMMARY" "$log" || true
  # slow_token prints each new slowest decision: show the last one.
  grep -E "slowest decision" "$log" | tail -n 1 || true
  if [ "$status" -ne 0 ]; then tail -n 40 "$log" >&2; fi
  rm -rf "$work" "$log"
  if [ "$status" -ne 0 ]; then
    echo "fuzz target $t failed: see fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
