#!/usr/bin/env bash
# The main job (`npm start`): bring the lab up, write the lab stack configs, run the real engine
# (`pulumi up`) for every site, print the fabric check table, leave the lab running (lab/main.ts).
# `npm run lab -- down` removes the lab.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/with-env.sh ts-node --transpile-only lab/cli.ts "$@"
