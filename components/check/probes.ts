// The read-only commands the check runs: on each node in one probe round (one SSH exec,
// providers/host/ssh.ts probeScript) and inside the sdntest VM. Every value that reaches a command goes
// through providers/host/quote.ts (`sh` quotes each interpolated value); the literal parts are ours.
import { sh } from "../../providers/host/quote";
import type { CheckHost, CheckSpec, CheckTarget } from "./spec";

/** The commands run on one host, by section name (the evaluation reads each section's output). */
export function hostProbe(spec: CheckSpec, host: CheckHost): Record<string, string> {
  const vrfNetns = `vrf_${spec.zone}`;
  return {
    now: "date +%s",
    handshakes: sh`wg show ${host.wgInterface} latest-handshakes`,
    sysctl: sh`sysctl ${Object.keys(spec.sysctls)}`,
    bgp: "vtysh -c 'show bgp l2vpn evpn summary json'",
    // PVE keeps the VXLAN devices in the node (VRF device); a netns-VRF realisation moves them into
    // vrf_<zone>: read both, the device names say which VXLAN an entry belongs to.
    fdb: sh`bridge fdb show; ip netns exec ${vrfNetns} bridge fdb show 2>/dev/null; true`,
    vteps: sh`ip -d -o link show type vxlan; ip netns exec ${vrfNetns} ip -d -o link show type vxlan 2>/dev/null; true`,
    // zebra's view of routed EVPN traffic: next hops (VTEP + router MAC) and the router MACs it installed.
    nexthops: "vtysh -c 'show evpn next-hops vni all json'",
    rmacs: "vtysh -c 'show evpn rmac vni all json'",
    // The router-MAC diagnosis names the FRR bug of this version (causes.ts): read in the same round.
    frr: "vtysh -c 'show version'",
    ...(host.exitNode === false
      ? { egress: sh`vtysh -c ${`show ip route vrf ${vrfNetns} 0.0.0.0/0 json`}` }
      : {}),
  };
}

/** The other sites' sdntest VMs that can be pinged now (published, nothing pending). */
export function readyTargets(spec: CheckSpec): (CheckTarget & { address: string })[] {
  return (spec.sdntest?.targets ?? []).filter(
    (x): x is CheckTarget & { address: string } => !!x.address && !x.pending,
  );
}

/** ICMP payload + 8 (ICMP) + 20 (IPv4) = the packet size on the vnet. */
const ICMP_IPV4_HEADERS = 28;

/** The commands run inside the sdntest VM; ping's exit code is the verdict. */
export function vmProbe(spec: CheckSpec): Record<string, string> {
  const out: Record<string, string> = {};
  const t = spec.sdntest;
  if (!t) return out;
  const ready = readyTargets(spec);
  for (const x of ready) out[`ping-${x.site}`] = sh`ping -n -c 2 -i 0.3 -W 2 ${x.address}`;
  if (t.outside) out.outside = sh`ping -n -c 2 -i 0.3 -W 2 ${t.outside}`;
  const m = ready[0];
  if (m) {
    out["mtu-fit"] = sh`ping -n -M do -c 1 -W 2 -s ${spec.overlayMtu - ICMP_IPV4_HEADERS} ${m.address}`;
    out["mtu-over"] = sh`ping -n -M do -c 1 -W 2 -s ${spec.overlayMtu - ICMP_IPV4_HEADERS + 1} ${m.address}`;
  }
  return out;
}
