// The frr.conf model PVE builds (the structured hash pve-network hands to proxmox-frr's templates) and its
// rendering, in the templates' order: header, `vrf` blocks, `router bgp` blocks (default VRF first), prefix
// lists, route maps, static routes, `line vty`. Maps render sorted by name; route-map entries are numbered
// 1, 2, 3… by position, which is what PVE does after exit-node entries were put in front.

export interface IpRoute {
  v6: boolean;
  prefix: string;
  via: string;
  dev?: string;
}

export interface NeighborGroup {
  name: string;
  remoteAs: string;
  bfd: boolean;
  ips: string[];
}

export interface UnicastAf {
  importVrf: string[];
  redistribute: string[];
}

export interface EvpnAf {
  neighbors: { name: string; routeMapIn: string; routeMapOut: string }[];
  advertiseAllVni: boolean;
  defaultOriginate: string[];
  advertiseIpv4Unicast: boolean;
  advertiseIpv6Unicast: boolean;
  rtImport: string[];
}

export interface BgpRouter {
  asn: number;
  routerId: string;
  /** Only the default-VRF router says these; VRF routers leave them unset. */
  noDefaultIpv4Unicast: boolean;
  coalesceTime?: number;
  neighborGroups: NeighborGroup[];
  ipv4?: UnicastAf;
  ipv6?: UnicastAf;
  evpn?: EvpnAf;
}

export interface RouteMapEntry {
  action: "permit" | "deny";
  match?: string;
  set?: string;
}

export interface FrrModel {
  vrfs: Map<string, { vni: number; ipRoutes: IpRoute[] }>;
  routers: Map<string, BgpRouter>; // "default" or the VRF name
  prefixLists: Map<string, { v6: boolean; seq: number; action: string; network: string }[]>;
  routeMaps: Map<string, RouteMapEntry[]>;
  ipRoutes: IpRoute[];
}

export function emptyFrrModel(): FrrModel {
  return { vrfs: new Map(), routers: new Map(), prefixLists: new Map(), routeMaps: new Map(), ipRoutes: [] };
}

export function emptyEvpnAf(): EvpnAf {
  return {
    neighbors: [],
    advertiseAllVni: false,
    defaultOriginate: [],
    advertiseIpv4Unicast: false,
    advertiseIpv6Unicast: false,
    rtImport: [],
  };
}

const sortedKeys = <V>(m: Map<string, V>) => [...m.keys()].sort();

function route(r: IpRoute): string {
  return `${r.v6 ? "ipv6" : "ip"} route ${r.prefix} ${r.via}${r.dev ? ` ${r.dev}` : ""}`;
}

function unicast(out: string[], family: string, af: UnicastAf | undefined): void {
  if (!af) return;
  out.push(" !", ` address-family ${family} unicast`);
  for (const v of af.importVrf) out.push(`  import vrf ${v}`);
  for (const p of af.redistribute) out.push(`  redistribute ${p}`);
  out.push(" exit-address-family");
}

function router(out: string[], name: string, r: BgpRouter): void {
  out.push("!", name === "default" ? `router bgp ${r.asn}` : `router bgp ${r.asn} vrf ${name}`);
  out.push(` bgp router-id ${r.routerId}`, " no bgp hard-administrative-reset");
  if (r.noDefaultIpv4Unicast) out.push(" no bgp default ipv4-unicast");
  if (r.coalesceTime) out.push(` coalesce-time ${r.coalesceTime}`);
  out.push(" no bgp graceful-restart notification");
  for (const g of r.neighborGroups) {
    out.push(` neighbor ${g.name} peer-group`, ` neighbor ${g.name} remote-as ${g.remoteAs}`);
    if (g.bfd) out.push(` neighbor ${g.name} bfd`);
    for (const ip of g.ips) out.push(` neighbor ${ip} peer-group ${g.name}`);
  }
  unicast(out, "ipv4", r.ipv4);
  unicast(out, "ipv6", r.ipv6);
  if (r.evpn) {
    const e = r.evpn;
    out.push(" !", " address-family l2vpn evpn");
    for (const n of e.neighbors) {
      out.push(`  neighbor ${n.name} activate`);
      out.push(
        `  neighbor ${n.name} route-map ${n.routeMapIn} in`,
        `  neighbor ${n.name} route-map ${n.routeMapOut} out`,
      );
    }
    if (e.advertiseAllVni) out.push("  advertise-all-vni");
    for (const d of e.defaultOriginate) out.push(`  default-originate ${d}`);
    if (e.advertiseIpv4Unicast) out.push("  advertise ipv4 unicast");
    if (e.advertiseIpv6Unicast) out.push("  advertise ipv6 unicast");
    for (const rt of e.rtImport) out.push(`  route-target import ${rt}`);
    out.push(" exit-address-family");
  }
  out.push("exit");
}

export function renderFrr(m: FrrModel, hostname: string): string {
  // PVE writes the FRR version it targets (PVE 9: 10.4.1); the lab's FRR differs, see lab/sdn/README.md.
  const out = [
    "frr version 10.4.1",
    "frr defaults datacenter",
    `hostname ${hostname}`,
    "log syslog informational",
    "service integrated-vtysh-config",
  ];
  for (const name of sortedKeys(m.vrfs)) {
    const v = m.vrfs.get(name)!;
    out.push("!", `vrf ${name}`, ` vni ${v.vni}`, ...v.ipRoutes.map((r) => ` ${route(r)}`), "exit-vrf");
  }
  const routerNames = sortedKeys(m.routers).filter((n) => n !== "default");
  if (m.routers.has("default")) routerNames.unshift("default");
  for (const name of routerNames) router(out, name, m.routers.get(name)!);
  for (const name of sortedKeys(m.prefixLists)) {
    out.push("!");
    for (const r of m.prefixLists.get(name)!)
      out.push(`${r.v6 ? "ipv6" : "ip"} prefix-list ${name} seq ${r.seq} ${r.action} ${r.network}`);
  }
  for (const name of sortedKeys(m.routeMaps)) {
    m.routeMaps.get(name)!.forEach((e, i) => {
      out.push("!", `route-map ${name} ${e.action} ${i + 1}`);
      if (e.match) out.push(` match ${e.match}`);
      if (e.set) out.push(` set ${e.set}`);
      out.push("exit");
    });
  }
  for (const r of m.ipRoutes) out.push("!", route(r));
  out.push("!", "line vty", "!");
  return out.join("\n") + "\n";
}
