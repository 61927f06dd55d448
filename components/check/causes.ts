// Every finding of the check carries a typed cause: what was measured, as data (`{ cause: "wrong-vtep",
// tunnel, locals }`). One table (CAUSES) turns a cause into the text people read: the measured detail, and for
// a failure the broken layer, its likely cause and the fix. Nothing here parses text back: the evaluation
// (evaluate.ts) decides the cause, the table only renders it (STYLE, "classify once").
//
// Adding a check: a Cause variant here, its row in CAUSES (the compiler insists), the finding in evaluate.ts,
// and its exact text in tests/unit/components-check.test.ts ("renders every cause").
import type { PingReply } from "./parsers";

/** A node a route leads to: a fabric node when the address is one, else just the address. */
export interface Hop {
  ip: string;
  site?: string;
  node?: string;
}

/** A VXLAN device and the local (VTEP) address it uses. */
export interface VxlanLocal {
  device: string;
  local: string;
}

/** What a ping printed (parsers.ts parsePing); undefined in a cause when the probe did not run it. */
export type Reply = PingReply;

/**
 * What this site's firewall read from PVE says about cross-site forwarding, for the overlay diagnosis:
 * "in-place" when the FORWARD rules were read and pass (a dead overlay then points at the other site).
 */
export type Forwarding =
  { rules: "in-place" } | { rules: "unproven"; group: string; omitted: string[]; nftables: boolean };

export type Cause =
  // firewall (read from PVE)
  | { cause: "firewall-off" }
  | { cause: "firewall-unread"; error: string }
  | { cause: "nftables-backend" }
  | { cause: "iptables-backend" }
  | { cause: "forward-accepted"; from: string; to: string }
  | { cause: "forward-missing"; from: string; to: string; group: string; omitted: string[] }
  // a node as a whole
  | { cause: "host-unreachable"; error: string }
  | { cause: "sysctl"; key: string; got?: string; want: string }
  | { cause: "vtep-ok"; tunnel: string; devices: string[] }
  | { cause: "vtep-pending"; reason: string }
  | { cause: "no-vxlan" }
  /** The node's VXLANs use another local address than its tunnel address; `missing`: the remote VTEP row. */
  | { cause: "wrong-vtep"; tunnel: string; locals: VxlanLocal[]; missing?: { vtep: string; known: string[] } }
  | { cause: "egress-own"; via: Hop[] }
  | { cause: "no-default-route" }
  | { cause: "foreign-exit"; node: string; via: Hop[]; foreign: Hop[] }
  // a node towards one peer
  | { cause: "peer-pending"; reason: string }
  | { cause: "peer-not-configured" }
  | { cause: "no-handshake" }
  | { cause: "handshake"; ageSeconds?: number; maxAgeSeconds: number }
  | { cause: "bgp"; neighbour: string; state?: string }
  | { cause: "vtep-in-fdb"; vtep: string }
  | { cause: "vtep-not-in-fdb"; vtep: string; known: string[] }
  | { cause: "rmac-unused"; vtep: string }
  | { cause: "rmac-installed"; vtep: string; macs: string[] }
  /** zebra routes via the VTEP with these router MACs but lost them; `frr`: the version read on the node. */
  | { cause: "rmac-missing"; vtep: string; macs: string[]; frr?: string }
  | { cause: "rmac-not-in-fdb"; vtep: string; macs: string[]; zone: string; frr?: string }
  // the sdntest VM
  | { cause: "vm-skipped" }
  | { cause: "vm-unreachable"; error: string }
  | { cause: "target-pending"; reason: string }
  | { cause: "overlay-ping"; site: string; address: string; reply?: Reply; forwarding: Forwarding }
  | { cause: "outside-ping"; address: string; reply?: Reply }
  | { cause: "mtu-fit"; mtu: number; address: string; reply?: Reply }
  | { cause: "mtu-over"; mtu: number; address: string; reply?: Reply };

export type CauseName = Cause["cause"];
type Of<K extends CauseName> = Extract<Cause, { cause: K }>;

interface Row<C> {
  /** What was measured. */
  detail(c: C): string;
  /** For a failure: the broken layer, its likely cause and the fix. Absent: the cause never fails. */
  diagnosis?(c: C): string;
}

const hop = (h: Hop) => (h.site ? `${h.site}/${h.node} (${h.ip})` : h.ip);
const hops = (hs: Hop[]) => hs.map(hop).join(", ");
const locals = (ls: VxlanLocal[]) => ls.map((l) => `${l.device}=${l.local}`).join(", ");
const reply = (r?: Reply) =>
  r
    ? [r.replied ? "replied" : "no reply", r.loss ? `${r.loss} loss` : "", r.error ?? ""]
        .filter(Boolean)
        .join(", ")
    : "not run";
