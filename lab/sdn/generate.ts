// What PVE writes on one node when SDN is applied, for EVPN controllers and zones:
// `/etc/network/interfaces.d/sdn` and `/etc/frr/frr.conf`. A pure function over (running SDN config, node
// name, the node's /etc/network/interfaces); the two things PVE asks the live system for come in as
// options: `ip route get` (VTEP fallback, SNAT source) and an interface's MAC (IPv6-only router-id).
//
// Behaviour follows pve-network @ ecf98c5 (Zones.pm, Zones/EvpnPlugin.pm, Zones/Plugin.pm, Controllers.pm,
// Controllers/EvpnPlugin.pm, Frr.pm) and proxmox-frr's templates; see ../../../shared/reference/
// pve-sdn-realization.md. It is reproduced, quirks included, because the lab must break where PVE breaks.
import { readSdnConfig, type EvpnController, type SdnConfig, type Subnet, type Zone } from "./config";
import { emptyEvpnAf, emptyFrrModel, renderFrr, type BgpRouter, type FrrModel } from "./frr";
import { parseInterfaces, routeLookupFromInterfaces, type NetIfaces, type RouteLookup } from "./interfaces";
import { ipToBigInt, isIPv4, isIPv6 } from "./ip";

export { SdnConfigError } from "./config";
export { routeLookupFromInterfaces, routeLookupVia, parseInterfaces } from "./interfaces";

export interface GenerateOptions {
  /** `ip route get <target>` on the node; default: a model built from the interfaces file. */
  routeLookup?: RouteLookup;
  /** MAC of an interface's bridge master, else its own (`/sys/class/net/<if>/master/address`). */
  ifaceMac?: (iface: string) => string | undefined;
}

export interface SdnFiles {
  interfacesSdn: string;
  frrConf: string;
  /** What PVE would only `warn` about (a vnet skipped, a controller ignored); the files are still written. */
  warnings: string[];
}

/** A config PVE would accept but this generator does not reproduce (yet): refusing beats guessing. */
export class SdnUnsupportedError extends Error {
  constructor(what: string, fix: string) {
    super(`Cannot generate SDN config: ${what}. ${fix}`);
    this.name = "SdnUnsupportedError";
  }
}

const UNREACHABLE_METRIC = 4278198272; // 0xFF000000, the kernel VRF doc's "last resort" metric
// PVE uses one hard-coded /30 for the local-routing veth pair on every exit node and every zone.
const XVRF_V4 = { host: "10.255.255.1/30", vrf: "10.255.255.2/30", via: "10.255.255.2" };
const XVRF_V6 = { host: "fe80::1/126", vrf: "fe80::2/126", via: "fe80::2" };

interface Ctx {
  cfg: SdnConfig;
  node: string;
  ifaces: NetIfaces;
  routeLookup: RouteLookup;
  ifaceMac?: (iface: string) => string | undefined;
  warnings: string[];
}

export function generateSdn(
  runningConfig: unknown,
  node: string,
  interfacesText: string,
  options: GenerateOptions = {},
): SdnFiles {
  if (typeof node !== "string" || !/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/.test(node))
    throw new Error(
      `Node name ${JSON.stringify(node)} is not a valid PVE node name; pass the node's hostname`,
    );
  const cfg = readSdnConfig(runningConfig);
  const ifaces = parseInterfaces(interfacesText);
  const ctx: Ctx = {
    cfg,
    node,
    ifaces,
    routeLookup: options.routeLookup ?? routeLookupFromInterfaces(ifaces),
    ifaceMac: options.ifaceMac,
    warnings: [],
  };
  refuseUnsupported(ctx);
  return {
    interfacesSdn: generateInterfaces(ctx),
    frrConf: renderFrr(generateFrr(ctx), node),
    warnings: ctx.warnings,
  };
}

