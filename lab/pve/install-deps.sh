#!/usr/bin/env bash
# Installs the independent API client used by tests/emulator/proxmoxer.test.ts: Debian's python3-proxmoxer
# (+ requests). Idempotent: does nothing when /usr/bin/python3 can already import both.
set -euo pipefail
if /usr/bin/python3 -c 'import proxmoxer, requests' 2>/dev/null; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3-proxmoxer python3-requests >/dev/null
/usr/bin/python3 -c 'import proxmoxer, requests'