/** The rules that carry cross-site forwarding (fabricRules keys): named when left out on purpose. */
const forwardRules = (omitted: string[]) => omitted.filter((k) => /^(fwd|vnet)-/.test(k));

const HANDSHAKE =
  "underlay: WireGuard has no recent handshake; UDP to the peer's endpoint is blocked (firewall group rule " +
  "wg-in, NAT, the endpoint's DNS name) or the peer has a different key for this node; compare `wg show` on both";

/** One cause for a wrong local VTEP, whether the vtep row or a remote VXLAN row found it. */
const WRONG_VTEP =
  "vxlan: this node's VXLAN devices use the uplink address, not the tunnel address, as their VTEP, so the other " +
  "nodes send to an address they cannot reach. PVE picks it on apply with `ip route get <first controller peer>`, " +
  "and the apply ran before the tunnel routed there (a first bootstrap run, that peer's key not known yet). " +
  "`pulumi up` re-applies once the tunnel routes to it; by hand: Datacenter > SDN > Apply";

// --- FRR's router-MAC bugs, by version ---------------------------------------------------------------------
// Facts from FRR's history (FRRouting/frr, read at the tags):
// - frr#16340: withdrawing the last EVPN route of one address family from a VTEP made zebra drop that VTEP's
//   router MAC while the other family's routes still used it. Fixed for most cases by frr#16341 (commit
//   f883c711, first in frr-10.2); the case where the family zebra learned first is withdrawn stayed broken
//   until frr#18677 (commit 0c14dd3a, first in frr-10.4.0; not on stable/10.3). PVE 9 ships 10.3.1 and 10.4.1.
// - frr#20588: zebra keeps stale or loses router MACs when a remote VTEP's router MAC or IP changes (merged
//   for frr-10.7.0).
// 'below' is the first release that no longer has the bug; the first row that matches the version applies.

const FRR_ROUTER_MAC_BUGS: { below: [number, number]; bug: string; lasting: string }[] = [
  {
    below: [10, 2],
    bug:
      "FRRouting/frr#16340: withdrawing a VTEP's EVPN routes of one address family (IPv4 or IPv6, e.g. default " +
      "routes from several exit nodes) drops the router MAC the other family still uses",
    lasting:
      "FRR 10.4 or later (PVE 9 ships 10.4.1), or no default routes reaching non-exit nodes from other sites",
  },
  {
    below: [10, 4],
    bug:
      "FRRouting/frr#16340 as far as FRR fixed it before 10.4: withdrawing a VTEP's EVPN routes of the address " +
      "family zebra learned first still drops the router MAC the other family uses (completed by " +
      "FRRouting/frr#18677 in FRR 10.4)",
    lasting:
      "FRR 10.4 or later (PVE 9 ships 10.4.1), or no default routes reaching non-exit nodes from other sites",
  },
  {
    below: [10, 7],
    bug:
      "FRRouting/frr#20588: zebra keeps a stale router MAC, or loses the current one, when a remote VTEP's router " +
      "MAC or IP changes (a node re-created, renumbered or its bridge MAC changed)",
    lasting: "FRR 10.7 or later",
  },
];

function versionBelow(version: string, below: [number, number]): boolean {
  const [major, minor] = version.split(/[.-]/).map(Number);
  return major < below[0] || (major === below[0] && minor < below[1]);
}

/** The FRR bug that explains a lost router MAC on a node running `frr` (undefined: the version was not read). */
export function frrRouterMacBug(frr?: string): string {
  if (frr === undefined)
    return (
      "the FRR version could not be read on this node (`vtysh -c 'show version'`); FRR before 10.4 has " +
      "FRRouting/frr#16340 (a VTEP's routes of one address family withdrawn), before 10.7 FRRouting/frr#20588 " +
      "(a remote VTEP's router MAC or IP changed). Lasting fix: FRR 10.7 or later"
    );
  const known = FRR_ROUTER_MAC_BUGS.find((b) => versionBelow(frr, b.below));
  if (!known)
    return (
      `FRR ${frr} on this node has the fixes for FRRouting/frr#16340 and FRRouting/frr#20588, so this is no known ` +
      "FRR bug: keep the output of `vtysh -c 'show evpn next-hops vni all'` and `vtysh -c 'show evpn rmac vni all'` " +
      "and report it to FRR"
    );
  return `FRR ${frr} on this node has ${known.bug}. Lasting fix: ${known.lasting}`;
}

const routerMacLost = (c: { vtep: string; frr?: string }) =>
  "vxlan: routed traffic to that site dies on this node's zone VXLAN device because zebra lost the site's router " +
  `MAC while routes still use it. Repair: \`vtysh -c 'clear bgp l2vpn evpn ${c.vtep}'\` on this node. Why: ` +
  frrRouterMacBug(c.frr);

