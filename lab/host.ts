// What a lab host is made of, as text: the files it starts with and the script that builds its private
// file system view. Pure functions (exact-output tests in tests/lab/host.test.ts); lab.ts runs them.
import type { HostPlan, LabPlan, SitePlan } from "./plan";

/** POSIX shell single-quoting. */
export function q(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'"'"'`)}'`;
}

/** Where a host's private layers live (outside view), under the lab's tmpfs. */
export function hostDir(runDir: string, host: HostPlan): string {
  return `${runDir}/hosts/${host.site}-${host.name}`;
}

/**
 * /etc/network/interfaces as a Proxmox installer writes it (vmbr0 carries the node address, the NIC is its
 * port), so `ifreload -a` by the product finds the running state already described and changes nothing.
 * The condone regex keeps VM taps on vmbr0 across reloads: Proxmox's ifupdown2 does that on its own,
 * Debian's 3.0.0 removes unlisted ports (reference/lab-experiment.md §8, gotcha 4).
 */
export function interfacesFile(site: SitePlan, host: HostPlan): string {
  return [
    "auto lo",
    "iface lo inet loopback",
    "",
    "iface eth0 inet manual",
    "",
    "auto vmbr0",
    "iface vmbr0 inet static",
    `\taddress ${host.address}/24`,
    `\tgateway ${site.gateway}`,
    "\tbridge-ports eth0",
    "\tbridge-stp off",
    "\tbridge-fd 0",
    "\tbridge-ports-condone-regex ^(tap|veth|fwpr|fwln)",
    "",
    "source /etc/network/interfaces.d/*",
    "",
  ].join("\n");
}

/**
 * /etc/hosts: like a PVE node, its own name resolves to its address (pve-cluster insists on that), and every
 * other lab host is reachable by name too (`<node>.<site>.lab`), so WireGuard endpoints can be DNS names.
 */
export function hostsFile(plan: LabPlan, self: HostPlan): string {
  const lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"];
  for (const s of plan.sites) {
    for (const h of s.hosts) {
      const names = [`${h.name}.${h.site}.lab`, ...(h === self ? [h.name] : []), ...h.aliases].join(" ");
      lines.push(`${h.address} ${names}`);
    }
  }
  return lines.join("\n") + "\n";
}

export const SSHD_CONFIG = [
  "# lab: key-only root login, like a Proxmox node after `ssh-copy-id`",
  "HostKey /etc/ssh/ssh_host_ed25519_key",
  "PermitRootLogin prohibit-password",
  "PasswordAuthentication no",
  "KbdInteractiveAuthentication no",
  "UseDNS no",
  "",
].join("\n");

// PID 1 of a host's PID namespace: reaps orphans (daemons double-fork and are re-parented to it) and
// keeps the namespaces alive. Killing it makes the kernel kill every process of the host.
const REAPER = [
  "import os, time",
  "while True:",
  "    try:",
  "        os.wait()",
  "    except ChildProcessError:",
  "        time.sleep(0.5)",
].join("\n");

export interface HostSetupInput {
  plan: LabPlan;
  site: SitePlan;
  host: HostPlan;
  dir: string; // hostDir()
  systemctl: string; // the shim, outside path
  operatorPublicKey: string;
}

/** Files written into the host's /etc and /root upper layers before the host starts. */
export function hostFiles(i: HostSetupInput): Record<string, { mode: number; content: string }> {
  return {
    "etc.upper/hostname": { mode: 0o644, content: `${i.host.name}\n` },
    "etc.upper/hosts": { mode: 0o644, content: hostsFile(i.plan, i.host) },
    "etc.upper/network/interfaces": { mode: 0o644, content: interfacesFile(i.site, i.host) },
    "etc.upper/ssh/sshd_config.d/lab.conf": { mode: 0o644, content: SSHD_CONFIG },
    "root.upper/.ssh/authorized_keys": { mode: 0o600, content: `${i.operatorPublicKey.trim()}\n` },
  };
}

