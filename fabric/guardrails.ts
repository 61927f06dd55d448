// Cross-field rules over a schema-valid fabric (and, optionally, one site's stack config). Each returns
// every violation it finds; nothing stops at the first.
import {
  cidrContains,
  cidrOf,
  cidrsOverlap,
  cidrText,
  hostCidr,
  lastAddress,
  offset,
  parseIPv4,
  rangeText,
  sameAddress,
  type Cidr,
} from "./net";
import type { Problem } from "./problems";
import type { FabricConfig, StackConfig } from "./schema";

/** IPv4 (80 bytes budgeted for IPv6 outer, what wg-quick assumes) and VXLAN overheads, reference §4. */
export const WIREGUARD_OVERHEAD = 80;
export const VXLAN_OVERHEAD = 50;

export function derivedOverlayMtu(underlay: number): number {
  return underlay - WIREGUARD_OVERHEAD - VXLAN_OVERHEAD;
}

// The guardrails run on schema-valid documents: every address and CIDR below parses.
const cidrAt = (text: string): Cidr => cidrOf(text)!;
const addressAt = (text: string) => parseIPv4(text)!;

interface Range {
  readonly cidr: Cidr;
  readonly path: string;
}

function sitesOf(f: FabricConfig) {
  return Object.entries(f.sites);
}

export function checkSiteCount(f: FabricConfig): Problem[] {
  const n = Object.keys(f.sites).length;
  return n >= 2
    ? []
    : [
        {
          path: "sites",
          value: Object.keys(f.sites),
          rule: `a fabric joins at least 2 sites; found ${n}`,
          fix: "add the other site(s) under sites: (each becomes a stack of the same name)",
        },
      ];
}

export function checkLocalRouting(f: FabricConfig): Problem[] {
  if (!f.zone.exitnodesLocalRouting || f.zone.exitnodesLocalRoutingReason) return [];
  return [
    {
      path: "zone.exitnodesLocalRouting",
      value: true,
      rule:
        "exitnodes-local-routing=1 is refused: PVE then routes replies for the exit node through the xvrf_<zone>/" +
        "xvrfp_<zone> veth pair, so return traffic crosses conntrack twice in one namespace. The second pass " +
        "does not match the SNAT entry: replies reach the VM with rewritten (random) source ports and the VM " +
        "answers with resets, or an INVALID-drop rule kills the handshake. It also removes remote-site routes " +
        "from the exit node's main table (reference pve-sdn-realization.md §2.7; the seed lost days to it)",
      fix:
        "set zone.exitnodesLocalRouting: false (the default). If you must have it, also set " +
        "zone.exitnodesLocalRoutingReason: <why> to accept the risk explicitly",
    },
  ];
}

export function checkMtu(f: FabricConfig): Problem[] {
  const max = derivedOverlayMtu(f.mtu.underlay);
  const problems: Problem[] = [];
  if (f.mtu.overlay !== undefined && f.mtu.overlay > max) {
    problems.push({
      path: "mtu.overlay",
      value: f.mtu.overlay,
      rule:
        `an overlay MTU of ${f.mtu.overlay} does not fit an underlay of ${f.mtu.underlay}: ` +
        `${f.mtu.underlay} - ${WIREGUARD_OVERHEAD} (WireGuard) - ${VXLAN_OVERHEAD} (VXLAN) = ${max}; ` +
        "bigger frames are fragmented before WireGuard or dropped silently by the vnet bridge",
      fix: `remove mtu.overlay to use ${max}, or set it to at most ${max}`,
    });
  }
  if (max < 576) {
    problems.push({
      path: "mtu.underlay",
      value: f.mtu.underlay,
      rule: `leaves an overlay MTU of ${max}, below the IPv4 minimum of 576`,
      fix: "set mtu.underlay to the real MTU of the uplink (usually 1500)",
    });
  }
  return problems;
}

export function checkVnis(f: FabricConfig): Problem[] {
  const problems: Problem[] = [];
  const seen = new Map<number, string>();
  for (const [id, v] of Object.entries(f.vnets)) {
    if (v.vni === f.zone.vrfVxlan) {
      problems.push({
        path: `vnets.${id}.vni`,
        value: v.vni,
        rule: `VNI ${v.vni} is the zone's vrf-vxlan (L3VNI); a vnet's VNI must differ from it (PVE docs) or the L2 and L3 VNIs collide`,
        fix: `pick another VNI for vnet ${id}, e.g. ${f.zone.vrfVxlan + 1}`,
      });
    }
    const other = seen.get(v.vni);
    if (other !== undefined) {
      problems.push({
        path: `vnets.${id}.vni`,
        value: v.vni,
        rule: `VNI ${v.vni} is already used by vnet ${other}; PVE refuses duplicate vxlan tags`,
        fix: `give vnet ${id} its own VNI`,
      });
    } else seen.set(v.vni, id);
  }
  return problems;
}

