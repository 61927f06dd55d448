#!/usr/bin/env bash
# `npm run pulumi -- <args>`: the provisioned (or your own) Pulumi CLI with the offline environment.
# Without a backend of your own, state goes to a local file backend in .state/ (git-ignored), encrypted
# with a passphrase generated once into .state/passphrase (mode 600).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  export PULUMI_BACKEND_URL="file://$ROOT/.state"
  mkdir -p "$ROOT/.state"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    pass="$ROOT/.state/passphrase"
    [ -s "$pass" ] || (umask 077 && head -c 32 /dev/urandom | base64 >"$pass")
    export PULUMI_CONFIG_PASSPHRASE_FILE="$pass"
  fi
fi
cd "$ROOT"

exec bash scripts/with-env.sh pulumi "$@"
