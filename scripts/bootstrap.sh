#!/usr/bin/env bash
# Provision everything the project runs with, idempotently, into a cache outside the repo:
#   Node 22 (npm registry), node_modules (npm ci), and the real Pulumi engine (Go module proxy).
# Writes $CACHE/env.sh, which scripts/with-env.sh sources. Re-running with warm caches costs seconds.
# Decisions and versions: docs/adr/001-engine.md.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/versions.sh"
CACHE=${PVE_FABRIC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pve-fabric}
mkdir -p "$CACHE"
# One bootstrap at a time per cache: parallel test runs must not race two Go builds into the same place.
exec 9>"$CACHE/.lock"
flock 9
log() { printf '[bootstrap] %s\n' "$*" >&2; }
# Status lines only when asked (PVE_FABRIC_VERBOSE=1): a warm bootstrap stays silent.
info() { [ "${PVE_FABRIC_VERBOSE:-0}" = 0 ] || log "$@"; }

# --- Node.js >= 22 ---------------------------------------------------------------------------------
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
NODE_BIN_DIR=""
if [ "$(node_major node)" -lt 22 ]; then
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) log "unsupported CPU $(uname -m)"; exit 1 ;; esac
  NODE_DIR="$CACHE/node-v$NODE_VERSION-$arch"
  if [ ! -x "$NODE_DIR/bin/node" ]; then
    log "system node is $(node --version 2>/dev/null || echo missing); fetching node-linux-$arch@$NODE_VERSION from the npm registry"
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_VERSION" >/dev/null && mkdir x && tar -xzf ./*.tgz -C x)
    rm -rf "$NODE_DIR.partial" && mv "$tmp/x/package" "$NODE_DIR.partial" && mv "$NODE_DIR.partial" "$NODE_DIR"
    rm -rf "$tmp"
  fi
  NODE_BIN_DIR="$NODE_DIR/bin"
  export PATH="$NODE_BIN_DIR:$PATH"
fi
info "node $(node --version)"

# --- npm dependencies --------------------------------------------------------------------------------
lock_sum=$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$ROOT/node_modules/.pve-fabric-lock" 2>/dev/null)" != "$lock_sum" ]; then
  log "npm ci"
  # --ignore-scripts: @pulumi/command's install script would try to download its plugin (offline: wasted time).
  (cd "$ROOT" && npm ci --no-audit --no-fund --ignore-scripts >&2)
  echo "$lock_sum" >"$ROOT/node_modules/.pve-fabric-lock"
fi

# --- Pulumi engine ---------------------------------------------------------------------------------
# Engine-free commands (check-config, render-sdn) stop here: a PR lint must not wait for a cold engine build.
if [ "${PVE_FABRIC_SKIP_ENGINE:-0}" = 1 ]; then
  echo "export PATH=\"${NODE_BIN_DIR:+$NODE_BIN_DIR:}\$PATH\"" >"$CACHE/env-node.sh"
  exit 0
fi
ENGINE="$CACHE/pulumi-v$PULUMI_VERSION"
ambient=$(command -v pulumi || true)
if [ -n "$ambient" ] && [ "${PVE_FABRIC_BUILD_ENGINE:-0}" != 1 ]; then
  # Real users bring their own CLI (with its bundled language host): use it as it is.
  ENGINE_BIN=$(dirname "$(readlink -f "$ambient")")
  info "using the pulumi on PATH: $ambient ($("$ambient" version))"
else
  ENGINE_BIN="$ENGINE/bin"
  stamp="$ENGINE/stamp"
  want="pulumi=$PULUMI_VERSION langhost=$LANGHOST_SDK_VERSION"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ "$("$ENGINE_BIN/pulumi" version 2>/dev/null)" != "v$PULUMI_VERSION" ]; then
    command -v go >/dev/null || { log "no pulumi on PATH and no Go to build one: install Go >= 1.26 or the Pulumi CLI"; exit 1; }
    export GOTOOLCHAIN=local GOFLAGS=-mod=mod
    mkdir -p "$ENGINE/bin" "$ENGINE/src/cli" "$ENGINE/src/host"
    # Go refuses `go install pkg@version` for modules with replace directives (pkg/v3 has them), so each
    # binary is built inside a throwaway wrapper module that copies the upstream non-local replaces.
    copy_replaces() { # $1 = wrapper dir, rest = module@version whose go.mod replaces to copy
      local dir=$1; shift
      for mv in "$@"; do
        gomod=$(go mod download -json "$mv" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).GoMod))')
        go mod edit -json "$gomod" | node -e '
          let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
            for (const r of JSON.parse(s).Replace || []) if (r.New.Version) console.log(`${r.Old.Path}=${r.New.Path}@${r.New.Version}`);
          })' | while read -r rep; do (cd "$dir" && go mod edit -replace "$rep"); done
      done
    }
    ldflags() { echo "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$1"; }

    log "building pulumi v$PULUMI_VERSION from the Go module proxy (cold: ~10 min on 2 cores)"
    cd "$ENGINE/src/cli"
    [ -f go.mod ] || go mod init local/pulumi-cli >&2
    copy_replaces . "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION"
    go get -tool "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" 2>&1 | tail -n 3 >&2
    [ "$(go list -m -f '{{.Version}}' github.com/pulumi/pulumi/sdk/v3)" = "v$PULUMI_VERSION" ] || { log "MVS moved sdk/v3 off v$PULUMI_VERSION"; exit 1; }
    # Flags mirror upstream's release build; the version must be injected or the Automation API refuses the CLI.
    go build -trimpath -tags osusergo,grpcnotrace -ldflags "$(ldflags "$PULUMI_VERSION")" -o "$ENGINE_BIN/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    mv "$ENGINE_BIN/pulumi.tmp" "$ENGINE_BIN/pulumi"

    # The current language host is an untagged nested module; this proxy refuses it (and any commit query):
    # "403 Forbidden: This module version is not available" (ADR 001). The host from sdk/v3 v3.68.0 is the
    # newest one the proxy serves; the 3.274 engine falls back to its older RPCs.
    log "building pulumi-language-nodejs from sdk/v3 v$LANGHOST_SDK_VERSION"
    cd "$ENGINE/src/host"
    [ -f go.mod ] || go mod init local/pulumi-host >&2
    go get -tool "github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs@v$LANGHOST_SDK_VERSION" 2>&1 | tail -n 3 >&2
    go build -trimpath -ldflags "$(ldflags "$LANGHOST_SDK_VERSION")" -o "$ENGINE_BIN/pulumi-language-nodejs.tmp" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
    mv "$ENGINE_BIN/pulumi-language-nodejs.tmp" "$ENGINE_BIN/pulumi-language-nodejs"
    echo "$want" >"$stamp"
    cd "$ROOT"
  fi
  # The dynamic-provider launcher is a bundled plugin: it must sit next to the real pulumi binary.
  install -m 755 "$ROOT/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs" "$ENGINE_BIN/"
  info "engine: $("$ENGINE_BIN/pulumi" version) in $ENGINE_BIN"
fi

# --- run environment -------------------------------------------------------------------------------
cat >"$CACHE/env.sh" <<ENV
# Written by scripts/bootstrap.sh; sourced by scripts/with-env.sh.
export PATH="$ENGINE_BIN${NODE_BIN_DIR:+:$NODE_BIN_DIR}:\$PATH"
export PVE_FABRIC_ENGINE_BIN="$ENGINE_BIN"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_HOME="\${PULUMI_HOME:-$CACHE/pulumi-home}"
ENV
info "ready: $CACHE/env.sh"
