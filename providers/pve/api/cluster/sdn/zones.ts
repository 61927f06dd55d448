// /cluster/sdn/zones — the EVPN zone (§2.5).
import { fromBool, fromInt, fromList, type ApiParams } from "../../../encode";
import type { Transport } from "../../../transport";
import { SdnSection } from "./section";

export interface EvpnZoneSpec {
  zone: string;
  controller: string;
  vrfVxlan: number;
  exitNodes: string[];
  exitNodesPrimary?: string;
  /** Breaks replies through conntrack on the xvrf pair (DESIGN §4); false unless the caller gives a reason. */
  exitNodesLocalRouting: boolean;
  advertiseSubnets: boolean;
  mtu?: number;
  ipam?: string;
  /** Restrict the zone to these nodes; empty = all nodes. */
  nodes: string[];
}

/** Keys we manage; everything else on the zone (notably the computed `mac`) is left alone. */
export const ZONE_KEYS = [
  "controller",
  "vrf-vxlan",
  "exitnodes",
  "exitnodes-primary",
  "exitnodes-local-routing",
  "advertise-subnets",
  "mtu",
  "ipam",
  "nodes",
];

const orUndef = <T>(xs: T[]): T[] | undefined => (xs.length ? [...xs].sort() : undefined);

/** false booleans and empty lists are "absent": PVE's default, so an update deletes them instead of sending 0. */
export function zoneToApi(s: EvpnZoneSpec): ApiParams {
  return {
    controller: s.controller,
    "vrf-vxlan": s.vrfVxlan,
    exitnodes: orUndef(s.exitNodes),
    "exitnodes-primary": s.exitNodesPrimary,
    "exitnodes-local-routing": s.exitNodesLocalRouting ? 1 : undefined,
    "advertise-subnets": s.advertiseSubnets ? 1 : undefined,
    mtu: s.mtu,
    ipam: s.ipam,
    nodes: orUndef(s.nodes),
  };
}

export function zoneFromApi(item: Record<string, unknown>): EvpnZoneSpec & { type: string; mac?: string } {
  return {
    zone: String(item.zone),
    type: String(item.type),
    controller: String(item.controller ?? ""),
    vrfVxlan: fromInt(item["vrf-vxlan"]) ?? -1,
    exitNodes: fromList(item.exitnodes) ?? [],
    exitNodesPrimary: item["exitnodes-primary"] === undefined ? undefined : String(item["exitnodes-primary"]),
    exitNodesLocalRouting: fromBool(item["exitnodes-local-routing"]) ?? false,
    advertiseSubnets: fromBool(item["advertise-subnets"]) ?? false,
    mtu: fromInt(item.mtu),
    ipam: item.ipam === undefined ? undefined : String(item.ipam),
    nodes: fromList(item.nodes) ?? [],
    mac: item.mac === undefined ? undefined : String(item.mac),
  };
}

export class Zones extends SdnSection {
  constructor(t: Transport) {
    super(t, "/cluster/sdn/zones");
  }
  createEvpn(s: EvpnZoneSpec): Promise<void> {
    return this.create({ zone: s.zone, type: "evpn", ...zoneToApi(s) });
  }
}
