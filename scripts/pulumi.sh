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

# The engine reads Pulumi.<stack>.yaml before the program runs, and its message for a YAML error names
# neither the file nor, always, the right line ("yaml: line 1: did not find expected ',' or ']'"). So when a
# stack is named, our reader looks at that file first (1-2 s) and names file, line, column and key. (The
# program reads fabric.yaml with the same reader.)
stack=""
prev=""
for a in "$@"; do
  case "$prev" in -s | --stack) stack=$a ;; esac
  case "$a" in --stack=*) stack=${a#--stack=} ;; esac
  prev=$a
done
if [ -n "$stack" ] && [ -f "Pulumi.$stack.yaml" ]; then
  bash scripts/with-env.sh --no-engine ts-node --transpile-only scripts/check-config.ts \
    --stack "$stack" --syntax-only || exit 1
fi

exec bash scripts/with-env.sh pulumi "$@"
