#!/usr/bin/env bash
# Run a command with the provisioned toolchain (Node 22, the Pulumi engine, node_modules/.bin) on PATH.
# Bootstraps first; a warm bootstrap is a few stat calls.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${PVE_FABRIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pve-fabric}
bash "$ROOT/scripts/bootstrap.sh"
. "$CACHE/env.sh"
export PATH="$ROOT/node_modules/.bin:$PATH"
exec "$@"