/** Per-site rules: nodes, exit nodes, subnets and gateways. */
export function checkSites(f: FabricConfig): Problem[] {
  const problems: Problem[] = [];
  const endpoints = new Map<string, string>();
  for (const [site, s] of sitesOf(f)) {
    const names = new Set<string>();
    s.nodes.forEach((n, i) => {
      const at = `sites.${site}.nodes[${i}]`;
      if (names.has(n.name)) {
        problems.push({
          path: `${at}.name`,
          value: n.name,
          rule: `node ${n.name} is listed twice in site ${site}`,
          fix: "list each PVE node of the cluster once",
        });
      }
      names.add(n.name);
      const ep = `${n.endpoint.toLowerCase()}:${n.port ?? f.wireguard.port}`;
      const other = endpoints.get(ep);
      if (other !== undefined) {
        problems.push({
          path: `${at}.endpoint`,
          value: n.endpoint,
          rule: `WireGuard endpoint ${ep} is already used by ${other}; two peers cannot share one address and port`,
          fix: "give this node its own public address, or a different port",
        });
      } else endpoints.set(ep, at);
    });
    const exits = s.nodes.filter((n) => n.exitNode).length;
    for (const [vnet, sub] of Object.entries(s.subnets)) {
      const at = `sites.${site}.subnets.${vnet}`;
      if (!(vnet in f.vnets)) {
        problems.push({
          path: at,
          value: vnet,
          rule: `vnet ${vnet} is not defined under vnets:`,
          fix: `use one of: ${Object.keys(f.vnets).join(", ")}, or define vnets.${vnet}`,
        });
      }
      const c = cidrAt(sub.cidr);
      const gw = addressAt(sub.gateway);
      if (!cidrContains(c, gw) || sameAddress(gw, c.network) || sameAddress(gw, lastAddress(c))) {
        problems.push({
          path: `${at}.gateway`,
          value: sub.gateway,
          rule: `the gateway must be a host address inside its subnet ${cidrText(c)} (PVE: "<gw> is not in subnet <cidr>")`,
          fix: `use an address inside ${cidrText(c)}, e.g. ${offset(c.network, 1)!.toString()}`,
        });
      }
      if (sub.snat && exits === 0) {
        problems.push({
          path: `${at}.snat`,
          value: true,
          rule: `SNAT happens only on exit nodes, and site ${site} has none`,
          fix: `mark a node of site ${site} with exitNode: true, or set snat: false`,
        });
      }
    }
  }
  return problems;
}

/** Subnets must not overlap each other; tunnel addresses must be unique and outside every subnet. */
export function checkAddressing(f: FabricConfig): Problem[] {
  const problems: Problem[] = [];
  const subnets: Range[] = [];
  const tunnels = new Map<string, string>();
  for (const [site, s] of sitesOf(f)) {
    for (const [vnet, sub] of Object.entries(s.subnets)) {
      const path = `sites.${site}.subnets.${vnet}.cidr`;
      const c = cidrAt(sub.cidr);
      const clash = subnets.find((r) => cidrsOverlap(r.cidr, c));
      if (clash) {
        problems.push({
          path,
          value: sub.cidr,
          rule: `overlaps ${cidrText(clash.cidr)} (${clash.path}); every site's subnets must be distinct for routing between sites`,
          fix: "give each site its own range, e.g. 10.<site number>.1.0/24",
        });
      }
      subnets.push({ cidr: c, path });
    }
  }
  for (const [site, s] of sitesOf(f)) {
    s.nodes.forEach((n, i) => {
      const path = `sites.${site}.nodes[${i}].tunnelAddress`;
      const a = addressAt(n.tunnelAddress);
      const other = tunnels.get(a.toString());
      if (other !== undefined) {
        problems.push({
          path,
          value: n.tunnelAddress,
          rule: `tunnel address ${n.tunnelAddress} is already used by ${other}; each node's VTEP address must be unique`,
          fix: "give every node of every site its own tunnel address, e.g. 10.<site number>.0.<node number>",
        });
      } else tunnels.set(a.toString(), path);
      const inSubnet = subnets.find((r) => cidrContains(r.cidr, a));
      if (inSubnet) {
        problems.push({
          path,
          value: n.tunnelAddress,
          rule: `lies inside the overlay subnet ${cidrText(inSubnet.cidr)} (${inSubnet.path}); VTEP traffic would be routed into the overlay it carries`,
          fix: "take tunnel addresses from a range outside every subnet, e.g. 10.<site number>.0.0/24",
        });
      }
    });
  }
  return problems;
}