/** The one table: every cause's text. */
export const CAUSES: { [K in CauseName]: Row<Of<K>> } = {
  "firewall-off": { detail: () => "cluster firewall off: nothing filtered" },
  "firewall-unread": {
    detail: (c) => `cannot read the PVE firewall: ${c.error}`,
    diagnosis: () =>
      "firewall: the API did not answer; check api.endpoint, the token and its Sys.Audit privilege",
  },
  "nftables-backend": { detail: () => "nftables" },
  "iptables-backend": {
    detail: () => "iptables backend: forward and vnet rules are ignored",
    diagnosis: () =>
      "firewall: the node runs the iptables backend, which ignores FORWARD and vnet rules; set firewall.nftables: " +
      "true (node option nftables=1) and `pulumi up`",
  },
  "forward-accepted": { detail: () => "an enabled FORWARD ACCEPT rule" },
  "forward-missing": {
    detail: () => "no enabled FORWARD ACCEPT rule in the cluster rules or their groups",
    diagnosis: (c) => {
      const left = forwardRules(c.omitted);
      return (
        `firewall: ${c.from}->${c.to} is not accepted in FORWARD, so cross-site traffic dies on this site's nodes` +
        (left.length
          ? `: the rule(s) ${left.join(", ")} of security group ${c.group} are left out of the config ` +
            "(pve-fabric-site:firewall.omitRules); put them back"
          : `: the fabric's rules fwd-in/fwd-out of security group ${c.group} were deleted or disabled in PVE; ` +
            "`pulumi up` restores them")
      );
    },
  },
  "host-unreachable": {
    detail: (c) => `host unreachable: ${c.error}`,
    diagnosis: () => "underlay: the node does not answer SSH; check its address, host key and credentials",
  },
  sysctl: {
    detail: (c) =>
      c.got === undefined ? `missing, want ${c.want}` : c.got === c.want ? c.got : `${c.got}, want ${c.want}`,
    diagnosis: (c) =>
      `host: ${c.key} is ${CAUSES.sysctl.detail(c)}; something reset it (the iptables firewall backend sets ` +
      "rp_filter=2); `pulumi up` restores it, `firewall.nftables: true` stops the reset",
  },
  "vtep-ok": { detail: (c) => `${c.tunnel} on ${c.devices.join(", ")}` },
  "vtep-pending": { detail: (c) => c.reason },
  "no-vxlan": {
    detail: () => "no VXLAN devices on the node",
    diagnosis: () =>
      "vxlan: the SDN config is not realised on this node: read its SDN status in PVE (per-node apply status), " +
      "then `pulumi up` (the apply checks every node)",
  },
  "wrong-vtep": {
    detail: (c) =>
      c.missing
        ? `VTEP ${c.missing.vtep} not in the FDB (${c.missing.known.join(", ") || "no remote VTEPs"}); ` +
          `local VTEP ${locals(c.locals)} is not the tunnel address`
        : `${locals(c.locals)}: not the tunnel address ${c.tunnel}`,
    diagnosis: () => WRONG_VTEP,
  },
  "egress-own": { detail: (c) => `default route via ${hops(c.via)}` },
  "no-default-route": {
    detail: () => "no EVPN default route in the zone: no exit node of this site announces one",
    diagnosis: () =>
      "snat: this non-exit node has no way out: mark a node of this site `exitNode: true` and `pulumi up`",
  },
  "foreign-exit": {
    detail: (c) => `default route via ${hops(c.via)}: ${hops(c.foreign)} is another site's exit`,
    diagnosis: (c) =>
      `snat: ${c.node} is not an exit node, so it takes every site's EVPN default route (ECMP) and sends part of ` +
      "its VMs' outside traffic to another site, whose SNAT covers only that site's subnets: those flows are lost. " +
      "Fix: make it an exit node (`exitNode: true` in fabric.yaml) and `pulumi up`; PVE then ignores other sites' " +
      "default routes on it and it SNATs itself",
  },
  "peer-pending": { detail: (c) => c.reason },
  "peer-not-configured": {
    detail: () => "peer not configured on the interface",
    diagnosis: () =>
      "underlay: the peer is missing from the WireGuard interface; run `pulumi up` for this site",
  },
  "no-handshake": { detail: () => "no handshake yet", diagnosis: () => HANDSHAKE },
  handshake: {
    detail: (c) => `handshake ${c.ageSeconds} s ago (max ${c.maxAgeSeconds} s)`,
    diagnosis: () => HANDSHAKE,
  },
  bgp: {
    detail: (c) => (c.state ? `BGP ${c.neighbour} ${c.state}` : `no BGP EVPN neighbour ${c.neighbour}`),
    diagnosis: () =>
      "control-plane: the BGP EVPN session is not Established; TCP 179 over the tunnel is blocked (cluster rule " +
      "bgp-in on the WireGuard interface), FRR/bgpd is not running, or the other site's controller does not list " +
      "this node in its peers (run `pulumi up` there)",
  },
  "vtep-in-fdb": { detail: (c) => `VTEP ${c.vtep} in the FDB` },
  "vtep-not-in-fdb": {
    detail: (c) => `VTEP ${c.vtep} not in the FDB (${c.known.join(", ") || "no remote VTEPs"})`,
    diagnosis: () =>
      "vxlan: the remote VTEP is missing from the FDB although BGP is up; the SDN config was not applied on this " +
      "node (SdnApply, per-node status), or the vnet's VNI differs between the sites",
  },
  "rmac-unused": { detail: (c) => `no routes via VTEP ${c.vtep}` },
  "rmac-installed": { detail: (c) => `router MAC ${c.macs.join(", ")} via VTEP ${c.vtep}` },
  "rmac-missing": {
    detail: (c) =>
      `zebra routes via VTEP ${c.vtep} with router MAC ${c.macs.join(", ")} but has no router-MAC entry for it`,
    diagnosis: routerMacLost,
  },
  "rmac-not-in-fdb": {
    detail: (c) => `router MAC ${c.macs.join(", ")} of VTEP ${c.vtep} is not in the FDB of vrfvx_${c.zone}`,
    diagnosis: routerMacLost,
  },
  "vm-skipped": { detail: () => "no sdntest probe configured" },
  "vm-unreachable": {
    detail: (c) => `sdntest unreachable: ${c.error}`,
    diagnosis: () =>
      "not measured: the check cannot run its pings in the sdntest VM; check pve-fabric-site:sdntest.probe " +
      "(address, host key, the key in its environment variable) and that the VM is running",
  },
  "target-pending": { detail: (c) => c.reason },
  "overlay-ping": {
    detail: (c) => `ping ${c.address}: ${reply(c.reply)}`,
    diagnosis: (c) => {
      const f = c.forwarding;
      if (f.rules === "in-place")
        return (
          `overlay: the tunnel, BGP, VXLAN and this site's FORWARD rules are in place but sdntest gets no answer ` +
          `from ${c.site}: read ${c.site}'s check table (its FORWARD rules for traffic from here, ` +
          `ip_forward/rp_filter on its exit node), then the ${c.site} sdntest's own firewall`
        );
      const left = forwardRules(f.omitted);
      const named = left.length
        ? `the FORWARD rule(s) ${left.join(", ")} of security group ${f.group} are left out of the config ` +
          "(pve-fabric-site:firewall.omitRules); put them back"
        : `the FORWARD rules of security group ${f.group} (fwd-in/fwd-out: +sdn/<vnet>-all <-> the remote ` +
          `subnets) are missing or disabled in PVE${f.nftables ? "" : ", or the nftables backend is off (forward rules need it)"}`;
      return (
        "firewall: the tunnel, BGP and VXLAN are up but sdntest gets no answer across sites, so packets die in " +
        `forwarding: ${named}; otherwise the remote sdntest's own firewall, or ip_forward/rp_filter on an exit node`
      );
    },
  },
  "outside-ping": {
    detail: (c) => `ping ${c.address}: ${reply(c.reply)}`,
    diagnosis: () =>
      "snat: sdntest reaches the other site but not the outside: the subnet has snat off, the exit node's SNAT " +
      "rule is missing (PVE adds it on apply), the FORWARD rule fwd-snat (vnet -> anywhere) is missing, or " +
      "exitnodes-local-routing is on (conntrack trap)",
  },
  "mtu-fit": {
    detail: (c) => `DF ${c.mtu} bytes to ${c.address}: ${reply(c.reply)}`,
    diagnosis: (c) =>
      `mtu: a ${c.mtu}-byte packet does not fit: the underlay MTU is smaller than fabric.yaml says ` +
      "(mtu.underlay), or something on the path adds overhead; lower mtu.underlay",
  },
  "mtu-over": {
    detail: (c) => `DF ${c.mtu + 1} bytes to ${c.address}: ${reply(c.reply)}`,
    diagnosis: (c) =>
      `mtu: a ${c.mtu + 1}-byte DF packet got through, so the guest MTU exceeds the zone MTU ` +
      "and large packets will be fragmented or dropped elsewhere; set the zone/vnet MTU (mtu.overlay)",
  },
};

/** The row of a cause, typed for it. */
export function rowOf<C extends Cause>(c: C): Row<C> {
  return CAUSES[c.cause] as unknown as Row<C>;
}
