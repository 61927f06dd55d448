// The emulator's `vmBackend` for a lab site: a QEMU VM created through the API becomes the site's VM
// stand-in (the network namespace `<lab>-<site>-vm`, see lab/README.md). Starting it plugs NIC n's tap
// (`tap<vmid>i<n>`, the host end of the stand-in's eth<n>) into the bridge `net<n>` names — a vnet bridge
// lives in its zone's namespace (translate.ts) — and configures eth<n> as cloud-init would from
// `ipconfig<n>` (address, default route via `gw`, the MAC from `net<n>`, the bridge's MTU as a VirtIO NIC
// inherits it). Stopping unplugs the taps and clears the guest's addresses.
import type { VmBackend } from "../pve/server";
import { q } from "../host";
import { execOn } from "./realize";

export interface LabVmConfig {
  /** The stand-in's namespace name; visible in the VM host at vmNetnsPath(netns). */
  netns: string;
  /** The vmid the lab created the taps for (tap<vmid>i<n>). */
  vmid: number;
  nics: { name: string; tap: string }[];
  /** The node whose namespaces hold the taps (this process runs there). */
  node: string;
}

export class VmBackendError extends Error {}

/**
 * Where the stand-in's namespace is bound inside its host (lab/lab.ts): not /run/netns, where zebra's
 * netns VRF backend would take it for a VRF.
 */
export const vmNetnsPath = (netns: string) => `/run/lab-vm/${netns}`;

interface NetSpec {
  index: number;
  bridge?: string;
  mac?: string;
  mtu?: string;
}

/** `virtio=BC:24:11:..,bridge=vnet1,firewall=1` → its bridge, MAC and MTU. */
export function parseNet(index: number, value: string): NetSpec {
  const spec: NetSpec = { index };
  for (const part of value.split(",")) {
    const [k, v] = part.split("=", 2);
    if (k === "bridge") spec.bridge = v;
    else if (k === "mtu") spec.mtu = v;
    else if (/^(virtio|e1000|e1000e|rtl8139|vmxnet3)$/.test(k) && v) spec.mac = v;
  }
  return spec;
}

/** `ip=10.1.1.9/24,gw=10.1.1.1[,ip6=…,gw6=…]`; `dhcp` is refused (no DHCP server in the lab). */
export function parseIpconfig(value: string): { ip?: string; gw?: string; ip6?: string; gw6?: string } {
  const out: Record<string, string> = {};
  for (const part of value.split(",")) {
    const [k, v] = part.split("=", 2);
    if (["ip", "gw", "ip6", "gw6"].includes(k) && v) out[k] = v;
  }
  if (out.ip === "dhcp" || out.ip6 === "dhcp" || out.ip6 === "auto")
    throw new VmBackendError(
      `ipconfig '${value}': the lab's VM stand-in has no DHCP/SLAAC. Fix: give ip=<cidr>,gw=<address>`,
    );
  return out;
}