/** The fabric's own ranges (subnets, tunnel /32s) with the path that defines each. */
export function fabricRanges(f: FabricConfig): Range[] {
  return sitesOf(f).flatMap(([site, s]) => [
    ...Object.entries(s.subnets).map(([vnet, sub]) => ({
      cidr: cidrAt(sub.cidr),
      path: `sites.${site}.subnets.${vnet}.cidr`,
    })),
    ...s.nodes.map((n, i) => ({
      cidr: hostCidr(addressAt(n.tunnelAddress)),
      path: `sites.${site}.nodes[${i}].tunnelAddress`,
    })),
  ]);
}

/**
 * Ranges the hosts already use: each site's declared underlay networks, IP-literal WireGuard endpoints and,
 * when a stack config is given, its SSH and API addresses. A fabric range over one of them would steal
 * that traffic into the tunnel (or cut the SSH session that manages the host).
 */
export function underlayRanges(f: FabricConfig, stack?: StackConfig): Range[] {
  const out: Range[] = [];
  for (const [site, s] of sitesOf(f)) {
    s.underlay.forEach((u, i) => out.push({ cidr: cidrAt(u), path: `sites.${site}.underlay[${i}]` }));
    s.nodes.forEach((n, i) => {
      const a = parseIPv4(n.endpoint);
      if (a !== undefined) out.push({ cidr: hostCidr(a), path: `sites.${site}.nodes[${i}].endpoint` });
    });
  }
  if (stack) {
    for (const [node, ssh] of Object.entries(stack.nodes)) {
      const a = parseIPv4(ssh.address);
      if (a !== undefined) out.push({ cidr: hostCidr(a), path: `pve-fabric:nodes.${node}.address` });
    }
    const a = parseIPv4(new URL(stack.api.endpoint).hostname);
    if (a !== undefined) out.push({ cidr: hostCidr(a), path: "pve-fabric:api.endpoint" });
  }
  return out;
}

export function checkUnderlay(f: FabricConfig, stack?: StackConfig): Problem[] {
  const underlay = underlayRanges(f, stack);
  return fabricRanges(f).flatMap((r) => {
    const clash = underlay.find((u) => cidrsOverlap(u.cidr, r.cidr));
    if (!clash) return [];
    const text = rangeText(r.cidr);
    const under = rangeText(clash.cidr);
    return [
      {
        path: r.path,
        value: text,
        rule: `overlaps the underlay ${under} (${clash.path}): the hosts would route that traffic into the fabric, or the fabric into the LAN`,
        fix: `choose a range that does not overlap ${under} (the seed uses 10.<site>.0.0/16 next to a 192.168.0.0/16 LAN)`,
      },
    ];
  });
}

/** The stack's nodes must be exactly the site's nodes, and each needs a way to authenticate over SSH. */
export function checkStackNodes(f: FabricConfig, site: string, stack: StackConfig): Problem[] {
  const problems: Problem[] = [];
  const wanted = f.sites[site].nodes.map((n) => n.name);
  for (const name of wanted) {
    if (!(name in stack.nodes)) {
      problems.push({
        path: `pve-fabric:nodes.${name}`,
        value: undefined,
        rule: `node ${name} of site ${site} (fabric file) has no SSH access settings in this stack`,
        fix: `add pve-fabric:nodes.${name}: { address, hostKey, agent: true or privateKey }`,
      });
    }
  }
  for (const name of Object.keys(stack.nodes)) {
    if (!wanted.includes(name)) {
      problems.push({
        path: `pve-fabric:nodes.${name}`,
        value: name,
        rule: `node ${name} is not a node of site ${site} in the fabric file (nodes there: ${wanted.join(", ")})`,
        fix: `remove it here, or add it to sites.${site}.nodes`,
      });
    }
  }
  return problems;
}
