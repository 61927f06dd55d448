// SDN object kinds: EVPN controller, EVPN zone, vnet, subnet (reference §2.5–2.8).
// Reads use the `pending=1` view: the spec compared with the desired one is what the pending files hold
// (so an edit made in PVE shows as drift even before anyone applies it), and `livePendingState` reports
// whether the object still waits for an apply (new/changed) — the SdnApply resource acts on that.
import { z } from "zod";
import { cidrContains, cidrOf, cidrText, isIPv4, parseIPv4 } from "../../../fabric/net";
import { updateParams } from "../encode";
import {
  controllerFromApi,
  controllerToApi,
  CONTROLLER_KEYS,
  type EvpnControllerSpec,
} from "../api/cluster/sdn/controllers";
import { effectiveConfig, type SdnItem, type SdnSection } from "../api/cluster/sdn/section";
import {
  subnetFromApi,
  subnetId,
  subnetToApi,
  SUBNET_KEYS,
  type SubnetSpec,
} from "../api/cluster/sdn/subnets";
import { vnetFromApi, vnetToApi, VNET_KEYS, type VnetSpec } from "../api/cluster/sdn/vnets";
import { zoneFromApi, zoneToApi, ZONE_KEYS, type EvpnZoneSpec } from "../api/cluster/sdn/zones";
import type { PveClient } from "../client";
import type { CheckFailure, Kind } from "./common";

// PVE's id rules (§2.2), with the fix in the message.
const shortId = (what: string) =>
  z
    .string()
    .regex(
      /^[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]$/,
      `${what} ids are 2-8 letters/digits starting with a letter (no '-' or '_': they become Linux interface names)`,
    )
    .max(8, `${what} ids are at most 8 characters (Linux interface names: vrfvx_<zone> must fit 15)`);
const nodeName = z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/, "node names are DNS labels");
const ipv4 = z.string().refine(isIPv4, "expected an IPv4 address like 10.0.0.1");
const ip = z.union([ipv4, z.string().regex(/^[0-9a-fA-F:]+:[0-9a-fA-F:]*$/, "expected an IP address")]);

async function readPending(
  section: SdnSection,
  id: string,
): Promise<{ cfg: Record<string, unknown>; item: SdnItem } | undefined> {
  const item = await section.get(id, "pending");
  if (!item) return undefined;
  const cfg = effectiveConfig(item);
  return cfg ? { cfg, item } : undefined;
}

const pendingExtra = (item: SdnItem) => ({ livePendingState: item.state ?? "applied" });

// ---- controller ------------------------------------------------------------------------------------------
export const controllerKind: Kind<EvpnControllerSpec> = {
  what: "EVPN controller",
  schema: () =>
    z.object({
      controller: z
        .string()
        .regex(/^[a-zA-Z][a-zA-Z0-9_-]*[a-zA-Z0-9]$/, "controller ids: letter first, then letters/digits/-/_")
        .max(64),
      asn: z.number().int().min(0).max(4294967295),
      peers: z
        .array(ip)
        .min(1, "list every node's underlay/tunnel address of every site (a session needs both ends)")
        .transform((p) => [...new Set(p)].sort()),
    }),
  idOf: (s) => s.controller,
  replaceOn: ["controller"],
  async read(c, id) {
    const r = await readPending(c.cluster.sdn.controllers, id);
    if (!r) return undefined;
    const { type, ...spec } = controllerFromApi({ ...r.cfg, controller: id });
    if (type !== "evpn")
      throw new Error(`controller '${id}' exists with type '${type}', not evpn: pick another id`);
    return { spec, extra: pendingExtra(r.item) };
  },
  create: (c, s) => c.cluster.sdn.controllers.createEvpn(s),
  update: (c, id, live, want) =>
    c.cluster.sdn.controllers.update(
      id,
      updateParams(controllerToApi(want), controllerToApi(live), CONTROLLER_KEYS),
    ),
  async remove(c, id) {
    await c.cluster.sdn.controllers.remove(id);
  },
};

// ---- zone --------------------------------------------------------------------------------------------------
export interface ZoneInputs extends EvpnZoneSpec {
  /** Required to set exitNodesLocalRouting (DESIGN §3.6 guardrail). */
  exitNodesLocalRoutingReason?: string;
}

