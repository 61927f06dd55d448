#!/usr/bin/env bash
# Run a command with the provisioned toolchain (Node 22, the Pulumi engine, node_modules/.bin) on PATH.
# `--no-engine` first: only Node 22 and node_modules (for commands that never start the engine).
# Bootstraps first; a warm bootstrap is a few stat calls.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${PVE_FABRIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pve-fabric}
if [ "${1:-}" = --no-engine ]; then
  shift
  PVE_FABRIC_SKIP_ENGINE=1 bash "$ROOT/scripts/bootstrap.sh"
  . "$CACHE/env-node.sh"
else
  bash "$ROOT/scripts/bootstrap.sh"
  . "$CACHE/env.sh"
fi
export PATH="$ROOT/node_modules/.bin:$PATH"
exec "$@"
