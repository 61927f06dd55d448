#!/usr/bin/env bash
# The test command (README): lint and type-check, then every mocha suite under tests/.
# Extra arguments go to mocha (e.g. `npm test -- tests/unit`).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [ $# -eq 0 ]; then
  bash scripts/with-env.sh sh -c 'tsc -p . && eslint . && prettier --check --log-level warn .'
fi
exec bash scripts/with-env.sh mocha "$@"
