#!/usr/bin/env bash
# Builds the Python binding (crates/valet-py) into a virtual environment and tests it:
# stub check (mypy.stubtest), type check of the tests, and pytest.
# Usage: bash scripts/test-python.sh   (from anywhere in the repository)
# Needs python3 (3.10 or later, with venv and pip) and the Rust toolchain. Everything else
# is installed into .venv from crates/valet-py/requirements-dev.txt.
# VALET_PY_PROFILE=debug builds without optimizations (faster to build, slower to run).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
venv="$root/.venv"
step() { printf '\n== %s ==\n' "$*"; }

if [ ! -x "$venv/bin/python" ]; then
  step "creating $venv"
  python3 -m venv "$venv"
fi
py="$venv/bin/python"

step "installing the Python tools"
"$py" -m pip install --quiet --disable-pip-version-check -r crates/valet-py/requirements-dev.txt

step "building the extension"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
release="--release"
if [ "${VALET_PY_PROFILE:-release}" = "debug" ]; then release=""; fi
(
  cd crates/valet-py
  VIRTUAL_ENV="$venv" PATH="$venv/bin:$PATH" "$venv/bin/maturin" develop $release --quiet
)

step "building the Rust MCP tool server the client tests start"
# The official MCP client is tested against it (tests/test_mcp_clients.py).
cargo build --quiet $release -p valet-http --example tool_server
profile_dir=debug
if [ -n "$release" ]; then profile_dir=release; fi
export VALET_TOOL_SERVER="$CARGO_TARGET_DIR/$profile_dir/examples/tool_server"

step "checking the stubs against the module"
(cd crates/valet-py && "$py" -m mypy.stubtest valet --allowlist stubtest-allowlist.txt)

step "type-checking the tests and examples against the stubs"
(cd crates/valet-py && "$py" -m mypy tests bench)

step "running the Python tests"
(cd crates/valet-py && "$py" -m pytest -q tests)
