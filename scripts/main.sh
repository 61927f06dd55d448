#!/usr/bin/env bash
# The main job (`npm start`). Until the lab and the program land (issues 4 and 9) it is the engine smoke run:
# the real Pulumi engine through preview, up, no-op up, update, drift and destroy of tests/e2e/smoke.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/with-env.sh ts-node --transpile-only scripts/smoke.ts