/** The script that plugs and configures the stand-in (run inside the VM host). Pure, for tests. */
export function startScript(vm: LabVmConfig, vmid: number, config: Record<string, string | number>): string {
  const L = ["set -e", `vip() { nsenter --net=${q(vmNetnsPath(vm.netns))} -- ip "$@"; }`];
  for (const nic of vm.nics) {
    const index = Number(/(\d+)$/.exec(nic.name)![1]);
    const raw = config[`net${index}`];
    const tap = nic.tap;
    const eth = nic.name;
    if (raw === undefined) {
      L.push(`vip link set ${eth} down`);
      continue;
    }
    const net = parseNet(index, String(raw));
    const ipc =
      config[`ipconfig${index}`] !== undefined ? parseIpconfig(String(config[`ipconfig${index}`])) : {};
    if (!net.bridge) throw new VmBackendError(`VM ${vmid}: net${index} '${raw}' has no bridge`);
    // The bridge is in the node (vmbr0) or in the namespace of the zone whose vnet it is.
    L.push(
      `ns=-; for p in /run/netns/vrf_*; do [ -e "$p" ] || continue; ` +
        `if ip -n "\${p##*/}" link show ${q(net.bridge)} >/dev/null 2>&1; then ns=\${p##*/}; fi; done`,
      // Where the tap is now (the node, or a zone namespace from an earlier start).
      `cur=-; for p in /run/netns/vrf_*; do [ -e "$p" ] || continue; ` +
        `if ip -n "\${p##*/}" link show ${tap} >/dev/null 2>&1; then cur=\${p##*/}; fi; done`,
      `if [ "$cur" != "$ns" ]; then if [ "$cur" = - ]; then ip link set ${tap} netns "$ns"; ` +
        `elif [ "$ns" = - ]; then ip -n "$cur" link set ${tap} netns 1; else ip -n "$cur" link set ${tap} netns "$ns"; fi; fi`,
      `I() { if [ "$ns" = - ]; then ip "$@"; else ip -n "$ns" "$@"; fi; }`,
      `I link show ${q(net.bridge)} >/dev/null 2>&1 || { echo "bridge '${net.bridge}' does not exist" >&2; exit 1; }`,
      // A VirtIO NIC without mtu (or mtu=1) takes the bridge's MTU (qm.adoc).
      `mtu=${net.mtu && net.mtu !== "1" ? q(net.mtu) : `$(I -o link show ${q(net.bridge)} | sed -E 's/.* mtu ([0-9]+) .*/\\1/')`}`,
      `I link set ${tap} master ${q(net.bridge)} mtu "$mtu" up`,
      `vip link set ${eth} down`,
      ...(net.mac ? [`vip link set ${eth} address ${q(net.mac)}`] : []),
      `vip link set ${eth} mtu "$mtu" up`,
      `vip addr flush dev ${eth} scope global`,
      ...(ipc.ip ? [`vip addr add ${q(ipc.ip)} dev ${eth}`] : []),
      ...(ipc.ip6 ? [`vip -6 addr add ${q(ipc.ip6)} dev ${eth} nodad`] : []),
      ...(ipc.gw ? [`vip route replace default via ${q(ipc.gw)} dev ${eth}`] : []),
      ...(ipc.gw6 ? [`vip -6 route replace default via ${q(ipc.gw6)} dev ${eth}`] : []),
    );
  }
  return L.join("\n") + "\n";
}

export function stopScript(vm: LabVmConfig): string {
  const L = ["set -e", `vip() { nsenter --net=${q(vmNetnsPath(vm.netns))} -- ip "$@"; }`];
  for (const nic of vm.nics) {
    L.push(
      `for p in /run/netns/vrf_*; do [ -e "$p" ] || continue; ` +
        `if ip -n "\${p##*/}" link show ${nic.tap} >/dev/null 2>&1; then ip -n "\${p##*/}" link set ${nic.tap} netns 1; fi; done`,
      `ip link set ${nic.tap} nomaster 2>/dev/null || true`,
      `vip addr flush dev ${nic.name} scope global`,
      `vip link set ${nic.name} down`,
    );
  }
  return L.join("\n") + "\n";
}

export function labVmBackend(vm: LabVmConfig): VmBackend {
  let owner: number | undefined;
  const check = (node: string, vmid: number) => {
    if (node !== vm.node)
      throw new VmBackendError(
        `the lab's VM stand-in of this site lives on node '${vm.node}', not '${node}'`,
      );
    if (owner !== undefined && owner !== vmid)
      throw new VmBackendError(
        `the lab has one VM stand-in per site and VM ${owner} uses it. Fix: destroy VM ${owner} first`,
      );
  };
  const run = async (script: string) => {
    const r = await execOn({ name: vm.node }, script);
    if (r.code !== 0) throw new VmBackendError(r.stderr.trim() || `exit ${r.code}`);
  };
  return {
    create: async (node, vmid) => {
      check(node, vmid);
      owner = vmid;
    },
    start: async (node, vmid, config) => {
      check(node, vmid);
      owner = vmid;
      await run(startScript(vm, vmid, config));
    },
    stop: async (node, vmid) => {
      check(node, vmid);
      await run(stopScript(vm));
    },
    destroy: async (node, vmid) => {
      check(node, vmid);
      await run(stopScript(vm));
      owner = undefined;
    },
  };
}
