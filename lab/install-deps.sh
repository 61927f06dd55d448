#!/usr/bin/env bash
# Install the Debian packages the lab runs with, once. Fast (one dpkg-query) when everything is there.
# Non-interactive; `apt-get update` only when something is missing.
#
# Safety: package maintainer scripts must not start daemons in the machine's own namespace (there is no
# systemd here, so invoke-rc.d would run /etc/init.d/{ssh,frr} for real). While installing, a
# policy-rc.d that denies every start is put in place unless the machine already has one, and removed after.
# ifupdown2's postinst only writes files (/etc/network/interfaces with `lo`, inert networking.service
# symlinks); it never runs ifup. It replaces classic `ifupdown`, which could change how a real machine brings
# its network up at boot, so we refuse to do that without an explicit opt-in.
set -euo pipefail
PKGS=(openssh-server openssh-client wireguard-go wireguard-tools frr frr-pythontools nftables ifupdown2
  bridge-utils iproute2 iputils-ping tcpdump procps util-linux)

missing=()
for p in "${PKGS[@]}"; do
  s=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [ "${s:0:2}" = "ii" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

[ "$(id -u)" = 0 ] || { echo "lab/install-deps.sh: missing packages (${missing[*]}); run as root to install them" >&2; exit 1; }
if [[ " ${missing[*]} " == *" ifupdown2 "* ]] && [ "$(dpkg-query -W -f='${db:Status-Abbrev}' ifupdown 2>/dev/null | cut -c1-2)" = ii ] &&
  [ "${LAB_ALLOW_REPLACE_IFUPDOWN:-0}" != 1 ]; then
  echo "lab/install-deps.sh: ifupdown2 would replace the installed 'ifupdown' (this machine's boot-time network" >&2
  echo "  config tool). Refusing. Set LAB_ALLOW_REPLACE_IFUPDOWN=1 to allow it, e.g. on a throwaway CI machine." >&2
  exit 1
fi

echo "lab/install-deps.sh: installing ${missing[*]}" >&2
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# temporary, lab/install-deps.sh: never start services while installing\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
install() { apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold "${missing[@]}" >&2; }
if ! install; then
  apt-get update -q >&2
  install
fi