/**
 * The script that PID 1 of a new host runs (inside the host's network namespace, in fresh mount, UTS and
 * PID namespaces) before it becomes the reaper. Prints "ready" when sshd listens.
 */
export function hostSetupScript(i: HostSetupInput): string {
  const d = q(i.dir);
  return [
    "set -eu",
    // The new mount namespace copied every nsfs mount of the machine (ip netns files of this and other
    // labs). Holding them would keep those namespaces alive after their owner deletes them.
    'findmnt -rn -t nsfs -o TARGET | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done',
    `hostname ${q(i.host.name)}`,
    // sysfs shows the interfaces of the network namespace that mounts it.
    "mount -t sysfs sysfs /sys",
    // Global (not per-netns) sysctls are read-only here: a product writing kernel.*/vm.*/fs.* would
    // otherwise change the whole machine. net.* stays writable and private to the host.
    "for k in kernel vm fs dev user abi debug; do [ -d /proc/sys/$k ] || continue; " +
      "mount --bind /proc/sys/$k /proc/sys/$k; mount -o remount,bind,ro /proc/sys/$k; done",
    `mount --bind ${q(i.systemctl)} /usr/bin/systemctl`,
    `mount -t overlay overlay -o lowerdir=/etc,upperdir=${d}/etc.upper,workdir=${d}/etc.work /etc`,
    `mount -t overlay overlay -o lowerdir=/root,upperdir=${d}/root.upper,workdir=${d}/root.work /root`,
    `mount --bind ${d}/run /run`,
    `mount --bind ${d}/log /var/log`,
    `mount --bind ${d}/vartmp /var/tmp`,
    "mkdir -p /run/sshd /run/frr /run/wireguard /run/network /run/lock /run/netns /var/log/frr",
    "chmod 755 /run/sshd",
    "chown frr:frr /run/frr /var/log/frr",
    // `sysctl --system` must only apply net.* keys: keep the distro's and the machine's drop-ins, minus
    // their global keys (same-name files in /etc/sysctl.d shadow /usr/lib/sysctl.d).
    "for f in /usr/lib/sysctl.d/*.conf /etc/sysctl.d/*.conf /etc/sysctl.conf; do",
    '  [ -f "$f" ] || continue',
    "  grep -Eq '^[[:space:]]*-?(kernel|vm|fs|dev|user|abi|debug)\\.' \"$f\" || continue",
    '  n=/etc/sysctl.d/$(basename "$f"); [ "$f" = /etc/sysctl.conf ] && n=/etc/sysctl.conf',
    '  t=$(mktemp); { echo "# lab: global keys removed from $f (they would change the whole machine)";',
    '    grep -Ev \'^[[:space:]]*-?(kernel|vm|fs|dev|user|abi|debug)\\.\' "$f"; } >"$t"; mv "$t" "$n"; chmod 644 "$n"',
    "done",
    // A fresh node: FRR installed but neither enabled nor running (the package enabled it on the machine).
    "rm -f /etc/systemd/system/multi-user.target.wants/frr.service",
    // zebra with the netns VRF backend: the lab's zone VRFs are namespaces (lab/realize/translate.ts). Set
    // now so that the first SDN apply need not restart an FRR the product has started.
    "grep -Eq '^zebra_options=.*[[:space:]]-n[[:space:]\"]' /etc/frr/daemons || " +
      'sed -i -E \'s/^(zebra_options="[^"]*)"/\\1 -n"/\' /etc/frr/daemons',
    // A host key of its own.
    "rm -f /etc/ssh/ssh_host_*",
    `ssh-keygen -q -t ed25519 -N '' -C ${q(`root@${i.host.name}`)} -f /etc/ssh/ssh_host_ed25519_key`,
    "chmod 700 /root/.ssh",
    "systemctl start ssh",
    "echo ready",
    `exec /usr/bin/python3 -c ${q(REAPER)}`,
    "",
  ].join("\n");
}