const sorted = <V>(m: Map<string, V>): [string, V][] =>
  [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function refuseUnsupported(ctx: Ctx): void {
  for (const [id, c] of ctx.cfg.controllers) {
    // BGP/ISIS controllers only act on their own node (they return early elsewhere), but there they turn the
    // EVPN side into eBGP/loopback mode, which this generator does not reproduce.
    if ((c.type === "bgp" || c.type === "isis") && c.node === ctx.node)
      throw new SdnUnsupportedError(
        `controller '${id}' (type ${c.type}) applies to node '${ctx.node}'; its eBGP/loopback variants are not reproduced`,
        "Remove it: the fabric uses iBGP over the EVPN controller's peers only",
      );
    if (c.type === "evpn" && c.fabric)
      throw new SdnUnsupportedError(
        `controller '${id}' uses SDN fabric '${c.fabric}' instead of peers`,
        "Set peers to the VTEP IPs instead of fabric",
      );
    if (!["evpn", "bgp", "isis"].includes(c.type))
      throw new SdnUnsupportedError(
        `controller '${id}' has type '${c.type}'`,
        "Only evpn (and off-node bgp/isis) controllers are reproduced",
      );
  }
}

/** Subnets of a vnet (or all with a vnet), sorted by id, like PVE::Network::SDN::Vnets::get_subnets. */
function subnetsOf(ctx: Ctx, vnetId?: string): Subnet[] {
  return sorted(ctx.cfg.subnets)
    .map(([, s]) => s)
    .filter((s) => s.vnet && (!vnetId || s.vnet === vnetId));
}

interface LocalVtep {
  ip?: string;
  iface?: string;
}

/**
 * The node's VTEP address (PVE `find_local_ip_interface_peers`, without the BGP/ISIS loopback branch we
 * refuse): the first peer that is some interface's IPv4 `address` in /etc/network/interfaces; otherwise what
 * `ip route get <first peer>` answers. Only the first peer is ever looked up, and an underlay not declared
 * in the file (wg-quick) is invisible to the first step.
 */
function localVtep(ctx: Ctx, peers: string[]): LocalVtep {
  for (const peer of peers)
    for (const d of ctx.ifaces.values()) if (d.address === peer) return { ip: peer, iface: d.name };
  if (peers.length === 0) return {};
  const r = ctx.routeLookup(peers[0]);
  return { ip: r?.src, iface: r?.dev };
}

/** PVE `get_router_id`: the VTEP IP if IPv4, else the last four bytes of the interface's MAC. */
function routerId(ctx: Ctx, controller: EvpnController, vtep: LocalVtep): string {
  if (vtep.ip && isIPv4(vtep.ip)) return vtep.ip;
  if (!vtep.ip)
    throw new Error(
      `Unable to generate frr.conf for controller '${controller.id}' on node '${ctx.node}': no local VTEP address ` +
        `(none of peers ${controller.peers.join(",")} is an address in /etc/network/interfaces, and the route lookup ` +
        `for ${controller.peers[0] ?? "(no peer)"} found no source). Declare the underlay address in ` +
        `/etc/network/interfaces or list this node's address in peers`,
    );
  const mac = vtep.iface ? ctx.ifaceMac?.(vtep.iface) : undefined;
  const bytes = mac?.split(":") ?? [];
  if (bytes.length !== 6 || mac === "00:00:00:00:00:00")
    throw new Error(
      `Unable to derive a BGP router-id on node '${ctx.node}': VTEP ${vtep.ip} is IPv6 and interface ` +
        `'${vtep.iface ?? "?"}' has MAC ${JSON.stringify(mac ?? null)}; PVE uses its last 4 bytes. ` +
        `Pass ifaceMac for that interface, or give the node an IPv4 VTEP address`,
    );
  return bytes
    .slice(2)
    .map((b) => parseInt(b, 16))
    .join(".");
}

// ---------------------------------------------------------------------------------------------------------
// /etc/network/interfaces.d/sdn (Zones.pm generate_etc_network_config + Zones/EvpnPlugin.pm)

function generateInterfaces(ctx: Ctx): string {
  const { cfg, node } = ctx;
  if (!cfg.present.vnets && !cfg.present.zones) return "";
  // Each stanza is written by the first vnet that needs it; later vnets never change it.
  const stanzas = new Map<string, string[]>();
  const once = (name: string, lines: string[]) => {
    if (!stanzas.has(name)) stanzas.set(name, lines);
  };

  for (const [vnetId, vnet] of sorted(cfg.vnets)) {
    if (!vnet.zone) {
      ctx.warnings.push(`can't generate vnet '${vnetId}': no zone assigned!`);
      continue;
    }
    const zone = cfg.zones.get(vnet.zone);
    if (!zone) {
      ctx.warnings.push(`can't generate vnet '${vnetId}': zone ${vnet.zone} don't exist`);
      continue;
    }
    if (zone.nodes && !zone.nodes.has(node)) continue;
    if (zone.type !== "evpn")
      throw new SdnUnsupportedError(
        `vnet '${vnetId}' is in zone '${zone.id}' of type '${zone.type}'`,
        "Only EVPN zones are reproduced",
      );
    const controller = zone.controller ? cfg.controllers.get(zone.controller) : undefined;
    const skip = (why: string) => ctx.warnings.push(`zone ${zone.id} : vnet ${vnetId} : ${why}`);
    if (!vnet.tag) {
      skip("missing vxlan tag");
      continue;
    }
    if (!controller) {
      skip("missing controller");
      continue;
    }
    if (controller.peers.length === 0) {
      skip(`neither fabric nor peers configured for EVPN controller ${controller.id}`);
      continue;
    }
    evpnVnetStanzas(ctx, zone, vnetId, vnet.tag, vnet.alias, localVtep(ctx, controller.peers).ip, once);
  }

  let out = `#version:${cfg.version}\n`;
  for (const name of [...stanzas.keys()].sort()) {
    out += `\nauto ${name}\niface ${name}\n`;
    for (const line of stanzas.get(name)!) out += `\t${line}\n`;
  }
  return out;
}

function evpnVnetStanzas(
  ctx: Ctx,
  zone: Zone,
  vnetId: string,
  tag: number,
  alias: string | undefined,
  vtepIp: string | undefined,
  once: (name: string, lines: string[]) => void,
): void {
  const isExit = zone.exitnodes.has(ctx.node);
  // PVE means "underlay MTU - 50" but reads the parsed file one level too high, so the underlay MTU is
  // never seen: 1450 unless the zone sets mtu (reference §4).
  const mtu = zone.mtu ?? 1450;
  const vrf = `vrf_${zone.id}`;
  const vxlanCommon = (vni: number) => [
    `vxlan-id ${vni}`,
    ...(vtepIp ? [`vxlan-local-tunnelip ${vtepIp}`] : []),
    ...(zone.vxlanPort ? [`vxlan-port ${zone.vxlanPort}`] : []),
    "bridge-learning off",
    ...(zone.disableArpNdSuppression ? [] : ["bridge-arp-nd-suppress on"]),
    `mtu ${mtu}`,
  ];
  once(`vxlan_${vnetId}`, vxlanCommon(tag));

  const bridge: string[] = [];
  const addresses = new Set<string>();
  let v4 = false;
  let v6 = false;
  let forward4 = false;
  let forward6 = false;
  for (const s of subnetsOf(ctx, vnetId)) {
    if (s.gateway && !addresses.has(s.gateway)) {
      bridge.push(`address ${s.gateway}/${s.mask}`);
      addresses.add(s.gateway);
    }
    // The family comes from the gateway, not the CIDR: a gateway-less IPv6 subnet counts as IPv4 (as in PVE).
    const family6 = !!s.gateway && isIPv6(s.gateway);
    if (family6) {
      v6 = true;
      forward6 ||= !!s.gateway;
    } else {
      v4 = true;
      forward4 ||= !!s.gateway;
    }
    if (!s.snat || !isExit) continue;
    // SNAT to the address of the interface the node's default route uses, looked up at generation time.
    const out = ctx.routeLookup(family6 ? "2001:4860:4860::8888" : "8.8.8.8");
    if (!out?.src || !out.dev) continue; // no default route: PVE silently writes no rule
    const ipt = family6 ? "ip6tables" : "iptables";
    const nat = `-t nat %s POSTROUTING -s '${s.cidr}' -o ${out.dev} -j SNAT --to-source ${out.src}`;
    bridge.push(`post-up ${ipt} ${nat.replace("%s", "-A")}`, `post-down ${ipt} ${nat.replace("%s", "-D")}`);
    bridge.push(`post-up ${ipt} -t raw -I PREROUTING -i fwbr+ -j CT --zone 1`);
    bridge.push(`post-down ${ipt} -t raw -D PREROUTING -i fwbr+ -j CT --zone 1`);
  }
  if (zone.mac) bridge.push(`hwaddress ${zone.mac}`);
  bridge.push(`bridge_ports vxlan_${vnetId}`, "bridge_stp off", "bridge_fd 0", `mtu ${mtu}`);
  if (alias) bridge.push(`alias ${alias}`);
  if (forward4) bridge.push("ip-forward on");
  if (forward6) bridge.push("ip6-forward on");
  if (v4 || v6) bridge.push("arp-accept on");
  bridge.push(`vrf ${vrf}`);
  once(vnetId, bridge);

  // Exit nodes delete the VRF's unreachable default so lookups fall through to the main table (the way
  // out); post-up only ever adds, so the delete also cleans a former non-exit node.
  once(vrf, [
    "vrf-table auto",
    `post-up ip route ${isExit ? "del" : "add"} vrf ${vrf} unreachable default metric ${UNREACHABLE_METRIC}`,
  ]);
  if (zone.vrfVxlan) {
    once(`vrfvx_${zone.id}`, vxlanCommon(zone.vrfVxlan));
    once(`vrfbr_${zone.id}`, [
      `bridge-ports vrfvx_${zone.id}`,
      "bridge_stp off",
      "bridge_fd 0",
      `mtu ${mtu}`,
      `vrf ${vrf}`,
    ]);
  }
  if (isExit && zone.exitnodesLocalRouting) {
    // fe80 addresses only if *this* vnet has IPv6: the stanza is fixed by the zone's first vnet.
    const xvrf = `xvrf_${zone.id}`;
    const xvrfp = `xvrfp_${zone.id}`;
    const veth = (addr4: string, addr6: string, peer: string, inVrf: boolean) => [
      "link-type veth",
      `address ${addr4}`,
      ...(v6 ? [`address ${addr6}`] : []),
      `veth-peer-name ${peer}`,
      ...(inVrf ? [`vrf ${vrf}`] : []),
      `mtu ${mtu + 50}`,
    ];
    once(xvrf, veth(XVRF_V4.host, XVRF_V6.host, xvrfp, false));
    once(xvrfp, veth(XVRF_V4.vrf, XVRF_V6.vrf, xvrf, true));
  }
}

// ---------------------------------------------------------------------------------------------------------
// /etc/frr/frr.conf (Controllers.pm generate_frr_config + Controllers/EvpnPlugin.pm)

function generateFrr(ctx: Ctx): FrrModel {
  const m = emptyFrrModel();
  const { cfg } = ctx;
  if (!cfg.present.vnets && !cfg.present.zones && !cfg.present.controllers) return m;
  for (const [, c] of sorted(cfg.controllers)) if (c.type === "evpn") controllerFrr(ctx, m, c);
  // Every zone gets its VRF and BGP instance on every node: unlike the interfaces file, the zone's `nodes`
  // list is not consulted here.
  for (const [, zone] of sorted(cfg.zones)) {
    const c = zone.controller ? cfg.controllers.get(zone.controller) : undefined;
    if (c?.type === "evpn") zoneFrr(ctx, m, zone, c);
  }
  for (const [vnetId, vnet] of sorted(cfg.vnets)) {
    const zone = vnet.zone ? cfg.zones.get(vnet.zone) : undefined;
    const c = zone?.controller ? cfg.controllers.get(zone.controller) : undefined;
    if (zone && c?.type === "evpn") vnetFrr(ctx, m, zone, vnetId);
  }
  return m;
}

function controllerFrr(ctx: Ctx, m: FrrModel, c: EvpnController): void {
  if (c.peers.length === 0) {
    ctx.warnings.push(`neither fabric nor peers configured for EVPN controller ${c.id}`);
    return;
  }
  if (!c.asn) return;
  const vtep = localVtep(ctx, c.peers);
  const id = routerId(ctx, c, vtep);
  let r = m.routers.get("default");
  if (!r) {
    r = { asn: c.asn, routerId: id, noDefaultIpv4Unicast: true, coalesceTime: 1000, neighborGroups: [] };
    m.routers.set("default", r);
  }
  // Every peer but the exact string of the local VTEP address; if the VTEP was picked wrongly (underlay
  // down at apply time), the node lists itself as a neighbour.
  r.neighborGroups.push({
    name: "VTEP",
    remoteAs: String(c.asn),
    bfd: true,
    ips: c.peers.filter((p) => p !== vtep.ip),
  });
  r.evpn ??= {
    ...emptyEvpnAf(),
    neighbors: [{ name: "VTEP", routeMapIn: "MAP_VTEP_IN", routeMapOut: "MAP_VTEP_OUT" }],
    advertiseAllVni: true,
  };
  for (const name of ["MAP_VTEP_IN", "MAP_VTEP_OUT"]) {
    const list = m.routeMaps.get(name) ?? [];
    list.push({ action: "permit" });
    m.routeMaps.set(name, list);
  }
}

function zoneFrr(ctx: Ctx, m: FrrModel, zone: Zone, c: EvpnController): void {
  if (c.peers.length === 0) {
    ctx.warnings.push(`neither fabric nor peers configured for EVPN controller ${c.id}`);
    return;
  }
  const vrf = `vrf_${zone.id}`;
  const id = routerId(ctx, c, localVtep(ctx, c.peers));
  if (!zone.vrfVxlan || !c.asn) return;
  const isExit = zone.exitnodes.has(ctx.node);
  const vrfRouter: BgpRouter = { asn: c.asn, routerId: id, noDefaultIpv4Unicast: false, neighborGroups: [] };
  m.routers.set(vrf, vrfRouter);
  const ipRoutes = isExit ? nullRoutesForOtherZones(ctx, zone) : [];
  m.vrfs.set(vrf, { vni: zone.vrfVxlan, ipRoutes });

  if (isExit) {
    if (!m.prefixLists.has("only_default"))
      m.prefixLists.set("only_default", [{ v6: false, seq: 1, action: "permit", network: "0.0.0.0/0" }]);
    if (!m.prefixLists.has("only_default_v6"))
      m.prefixLists.set("only_default_v6", [{ v6: true, seq: 1, action: "permit", network: "::/0" }]);
    const v4 = "ip address prefix-list only_default";
    const v6 = "ipv6 address prefix-list only_default_v6";
    if (!zone.exitnodesPrimary || zone.exitnodesPrimary === ctx.node) {
      // The primary (or every exit node, without one) ignores default routes from other VTEPs.
      const list = m.routeMaps.get("MAP_VTEP_IN") ?? [];
      list.unshift({ action: "deny", match: v4 }, { action: "deny", match: v6 });
      m.routeMaps.set("MAP_VTEP_IN", list);
    } else {
      // Secondaries advertise their default with MED 200, so everyone prefers the primary's.
      const list = m.routeMaps.get("MAP_VTEP_OUT") ?? [];
      list.unshift(
        { action: "permit", match: v4, set: "metric 200" },
        { action: "permit", match: v6, set: "metric 200" },
      );
      m.routeMaps.set("MAP_VTEP_OUT", list);
    }
    if (!zone.exitnodesLocalRouting) {
      // Leak the VRF into the main table: the return path for SNATed and host-originated traffic.
      const main = m.routers.get("default");
      if (main) {
        (main.ipv4 ??= { importVrf: [], redistribute: [] }).importVrf.push(vrf);
        (main.ipv6 ??= { importVrf: [], redistribute: [] }).importVrf.push(vrf);
      }
      (vrfRouter.ipv4 ??= { importVrf: [], redistribute: [] }).redistribute.push("connected");
      (vrfRouter.ipv6 ??= { importVrf: [], redistribute: [] }).redistribute.push("connected");
    }
    (vrfRouter.evpn ??= emptyEvpnAf()).defaultOriginate = ["ipv4", "ipv6"];
  } else if (zone.advertiseSubnets) {
    // Only non-exit nodes: PVE's `if exit node … elsif advertise-subnets` makes it a no-op on exit nodes.
    (vrfRouter.ipv4 ??= { importVrf: [], redistribute: [] }).redistribute.push("connected");
    (vrfRouter.ipv6 ??= { importVrf: [], redistribute: [] }).redistribute.push("connected");
    const evpn = (vrfRouter.evpn ??= emptyEvpnAf());
    evpn.advertiseIpv4Unicast = true;
    evpn.advertiseIpv6Unicast = true;
  }
  if (zone.rtImport.length) (vrfRouter.evpn ??= emptyEvpnAf()).rtImport.push(...zone.rtImport);
}

/**
 * On exit nodes, a null route in this zone's VRF for every subnet of every *other* zone (pve-network fix
 * #4389), so zones cannot reach each other through the exit node's main table. Keyed by network address
 * (a later subnet id with the same address replaces the mask) and sorted numerically, IPv4 before IPv6.
 */
function nullRoutesForOtherZones(ctx: Ctx, zone: Zone) {
  const masks = new Map<string, string>();
  for (const s of subnetsOf(ctx)) if (s.zone !== zone.id) masks.set(s.network, s.mask);
  return [...masks.entries()]
    .map(([ip, mask]) => ({ ip, mask, n: ipToBigInt(ip) ?? 0n }))
    .sort((a, b) => (a.n < b.n ? -1 : a.n > b.n ? 1 : 0))
    .map(({ ip, mask }) => ({ v6: isIPv6(ip), prefix: `${ip}/${mask}`, via: "null0" }));
}

/** Local routing on an exit node: a static route per subnet into the VRF over the xvrf veth pair. */
function vnetFrr(ctx: Ctx, m: FrrModel, zone: Zone, vnetId: string): void {
  if (!zone.exitnodesLocalRouting || !zone.exitnodes.has(ctx.node)) return;
  for (const s of subnetsOf(ctx, vnetId)) {
    const v6 = isIPv6(s.network);
    m.ipRoutes.push({ v6, prefix: s.cidr, via: (v6 ? XVRF_V6 : XVRF_V4).via, dev: `xvrf_${zone.id}` });
  }
}
