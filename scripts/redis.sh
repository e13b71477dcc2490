#!/usr/bin/env bash
# Installs the Redis server the replica tests start (crates/valet-redis/tests), from the
# distribution's packages, when it is missing. The tests start and stop their own
# `redis-server` processes on free loopback ports; nothing is left running.
# Usage: bash scripts/redis.sh
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  echo "redis-server: $(redis-server --version | head -n 1)"
  exit 0
fi
echo "redis-server is missing: installing Debian's redis-server package"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# The package's own service is not wanted: tests start their servers themselves.
$SUDO apt-get update -qq || echo "apt-get update failed; trying the package lists already on this machine"
$SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null
# Debian starts the packaged service when it can; stop it, it is not used.
($SUDO service redis-server stop >/dev/null 2>&1 || true)
command -v redis-server >/dev/null 2>&1 || {
  echo "error: redis-server is still missing after installing the package" >&2
  exit 1
}
echo "redis-server: $(redis-server --version | head -n 1)"
