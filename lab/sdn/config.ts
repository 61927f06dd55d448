// Reading PVE's running SDN config (`/etc/pve/sdn/.running-config`: `{version, controllers, zones, vnets,
// subnets}`, each `{ids: {<id>: {...}}}`) into typed records. PVE's Perl takes values loosely (numbers may be
// strings, booleans are 0/1, node lists are `{node: 1}` hashes), so this does too; anything it cannot read
// is an SdnConfigError that names the field, the value, the rule and the fix.
import { z } from "zod";
import { isIPv4, isIPv6 } from "./ip";

export class SdnConfigError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly rule: string,
    readonly fix: string,
  ) {
    super(`SDN config field ${field} = ${JSON.stringify(value)}: ${rule}. ${fix}`);
    this.name = "SdnConfigError";
  }
}

export interface EvpnController {
  id: string;
  type: string;
  asn?: number;
  peers: string[];
  fabric?: string;
  node?: string;
}

export interface Zone {
  id: string;
  type: string;
  nodes?: Set<string>;
  controller?: string;
  vrfVxlan?: number;
  mac?: string;
  exitnodes: Set<string>;
  exitnodesLocalRouting: boolean;
  exitnodesPrimary?: string;
  advertiseSubnets: boolean;
  disableArpNdSuppression: boolean;
  rtImport: string[];
  vxlanPort?: number;
  mtu?: number;
}

export interface Vnet {
  id: string;
  zone?: string;
  tag?: number;
  alias?: string;
}

export interface Subnet {
  id: string;
  /** The zone named in the subnet id (`<zone>-<network>-<mask>`); PVE's null routes key on this, not on the vnet. */
  zone: string;
  network: string;
  mask: string;
  cidr: string;
  vnet?: string;
  gateway?: string;
  snat: boolean;
}

export interface SdnConfig {
  version: string;
  present: { controllers: boolean; zones: boolean; vnets: boolean };
  controllers: Map<string, EvpnController>;
  zones: Map<string, Zone>;
  vnets: Map<string, Vnet>;
  subnets: Map<string, Subnet>;
}

const section = z.object({ ids: z.record(z.string(), z.record(z.string(), z.unknown())) }).optional();
const runningConfig = z.object({
  version: z.union([z.number(), z.string()]).optional(),
  controllers: section,
  zones: section,
  vnets: section,
  subnets: section,
});

type Raw = Record<string, unknown>;

function str(raw: Raw, key: string, field: string): string | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  throw new SdnConfigError(
    `${field}.${key}`,
    v,
    "must be a string",
    'Write it as PVE stores it, e.g. "value"',
  );
}

function int(
  raw: Raw,
  key: string,
  field: string,
  min: number,
  max: number,
  what: string,
): number | undefined {
  const v = str(raw, key, field);
  // Perl treats "" and "0" as unset; so do we (PVE writes `tag` etc. only when set).
  if (v === undefined || v === "" || v === "0") return undefined;
  const n = /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new SdnConfigError(
      `${field}.${key}`,
      raw[key],
      `must be an integer from ${min} to ${max}`,
      `Set ${what}`,
    );
  return n;
}

/** Perl truthiness of a config flag: undef, "", "0" and 0 are false. */
function flag(raw: Raw, key: string, field: string): boolean {
  const v = raw[key];
  if (v === undefined || v === null || v === false || v === 0 || v === "" || v === "0") return false;
  if (v === true || v === 1 || v === "1") return true;
  throw new SdnConfigError(`${field}.${key}`, v, "must be a boolean (0 or 1)", `Set ${key} to 1 or 0`);
}

/** PVE::Tools::split_list: items separated by commas, semicolons or whitespace. */
export function splitList(text: string): string[] {
  return text
    .replace(/[,;]/g, " ")
    .trim()
    .split(/\s+/)
    .filter((s) => s !== "");
}

/** A node list as PVE keeps it parsed (`{node1: 1, node2: 1}`), or as the API writes it (`"node1,node2"`). */
function nodeSet(raw: Raw, key: string, field: string): Set<string> | undefined {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return new Set(splitList(v));
  if (typeof v === "object" && !Array.isArray(v))
    return new Set(Object.entries(v as Raw).flatMap(([n, on]) => (on ? [n] : [])));
  throw new SdnConfigError(
    `${field}.${key}`,
    v,
    'must be a node list ({"node": 1} or "node1,node2")',
    `List the node names in ${key}`,
  );
}