export const zoneKind: Kind<ZoneInputs> = {
  what: "EVPN zone",
  schema: () =>
    z.object({
      zone: shortId("zone"),
      controller: z.string().min(2),
      vrfVxlan: z.number().int().min(1).max(16777215),
      exitNodes: z
        .array(nodeName)
        .default([])
        .transform((x) => [...x].sort()),
      exitNodesPrimary: nodeName.optional(),
      exitNodesLocalRouting: z.boolean().default(false),
      exitNodesLocalRoutingReason: z.string().optional(),
      advertiseSubnets: z.boolean().default(false),
      mtu: z.number().int().min(1280).max(65520).optional(),
      ipam: z.string().optional(),
      nodes: z
        .array(nodeName)
        .default([])
        .transform((x) => [...x].sort()),
    }) as unknown as z.ZodType<ZoneInputs>,
  problems(s): CheckFailure[] {
    const out: CheckFailure[] = [];
    if (s.exitNodesLocalRouting && !s.exitNodesLocalRoutingReason?.trim())
      out.push({
        property: "exitNodesLocalRouting",
        reason:
          "exitNodesLocalRouting = true is refused: it breaks replies through conntrack on the xvrf veth pair " +
          "(random source ports, then resets). Leave it false, or set exitNodesLocalRoutingReason to say why you need it",
      });
    if (s.exitNodesPrimary && !s.exitNodes.includes(s.exitNodesPrimary))
      out.push({
        property: "exitNodesPrimary",
        reason: `exitNodesPrimary = '${s.exitNodesPrimary}' is not one of exitNodes [${s.exitNodes.join(", ")}]: PVE does not check this; add it to exitNodes or pick one of them`,
      });
    return out;
  },
  idOf: (s) => s.zone,
  replaceOn: ["zone"],
  async read(c, id, hint) {
    const r = await readPending(c.cluster.sdn.zones, id);
    if (!r) return undefined;
    const { type, mac, ...spec } = zoneFromApi({ ...r.cfg, zone: id });
    if (type !== "evpn")
      throw new Error(`zone '${id}' exists with type '${type}', not evpn: pick another id`);
    // The reason is ours, not PVE's: carry it over so it never shows as drift.
    return {
      spec: { ...spec, exitNodesLocalRoutingReason: hint.exitNodesLocalRoutingReason },
      extra: { ...pendingExtra(r.item), liveMac: mac },
    };
  },
  create: (c, s) => c.cluster.sdn.zones.createEvpn(s),
  update: (c, id, live, want) =>
    c.cluster.sdn.zones.update(id, updateParams(zoneToApi(want), zoneToApi(live), ZONE_KEYS)),
  async remove(c, id) {
    await c.cluster.sdn.zones.remove(id);
  },
};

// ---- vnet --------------------------------------------------------------------------------------------------
export const vnetKind: Kind<VnetSpec> = {
  what: "vnet",
  schema: () =>
    z.object({
      vnet: shortId("vnet"),
      zone: shortId("zone"),
      tag: z.number().int().min(1).max(16777215),
      alias: z.string().max(256).optional(),
    }),
  idOf: (s) => s.vnet,
  replaceOn: ["vnet", "zone"],
  async read(c, id) {
    const r = await readPending(c.cluster.sdn.vnets, id);
    if (!r) return undefined;
    return { spec: vnetFromApi({ ...r.cfg, vnet: id }), extra: pendingExtra(r.item) };
  },
  create: (c, s) => c.cluster.sdn.vnets.createVnet(s),
  update: (c, id, live, want) =>
    c.cluster.sdn.vnets.update(id, updateParams(vnetToApi(want), vnetToApi(live), VNET_KEYS)),
  async remove(c, id) {
    await c.cluster.sdn.vnets.remove(id);
  },
};

// ---- subnet ------------------------------------------------------------------------------------------------
/** Problems of an IPv4 CIDR + gateway: canonical network address, gateway inside (§2.7). */
export function subnetProblems(cidr: string, gateway?: string): CheckFailure[] {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr);
  if (!m || !isIPv4(m[1])) return [];
  const len = Number(m[2]);
  const out: CheckFailure[] = [];
  if (len < 8 || len > 32)
    out.push({ property: "cidr", reason: `cidr = '${cidr}': PVE accepts IPv4 prefixes /8 to /32` });
  const c = cidrOf(`${m[1]}/${Math.min(len, 32)}`)!;
  if (c.network.toString() !== m[1]) {
    out.push({
      property: "cidr",
      reason: `cidr = '${cidr}' has host bits set: PVE stores the id from the address as given; use '${cidrText(c)}'`,
    });
  }
  const gw = gateway ? parseIPv4(gateway) : undefined;
  if (gw && len < 32 && !cidrContains(c, gw))
    out.push({
      property: "gateway",
      reason: `gateway = '${gateway}' is not inside ${cidr}: pick an address of the subnet`,
    });
  return out;
}

export const subnetKind: Kind<SubnetSpec> = {
  what: "subnet",
  schema: () =>
    z.object({
      vnet: shortId("vnet"),
      zone: shortId("zone"),
      cidr: z.string().regex(/^[0-9a-fA-F.:]+\/\d{1,3}$/, "expected a CIDR like 10.1.1.0/24"),
      gateway: ip.optional(),
      snat: z.boolean().default(false),
    }) as unknown as z.ZodType<SubnetSpec>,
  problems: (s) => subnetProblems(s.cidr, s.gateway),
  idOf: (s) => subnetId(s.zone, s.cidr),
  replaceOn: ["vnet", "zone", "cidr"],
  async read(c, id, hint) {
    const r = await readPending(c.cluster.sdn.subnets.of(hint.vnet), id);
    if (!r) return undefined;
    const { id: _id, ...spec } = subnetFromApi({ ...r.cfg, id, vnet: hint.vnet });
    void _id;
    return { spec, extra: pendingExtra(r.item) };
  },
  create: (c, s) => c.cluster.sdn.subnets.createSubnet(s),
  update: (c, id, live, want) =>
    c.cluster.sdn.subnets
      .of(want.vnet)
      .update(id, updateParams(subnetToApi(want), subnetToApi(live), SUBNET_KEYS)),
  async remove(c, id, s) {
    await c.cluster.sdn.subnets.of(s.vnet).remove(id);
  },
};

export type { PveClient };
