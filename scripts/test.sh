#!/usr/bin/env bash
# The test command (README): lint and type-check, then every mocha suite under tests/.
# Extra arguments go to mocha (e.g. `npm test -- tests/unit`).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# System packages the lab and the emulator tests need (real sshd, FRR, wireguard-go, ...): idempotent installers.
for deps in lab/install-deps.sh lab/pve/install-deps.sh; do
  if [ -f "$deps" ]; then bash "$deps"; fi
done
if [ $# -eq 0 ]; then
  npm run -s lint
fi
# The suites live here, not in .mocharc.json: mocha adds config specs to the files given on the command line.
if [ $# -eq 0 ]; then set -- 'tests/**/*.test.ts'; fi
exec bash scripts/with-env.sh mocha "$@"