export function readSdnConfig(input: unknown): SdnConfig {
  const parsed = runningConfig.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.join(".") || "(root)";
    throw new SdnConfigError(
      field,
      issue.path.reduce<unknown>((o, k) => (o as Raw | undefined)?.[k as string], input),
      `does not have the shape of PVE's running SDN config (${issue.message})`,
      "Pass the JSON PVE keeps in /etc/pve/sdn/.running-config: {version, controllers, zones, vnets, subnets}, each {ids: {...}}",
    );
  }
  const cfg = parsed.data;
  const controllers = new Map<string, EvpnController>();
  for (const [id, raw] of Object.entries(cfg.controllers?.ids ?? {})) {
    const f = `controllers.ids.${id}`;
    const peers = splitList(str(raw, "peers", f) ?? "");
    for (const p of peers)
      if (!isIPv4(p) && !isIPv6(p))
        throw new SdnConfigError(
          `${f}.peers`,
          raw.peers,
          `'${p}' is not an IP address`,
          "List the VTEP IPs of every node, comma-separated",
        );
    controllers.set(id, {
      id,
      type: str(raw, "type", f) ?? "",
      asn: int(raw, "asn", f, 1, 4294967295, "asn to the fabric's BGP AS number"),
      peers,
      fabric: str(raw, "fabric", f),
      node: str(raw, "node", f),
    });
  }

  const zones = new Map<string, Zone>();
  for (const [id, raw] of Object.entries(cfg.zones?.ids ?? {})) {
    const f = `zones.ids.${id}`;
    const mac = str(raw, "mac", f);
    if (mac && !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac))
      throw new SdnConfigError(
        `${f}.mac`,
        mac,
        "must be a MAC address like BC:24:11:00:00:01",
        "Set mac to the zone's anycast gateway MAC, or leave it out",
      );
    const rtImport = splitList(str(raw, "rt-import", f) ?? "");
    for (const rt of rtImport)
      if (!/^\d+:\d+$/.test(rt))
        throw new SdnConfigError(
          `${f}.rt-import`,
          raw["rt-import"],
          `'${rt}' is not a route target ASN:NN`,
          "Write route targets as 65000:1000, comma-separated",
        );
    zones.set(id, {
      id,
      type: str(raw, "type", f) ?? "",
      nodes: nodeSet(raw, "nodes", f),
      controller: str(raw, "controller", f),
      vrfVxlan: int(raw, "vrf-vxlan", f, 1, 16777215, "vrf-vxlan to the zone's L3 VNI"),
      mac,
      exitnodes: nodeSet(raw, "exitnodes", f) ?? new Set(),
      exitnodesLocalRouting: flag(raw, "exitnodes-local-routing", f),
      exitnodesPrimary: str(raw, "exitnodes-primary", f) || undefined,
      advertiseSubnets: flag(raw, "advertise-subnets", f),
      disableArpNdSuppression: flag(raw, "disable-arp-nd-suppression", f),
      rtImport,
      vxlanPort: int(raw, "vxlan-port", f, 1, 65535, "vxlan-port to a UDP port, or leave it out for 4789"),
      mtu: int(raw, "mtu", f, 68, 65535, "mtu to the vnet MTU, or leave it out for PVE's 1450"),
    });
  }

  const vnets = new Map<string, Vnet>();
  for (const [id, raw] of Object.entries(cfg.vnets?.ids ?? {})) {
    const f = `vnets.ids.${id}`;
    vnets.set(id, {
      id,
      zone: str(raw, "zone", f),
      tag: int(raw, "tag", f, 1, 16777216, "tag to the vnet's VXLAN VNI"),
      alias: str(raw, "alias", f),
    });
  }

  const subnets = new Map<string, Subnet>();
  for (const [id, raw] of Object.entries(cfg.subnets?.ids ?? {})) {
    const f = `subnets.ids.${id}`;
    const parts = id.split("-");
    const [zone, network, mask] = parts;
    const bits = isIPv4(network ?? "") ? 32 : isIPv6(network ?? "") ? 128 : 0;
    if (parts.length !== 3 || !bits || !/^\d+$/.test(mask) || Number(mask) > bits)
      throw new SdnConfigError(
        f,
        id,
        "a subnet id must be <zone>-<network address>-<prefix length>",
        "Use the id PVE gives the subnet, e.g. myzone-10.0.0.0-24",
      );
    const gateway = str(raw, "gateway", f);
    if (gateway && !isIPv4(gateway) && !isIPv6(gateway))
      throw new SdnConfigError(
        `${f}.gateway`,
        gateway,
        "must be an IP address",
        "Set gateway to an address inside the subnet, or leave it out",
      );
    subnets.set(id, {
      id,
      zone,
      network,
      mask,
      cidr: `${network}/${mask}`,
      vnet: str(raw, "vnet", f),
      gateway: gateway || undefined,
      snat: flag(raw, "snat", f),
    });
  }

  return {
    version: cfg.version === undefined ? "" : String(cfg.version),
    present: { controllers: !!cfg.controllers, zones: !!cfg.zones, vnets: !!cfg.vnets },
    controllers,
    zones,
    vnets,
    subnets,
  };
}
