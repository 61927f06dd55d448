// SDN endpoints (reference §2): controllers, zones, vnets, subnets with default / pending=1 / running=1
// reads, per-file digests, `delete`, apply with a task, 9.x global lock + `lock-token`, node SDN status.
// Validation follows pve-network's plugins: which checks are schema 400s, which are 500s (`die`), and
// which param exceptions get re-thrown as 500 strings by `lock_sdn_config`.
import { randomBytes } from "node:crypto";
import { die, dieAt, paramError, PveError, wrapLocked } from "./errors";
import {
  bool,
  cidrContains,
  deleteList,
  digest,
  ipFormat,
  ipListFormat,
  nodeName,
  optInt,
  optStr,
  parseCidr,
  parseIp,
  type Params,
  type Schema,
  type Spec,
} from "./schema";
import type { Ctx, Emulator, PveVersion, Route } from "./server";
import {
  emptySdn,
  sectionText,
  sha1,
  SDN_KINDS,
  type RunningConfig,
  type Section,
  type SectionCfg,
  type SdnKind,
} from "./state";

const idFormat = (what: string) => (v: string) => {
  if (!/^[a-z][a-z0-9]*[a-z0-9]$/i.test(v)) return `${what} ID '${v}' contains illegal characters`;
  if (v.length > 8) return `${what} ID '${v}' can't be more length than 8 characters`;
  return undefined;
};
const zoneId: Spec = { type: "string", format: idFormat("zone") };
const vnetId: Spec = { type: "string", format: idFormat("vnet") };
const controllerId: Spec = {
  type: "string",
  maxLength: 64,
  format: (v) => (/^[a-z][a-z0-9_-]*[a-z0-9]$/i.test(v) ? undefined : `invalid configuration ID '${v}'`),
};
const subnetId: Spec = {
  type: "string",
  format: (v) => {
    const cidr = v.includes("/") ? v : v.split("-").slice(1).join("/");
    const c = parseCidr(cidr);
    return c && c.len >= 8 ? undefined : "value does not look like a valid CIDR network";
  },
};
const nodeList: Spec = {
  type: "string",
  optional: true,
  list: true,
  format: (v) =>
    v.split(/[,; ]+/).every((n) => /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(n))
      ? undefined
      : "value does not look like a valid node list",
};
const macFormat = (v: string) =>
  /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(v) ? undefined : `value does not look like a valid MAC address`;
const rtList = (v: string) =>
  v.split(",").every((rt) => /^(\d+):(\d+)$/.test(rt))
    ? undefined
    : "value does not look like a valid bgp route-target";
const lockToken = (v: PveVersion): Schema => (v.startsWith("9") ? { "lock-token": optStr() } : {});
const readFlags: Schema = { pending: bool, running: bool };

// ---- per-type option sets (which keys a type accepts, which it requires) ----
type Opts = Record<string, "req" | "opt">;
const zoneCommon: Opts = {
  nodes: "opt",
  mtu: "opt",
  ipam: "opt",
  dns: "opt",
  reversedns: "opt",
  dnszone: "opt",
};
function zoneTypes(v: PveVersion): Record<string, Opts> {
  const v9 = v.startsWith("9");
  return {
    evpn: {
      ...zoneCommon,
      controller: "req",
      "vrf-vxlan": "req",
      mac: "opt",
      exitnodes: "opt",
      "exitnodes-primary": "opt",
      "exitnodes-local-routing": "opt",
      "advertise-subnets": "opt",
      "disable-arp-nd-suppression": "opt",
      "rt-import": "opt",
      "vxlan-port": "opt",
      "bridge-disable-mac-learning": "opt",
    },
    simple: { ...zoneCommon, dhcp: "opt" },
    vlan: { ...zoneCommon, bridge: "req", "bridge-disable-mac-learning": "opt" },
    qinq: {
      ...zoneCommon,
      bridge: "req",
      tag: "req",
      "vlan-protocol": "opt",
      "bridge-disable-mac-learning": "opt",
    },
    vxlan: {
      ...zoneCommon,
      peers: v9 ? "opt" : "req",
      ...(v9 ? { fabric: "opt" } : {}),
      "vxlan-port": "opt",
      "bridge-disable-mac-learning": "opt",
    },
    faucet: { ...zoneCommon, "dp-id": "opt" },
  };
}
function controllerTypes(v: PveVersion): Record<string, Opts> {
  const v9 = v.startsWith("9");
  return {
    evpn: { asn: "req", peers: v9 ? "opt" : "req", ...(v9 ? { fabric: "opt" } : {}) },
    bgp: {
      node: "req",
      asn: "req",
      peers: "req",
      ebgp: "opt",
      "ebgp-multihop": "opt",
      "bgp-multipath-as-path-relax": "opt",
      loopback: "opt",
    },
    isis: { node: "req", "isis-domain": "req", "isis-net": "req", "isis-ifaces": "req", loopback: "opt" },
    faucet: {},
  };
}
const vnetOpts: Opts = { zone: "req", tag: "opt", alias: "opt", vlanaware: "opt", "isolate-ports": "opt" };
const subnetOpts: Opts = {
  vnet: "req",
  gateway: "opt",
  snat: "opt",
  "dhcp-range": "opt",
  "dhcp-dns-server": "opt",
  dnszoneprefix: "opt",
};

function zoneProps(v: PveVersion): Schema {
  const v9 = v.startsWith("9");
  return {
    nodes: nodeList,
    mtu: optInt(),
    ipam: optStr(),
    dns: optStr(),
    reversedns: optStr(),
    dnszone: optStr(),
    controller: optStr(),
    "vrf-vxlan": v9 ? optInt(1, 16777215) : optInt(),
    mac: optStr({ format: macFormat }),
    exitnodes: nodeList,
    "exitnodes-primary": optStr({ format: nodeName.format }),
    "exitnodes-local-routing": bool,
    "advertise-subnets": bool,
    "disable-arp-nd-suppression": bool,
    "rt-import": optStr({ format: rtList, list: true }),
    "vxlan-port": optInt(1, 65536),
    "bridge-disable-mac-learning": bool,
    dhcp: optStr({ enum: ["dnsmasq"] }),
    bridge: optStr(),
    tag: optInt(0),
    "vlan-protocol": optStr({ enum: ["802.1q", "802.1ad"] }),
    peers: optStr({ format: ipListFormat, list: true }),
    "dp-id": optInt(),
    ...(v9 ? { fabric: optStr() } : {}),
  };
}
function controllerProps(v: PveVersion): Schema {
  const v9 = v.startsWith("9");
  return {
    asn: optInt(0, 4294967295 + (v9 ? 0 : 1)),
    peers: optStr({ format: ipListFormat, list: true }),
    ...(v9 ? { fabric: optStr() } : {}),
    node: optStr({ format: nodeName.format }),
    ebgp: bool,
    "ebgp-multihop": optInt(),
    "bgp-multipath-as-path-relax": bool,
    loopback: optStr(),
    "isis-domain": optStr(),
    "isis-net": optStr(),
    "isis-ifaces": optStr({ list: true }),
  };
}
function vnetProps(v: PveVersion): Schema {
  return {
    zone: optStr({ format: idFormat("zone") }),
    tag: v.startsWith("9") ? optInt(1, 16777215) : optInt(),
    alias: optStr({ maxLength: 256, pattern: "[\\(\\)-_.\\w\\d\\s]{0,256}" }),
    vlanaware: bool,
    "isolate-ports": bool,
  };
}
const subnetProps: Schema = {
  gateway: optStr({ format: ipFormat }),
  snat: bool,
  "dhcp-range": { type: "array", optional: true },
  "dhcp-dns-server": optStr({ format: ipFormat }),
  dnszoneprefix: optStr(),
};

const ZONE_TYPES = ["evpn", "faucet", "qinq", "simple", "vlan", "vxlan"];
const CONTROLLER_TYPES = ["bgp", "evpn", "faucet", "isis"];

// ---- SectionConfig semantics ----
const LIST_KEYS = new Set(["nodes", "exitnodes"]);
/** `encode_value`: node lists compare as sorted, comma-joined strings. */
function encode(key: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (LIST_KEYS.has(key) || key === "dhcp-range") {
    if (Array.isArray(v)) return [...v].sort().join(",");
    if (typeof v === "object" && v) return Object.keys(v).sort().join(",");
  }
  return String(v);
}

/** `check_config`: type-specific keys only; on create every required key must be present. */
function checkConfig(opts: Opts, params: Params, create: boolean, skip: string[]): Section {
  const out: Section = {};
  for (const [k, v] of Object.entries(params)) {
    if (skip.includes(k)) continue;
    if (!(k in opts)) die(`unexpected property '${k}'`);
    out[k] = LIST_KEYS.has(k)
      ? Object.fromEntries(
          String(v)
            .split(/[,; ]+/)
            .filter((x) => x)
            .map((n) => [n, 1]),
        )
      : v;
  }
  if (create)
    for (const [k, r] of Object.entries(opts))
      if (r === "req" && out[k] === undefined) die(`missing value for required option '${k}'`);
  return out;
}

/** `delete_from_config`. */
function applyDelete(section: Section, opts: Opts, set: Section, del: Params["delete"] | undefined): void {
  if (del === undefined) return;
  for (const k of String(del)
    .split(/[,; ]+/)
    .filter((x) => x)) {
    if (!(k in opts)) die(`no such option '${k}'`);
    if (opts[k] === "req") die(`unable to delete required option '${k}'`);
    if (set[k] !== undefined) die(`cannot set and delete property '${k}' at the same time!`);
    delete section[k];
  }
}

function assertDigest(cfg: SectionCfg, given: Params["digest"]): void {
  if (given !== undefined && given !== sha1(sectionText(cfg)))
    die("detected modified configuration - file changed by other user? Try again.");
}

/** The 9.x global lock, checked inside `lock_sdn_config` like PVE (SDN.pm line 291). */
function checkLock(emu: Emulator, token: Params[string] | undefined): void {
  const held = emu.state.lockToken;
  if (held !== undefined && token !== held) dieAt("invalid lock token provided!", "PVE/Network/SDN.pm", 291);
}

function locked<T>(ctx: Ctx, op: string, fn: () => T): T {
  return wrapLocked(op, () => {
    checkLock(ctx.emu, ctx.params["lock-token"]);
    const r = fn();
    ctx.emu.save();
    return r;
  });
}

function randomMac(): string {
  // PVE's default datacenter mac_prefix BC:24:11 with a random tail.
  return [
    "BC",
    "24",
    "11",
    ...[...randomBytes(3)].map((b) => b.toString(16).toUpperCase().padStart(2, "0")),
  ].join(":");
}

/** UUIDv7, as the 9.x lock token. */
function uuidv7(): string {
  const b = randomBytes(16);
  const ms = BigInt(Date.now());
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---- reads ----
type Obj = Record<string, unknown>;

/** `pending_config`: the running-vs-pending diff of one object kind (reference §2.4). */
export function pendingDiff(running: SectionCfg, config: SectionCfg): Record<string, Obj> {
  const out: Record<string, Obj> = {};
  const ro = running.ids;
  const co = config.ids;
  for (const id of Object.keys(ro).sort()) {
    const r = ro[id];
    const c = co[id];
    const p: Obj = (out[id] = {});
    for (const key of Object.keys(r).sort()) {
      p[key] = r[key];
      if (!c || Object.keys(c).length === 0) p.state = "deleted";
      else if (c[key] === undefined) {
        ((p.pending ??= {}) as Obj)[key] = "deleted";
        p.state = "changed";
      } else if (encode(key, r[key]) !== encode(key, c[key])) p.state = "changed";
    }
    if (p.state && p.pending === undefined) p.pending = {};
  }
  for (const id of Object.keys(co).sort()) {
    const r = ro[id];
    const c = co[id];
    const p: Obj = (out[id] ??= {});
    for (const key of Object.keys(c).sort()) {
      const cv = encode(key, c[key]);
      const rv = r ? encode(key, r[key]) : undefined;
      if (key === "type" || key === "vnet") p[key] = cv;
      else if (rv === undefined || cv !== rv) ((p.pending ??= {}) as Obj)[key] = c[key];
      if (!r || Object.keys(r).length === 0) p.state = "new";
      else if (rv === undefined && cv !== undefined) p.state = "changed";
    }
    if (p.state && p.pending === undefined) p.pending = {};
  }
  return out;
}

function readSet(
  emu: Emulator,
  kind: SdnKind,
  params: Params,
): { ids: Record<string, Obj>; digest: string | null } {
  const st = emu.state;
  if (params.pending === 1) return { ids: pendingDiff(st.running[kind], st.sdn[kind]), digest: null };
  if (params.running === 1) return { ids: st.running[kind].ids as Record<string, Obj>, digest: null };
  return { ids: st.sdn[kind].ids as Record<string, Obj>, digest: sha1(sectionText(st.sdn[kind])) };
}

function encodeLists(o: Obj): void {
  for (const k of ["nodes", "exitnodes"])
    if (o[k] !== undefined && typeof o[k] === "object") o[k] = encode(k, o[k]);
}

function render(kind: SdnKind, id: string, src: Obj, digestValue: string | null): Obj {
  const o: Obj = JSON.parse(JSON.stringify(src));
  const idKey = { zones: "zone", vnets: "vnet", subnets: "subnet", controllers: "controller" }[kind];
  o[idKey] = id;
  o.digest = digestValue;
  encodeLists(o);
  if (o.pending && typeof o.pending === "object") encodeLists(o.pending as Obj);
  if (kind === "subnets") {
    const [zone, network, mask] = id.split("-");
    Object.assign(o, { id, cidr: `${network}/${mask}`, zone, network, mask });
    o["dhcp-range"] = ((src["dhcp-range"] as string[] | undefined) ?? []).map((r) => {
      const kv = Object.fromEntries(r.split(",").map((p) => p.split("=")));
      return { "start-address": kv["start-address"], "end-address": kv["end-address"] };
    });
  }
  return o;
}

const notFound: Record<SdnKind, (id: string) => string> = {
  zones: (id) => `sdn '${id}' does not exist`,
  controllers: (id) => `sdn '${id}' does not exist`,
  vnets: (id) => `sdn vnet '${id}' does not exist`,
  subnets: (id) => `sdn subnet '${id}' does not exist`,
};

function listHandler(kind: SdnKind) {
  return ({ emu, params }: Ctx) => {
    const { ids, digest: d } = readSet(emu, kind, params);
    return Object.keys(ids)
      .sort()
      .map((id) => render(kind, id, ids[id], d))
      .filter((o) => params.type === undefined || o.type === params.type);
  };
}
function readHandler(kind: SdnKind, idParam: string) {
  return ({ emu, params }: Ctx) => {
    const { ids, digest: d } = readSet(emu, kind, params);
    const id = String(params[idParam]);
    if (!ids[id]) die(notFound[kind](id));
    return render(kind, id, ids[id], d);
  };
}

// ---- semantic checks (plugins' on_update_hook / on_delete_hook) ----
function zoneUpdateHook(emu: Emulator, id: string, zones: SectionCfg): void {
  const z = zones.ids[id];
  if (z.type !== "evpn") return;
  const ctl = emu.state.sdn.controllers.ids[String(z.controller)];
  if (!ctl) dieAt(`controller ${z.controller} don't exist`, "PVE/Network/SDN/Zones/EvpnPlugin.pm", 354);
  if (ctl.type !== "evpn")
    dieAt(`${z.controller} is not a evpn controller type`, "PVE/Network/SDN/Zones/EvpnPlugin.pm", 356);
  for (const [other, oz] of Object.entries(zones.ids))
    if (other !== id && oz["vrf-vxlan"] !== undefined && String(oz["vrf-vxlan"]) === String(z["vrf-vxlan"]))
      dieAt(
        `vrf-vxlan ${z["vrf-vxlan"]} is already declared in ${other}`,
        "PVE/Network/SDN/Zones/EvpnPlugin.pm",
        366,
      );
  // The anycast MAC is generated whenever it is unset (reference §6.4: drift if you delete it).
  if (z.mac === undefined) z.mac = randomMac();
}
function zoneRefChecks(z: Section): void {
  if (z.dns !== undefined) paramError({ dns: `${z.dns} don't exist` });
  if (z.reversedns !== undefined) paramError({ reversedns: `${z.reversedns} don't exist` });
  if (z.dnszone !== undefined && z.dns === undefined) paramError({ dnszone: "missing dns server" });
  if (z.ipam !== undefined && z.ipam !== "pve") paramError({ ipam: `${z.ipam} not existing` });
}
function vnetUpdateHook(emu: Emulator, id: string, vnets: SectionCfg): void {
  const v = vnets.ids[id];
  const zones = emu.state.sdn.zones.ids;
  const zone = zones[String(v.zone)];
  if (!zone) die(`unknown section type ''`); // PVE looks up the zone plugin of a missing zone
  if (zone.type === "evpn" || zone.type === "vxlan") {
    if (v.tag === undefined) paramError({ tag: "missing vxlan tag" });
    if (Number(v.tag) > 16777216) paramError({ tag: "vxlan tag max value is 16777216" });
    if (zone.type === "evpn" && v.vlanaware)
      paramError({ "vlan-aware": "vlan-aware option can't be enabled with evpn" });
    for (const [other, ov] of Object.entries(vnets.ids)) {
      if (other === id) continue;
      const oz = zones[String(ov.zone)];
      if (!oz || (oz.type !== "vxlan" && oz.type !== "evpn")) continue;
      if (ov.tag !== undefined && String(ov.tag) === String(v.tag))
        paramError({ tag: `vxlan tag ${v.tag} already exist in vnet ${other} in zone ${ov.zone} ` });
    }
  }
  if (v.vlanaware && subnetsOf(emu.state.sdn.subnets, id).length > 0)
    paramError({ vlanaware: "vlanaware vnet is not compatible with subnets" });
}
const subnetsOf = (subnets: SectionCfg, vnet: string) =>
  Object.keys(subnets.ids).filter((s) => subnets.ids[s].vnet === vnet);

function subnetUpdateHook(emu: Emulator, id: string, s: Section): void {
  const vnet = emu.state.sdn.vnets.ids[String(s.vnet)];
  if (!vnet) paramError({ vnet: `${s.vnet} don't exist` });
  if (vnet.vlanaware) paramError({ vnet: "you can't add a subnet on a vlanaware vnet" });
  const [, network, mask] = id.split("-");
  const cidrText = `${network}/${mask}`;
  const cidr = parseCidr(cidrText)!;
  const gw = s.gateway === undefined ? undefined : String(s.gateway);
  const p2p = gw !== undefined && parseIp(gw)?.v === 4 && cidr.len === 32;
  if (gw !== undefined && !cidrContains(cidr, gw) && !p2p)
    paramError({ gateway: `${gw} is not in subnet ${cidrText}` });
  const ranges: [bigint, bigint][] = [];
  for (const r of (s["dhcp-range"] as string[] | undefined) ?? []) {
    const kv = Object.fromEntries(r.split(",").map((p) => p.split("=")));
    const [a, b] = [kv["start-address"], kv["end-address"]];
    const pa = a ? parseIp(a) : undefined;
    const pb = b ? parseIp(b) : undefined;
    if (!pa) paramError({ "dhcp-range": `start-address is not a valid IP ${a}` });
    if (!pb) paramError({ "dhcp-range": `end-address is not a valid IP ${b}` });
    if (!cidrContains(cidr, a))
      paramError({ "dhcp-range": `start-address ${a} is not in subnet ${cidrText}` });
    if (!cidrContains(cidr, b)) paramError({ "dhcp-range": `end-address ${b} is not in subnet ${cidrText}` });
    if (pa.addr > pb.addr)
      paramError({ "dhcp-range": `start-address ${a} must be smaller than end-address ${b}` });
    if (ranges.some(([x, y]) => pa.addr <= y && x <= pb.addr))
      paramError({ "dhcp-range": "dhcp ranges must not overlap" });
    ranges.push([pa.addr, pb.addr]);
  }
}

function controllerUpdateHook(emu: Emulator, id: string, ctls: SectionCfg): void {
  const c = ctls.ids[id];
  if (c.type === "evpn" && Object.entries(ctls.ids).some(([o, oc]) => o !== id && oc.type === "evpn"))
    dieAt("only 1 global evpn controller can be defined", "PVE/Network/SDN/Controllers/EvpnPlugin.pm", 491);
  if (emu.isV9() && c.type === "evpn" && (c.peers !== undefined) === (c.fabric !== undefined))
    dieAt(
      "must have exactly one of peers / fabric defined",
      "PVE/Network/SDN/Controllers/EvpnPlugin.pm",
      496,
    );
  if (c.type === "bgp" || c.type === "isis")
    for (const [o, oc] of Object.entries(ctls.ids))
      if (o !== id && oc.type === c.type && oc.node === c.node)
        die(`${c.type} controller for node ${c.node} is already defined`);
}

// ---- apply ----
function commit(emu: Emulator): RunningConfig {
  const running: RunningConfig = {
    version: emu.state.running.version + 1,
    ...JSON.parse(JSON.stringify(emu.state.sdn)),
  };
  emu.state.running = running;
  return running;
}

export function hasPendingChanges(emu: Emulator): boolean {
  return SDN_KINDS.some((k) =>
    Object.values(pendingDiff(emu.state.running[k], emu.state.sdn[k])).some((o) => o.pending !== undefined),
  );
}

function apply(ctx: Ctx): string {
  const { emu, params, user } = ctx;
  const running = wrapLocked("could not commit SDN config", () => {
    checkLock(emu, params["lock-token"]);
    const r = commit(emu);
    if (params["lock-token"] !== undefined && params["release-lock"] !== 0) delete emu.state.lockToken;
    emu.save();
    return r;
  });
  const faults = emu.readFaults();
  if (faults.applyNoWorker && faults.applyNoWorker > 0) {
    // The commit above already happened: PVE forks the worker after committing (reference §2.3 step 4).
    emu.writeFaults({ ...faults, applyNoWorker: faults.applyNoWorker - 1 });
    throw new PveError(500, "got no worker upid - start worker failed\n");
  }
  const serving = emu.nodes[0].name;
  return emu.startTask(
    serving,
    "reloadnetworkall",
    "",
    user,
    async (log) => {
      let warnings = 0;
      for (const node of emu.nodes.map((n) => n.name)) {
        log(`${node}: reloading network config`);
        if (!emu.isOnline(node)) {
          // Launch failures for a node are only warnings of the outer task (reference §2.3 step 3).
          log(`command 'pvesh set /nodes/${node}/network --regenerate-frr 1' failed: exit code 255`);
          warnings++;
          continue;
        }
        await reloadNode(emu, node, running, user);
      }
      return warnings > 0 ? `WARNINGS: ${warnings}` : "OK";
    },
    "apply",
  );
}

/** One node's `srvreload` task: realise the running config there; a failure stays in that task. */
function reloadNode(emu: Emulator, node: string, running: RunningConfig, user: string): Promise<void> {
  return new Promise((resolve) => {
    const upid = emu.startTask(node, "srvreload", "networking", user, async (log) => {
      const snapshot = JSON.parse(JSON.stringify(running)) as RunningConfig;
      try {
        const injected = emu.readFaults().reloadFail?.[node];
        if (injected !== undefined) throw new Error(injected);
        await emu.realize(node, snapshot);
        emu.state.nodeSdn[node] = { version: snapshot.version, failed: false };
        log("reloading network config done");
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        emu.state.nodeSdn[node] = {
          ...(emu.state.nodeSdn[node] ?? { version: 0 }),
          failed: true,
          message: msg,
        };
        throw new Error(msg);
      } finally {
        emu.save();
      }
    });
    const poll = () => (emu.findTask(upid)?.status === "stopped" ? resolve() : setTimeout(poll, 5));
    poll();
  });
}

/** Zones of the running config deployed on `node` (zone `nodes` unset = all nodes). */
function nodeZoneStatus(emu: Emulator, node: string): { zone: string; status: string }[] {
  const running = emu.state.running;
  const ns = emu.state.nodeSdn[node] ?? { version: 0, failed: false };
  return Object.keys(running.zones.ids)
    .sort()
    .filter((z) => {
      const nodes = running.zones.ids[z].nodes;
      return nodes === undefined || (typeof nodes === "object" && node in nodes);
    })
    .map((zone) => ({
      zone,
      status: ns.failed ? "error" : ns.version < running.version ? "pending" : "available",
    }));
}

// ---- routes ----
export function sdnRoutes(): Route[] {
  const r: Route[] = [];
  const add = (x: Route) => r.push(x);

  add({
    method: "GET",
    path: "/cluster/sdn",
    schema: () => ({}),
    handler: ({ emu }) => [
      { id: "vnets" },
      { id: "zones" },
      { id: "controllers" },
      { id: "ipams" },
      { id: "dns" },
      ...(emu.isV9() ? [{ id: "fabrics" }] : []),
    ],
  });
  add({
    method: "PUT",
    path: "/cluster/sdn",
    schema: (v): Schema => (v.startsWith("9") ? { "lock-token": optStr(), "release-lock": bool } : {}),
    handler: apply,
  });

  add({
    method: "POST",
    path: "/cluster/sdn/lock",
    v9only: true,
    schema: () => ({ "allow-pending": bool }),
    handler: ({ emu, params }) =>
      wrapLocked("could not acquire lock for SDN config", () => {
        checkLock(emu, undefined);
        if (params["allow-pending"] !== 1 && hasPendingChanges(emu))
          dieAt("configuration has pending changes", "PVE/API2/Network/SDN.pm", 175);
        const token = uuidv7();
        emu.state.lockToken = token;
        emu.save();
        return token;
      }),
  });
  add({
    method: "DELETE",
    path: "/cluster/sdn/lock",
    v9only: true,
    schema: () => ({ "lock-token": optStr(), force: bool }),
    handler: ({ emu, params }) => {
      if (params.force !== 1)
        wrapLocked("could not release lock", () => checkLock(emu, params["lock-token"]));
      delete emu.state.lockToken;
      emu.save();
      return null;
    },
  });
  add({
    method: "POST",
    path: "/cluster/sdn/rollback",
    v9only: true,
    schema: () => ({ "lock-token": optStr(), "release-lock": bool }),
    handler: ({ emu, params }) =>
      wrapLocked("could not rollback SDN configuration", () => {
        checkLock(emu, params["lock-token"]);
        const cfgs = JSON.parse(JSON.stringify(emu.state.running)) as Partial<RunningConfig>;
        delete cfgs.version;
        emu.state.sdn = { ...emptySdn(), ...cfgs };
        if (params["lock-token"] !== undefined && params["release-lock"] !== 0) delete emu.state.lockToken;
        emu.save();
        return null;
      }),
  });
  add({
    method: "GET",
    path: "/cluster/sdn/ipams",
    schema: () => ({ type: optStr() }),
    handler: () => [{ ipam: "pve", type: "pve" }],
  });

  // Zones
  add({
    method: "GET",
    path: "/cluster/sdn/zones",
    schema: () => ({ type: optStr({ enum: ZONE_TYPES }), ...readFlags }),
    handler: listHandler("zones"),
  });
  add({
    method: "GET",
    path: "/cluster/sdn/zones/{zone}",
    schema: () => ({ zone: zoneId, ...readFlags }),
    handler: readHandler("zones", "zone"),
  });
  add({
    method: "POST",
    path: "/cluster/sdn/zones",
    schema: (v) => ({
      zone: zoneId,
      type: { type: "string", enum: ZONE_TYPES },
      ...zoneProps(v),
      ...lockToken(v),
    }),
    handler: (ctx) => {
      const { emu, params } = ctx;
      const id = String(params.zone);
      const opts = checkConfig(zoneTypes(emu.version)[String(params.type)], params, true, [
        "zone",
        "type",
        "lock-token",
      ]);
      return locked(ctx, "create sdn zone object failed", () => {
        const zones = emu.state.sdn.zones;
        if (zones.ids[id]) die(`sdn zone object ID '${id}' already defined`);
        zoneRefChecks(opts);
        const next: SectionCfg = { ids: { ...zones.ids, [id]: { type: String(params.type), ...opts } } };
        zoneUpdateHook(emu, id, next);
        emu.state.sdn.zones = next;
        return null;
      });
    },
  });
  add({
    method: "PUT",
    path: "/cluster/sdn/zones/{zone}",
    schema: (v) => ({ zone: zoneId, ...zoneProps(v), delete: deleteList, digest, ...lockToken(v) }),
    handler: (ctx) => {
      const { emu, params } = ctx;
      const id = String(params.zone);
      return locked(ctx, "update sdn zone object failed", () => {
        const zones = emu.state.sdn.zones;
        assertDigest(zones, params.digest);
        const cur = zones.ids[id];
        if (!cur) die(notFound.zones(id));
        const opts = zoneTypes(emu.version)[String(cur.type)];
        const set = checkConfig(opts, params, false, ["zone", "delete", "digest", "lock-token"]);
        const next = JSON.parse(JSON.stringify(cur)) as Section;
        applyDelete(next, opts, set, params.delete);
        Object.assign(next, set);
        if (
          (next.ipam ?? "") !== (cur.ipam ?? "") &&
          Object.keys(emu.state.sdn.subnets.ids).some((s) => s.startsWith(`${id}-`))
        )
          paramError({ ipam: "can't change ipam if a subnet is already defined in this zone" });
        zoneRefChecks(next);
        const cfg: SectionCfg = { ids: { ...zones.ids, [id]: next } };
        zoneUpdateHook(emu, id, cfg);
        emu.state.sdn.zones = cfg;
        return null;
      });
    },
  });
  add({
    method: "DELETE",
    path: "/cluster/sdn/zones/{zone}",
    schema: (v) => ({ zone: zoneId, ...lockToken(v) }),
    handler: (ctx) => {
      const id = String(ctx.params.zone);
      return locked(ctx, "delete sdn zone object failed", () => {
        const st = ctx.emu.state;
        if (!st.sdn.zones.ids[id]) die(notFound.zones(id));
        for (const [vnet, v] of Object.entries(st.sdn.vnets.ids))
          if (v.zone === id)
            dieAt(`zone ${id} is used by vnet ${vnet}`, "PVE/Network/SDN/Zones/Plugin.pm", 148);
        delete st.sdn.zones.ids[id];
        return null;
      });
    },
  });

  // Controllers
  add({
    method: "GET",
    path: "/cluster/sdn/controllers",
    schema: () => ({ type: optStr({ enum: CONTROLLER_TYPES }), ...readFlags }),
    handler: listHandler("controllers"),
  });
  add({
    method: "GET",
    path: "/cluster/sdn/controllers/{controller}",
    schema: () => ({ controller: controllerId, ...readFlags }),
    handler: readHandler("controllers", "controller"),
  });
  add({
    method: "POST",
    path: "/cluster/sdn/controllers",
    schema: (v) => ({
      controller: controllerId,
      type: { type: "string", enum: CONTROLLER_TYPES },
      ...controllerProps(v),
      ...lockToken(v),
    }),
    handler: (ctx) => {
      const { emu, params } = ctx;
      const id = String(params.controller);
      const opts = checkConfig(controllerTypes(emu.version)[String(params.type)], params, true, [
        "controller",
        "type",
        "lock-token",
      ]);
      return locked(ctx, "create sdn controller object failed", () => {
        const ctls = emu.state.sdn.controllers;
        if (ctls.ids[id]) die(`sdn controller object ID '${id}' already defined`);
        const next: SectionCfg = { ids: { ...ctls.ids, [id]: { type: String(params.type), ...opts } } };
        controllerUpdateHook(emu, id, next);
        emu.state.sdn.controllers = next;
        return null;
      });
    },
  });
  add({
    method: "PUT",
    path: "/cluster/sdn/controllers/{controller}",
    schema: (v) => ({
      controller: controllerId,
      ...controllerProps(v),
      delete: deleteList,
      digest,
      ...lockToken(v),
    }),
    handler: (ctx) => {
      const { emu, params } = ctx;
      const id = String(params.controller);
      return locked(ctx, "update sdn controller object failed", () => {
        const ctls = emu.state.sdn.controllers;
        assertDigest(ctls, params.digest);
        const cur = ctls.ids[id];
        if (!cur) die(notFound.controllers(id));
        const opts = controllerTypes(emu.version)[String(cur.type)];
        const set = checkConfig(opts, params, false, ["controller", "delete", "digest", "lock-token"]);
        const next = JSON.parse(JSON.stringify(cur)) as Section;
        applyDelete(next, opts, set, params.delete);
        Object.assign(next, set);
        const cfg: SectionCfg = { ids: { ...ctls.ids, [id]: next } };
        controllerUpdateHook(emu, id, cfg);
        emu.state.sdn.controllers = cfg;
        return null;
      });
    },
  });
  add({
    method: "DELETE",
    path: "/cluster/sdn/controllers/{controller}",
    schema: (v) => ({ controller: controllerId, ...lockToken(v) }),
    handler: (ctx) => {
      const id = String(ctx.params.controller);
      return locked(ctx, "delete sdn controller object failed", () => {
        const st = ctx.emu.state;
        if (!st.sdn.controllers.ids[id]) die(notFound.controllers(id));
        for (const [zone, z] of Object.entries(st.sdn.zones.ids))
          if (z.controller === id)
            dieAt(`controller ${id} is used by ${zone}`, "PVE/Network/SDN/Controllers/EvpnPlugin.pm", 475);
        delete st.sdn.controllers.ids[id];
        return null;
      });
    },
  });

  // VNets
  add({
    method: "GET",
    path: "/cluster/sdn/vnets",
    schema: () => ({ ...readFlags }),
    handler: listHandler("vnets"),
  });
  add({
    method: "GET",
    path: "/cluster/sdn/vnets/{vnet}",
    schema: () => ({ vnet: vnetId, ...readFlags }),
    handler: readHandler("vnets", "vnet"),
  });
  add({
    method: "POST",
    path: "/cluster/sdn/vnets",
    schema: (v) => ({
      vnet: vnetId,
      type: optStr({ enum: ["vnet"] }),
      ...vnetProps(v),
      zone: { type: "string", format: idFormat("zone") },
      ...lockToken(v),
    }),
    handler: (ctx) => {
      const { emu, params } = ctx;
      const id = String(params.vnet);
      return locked(ctx, "create sdn vnet object failed", () => {
        const opts = checkConfig(vnetOpts, params, true, ["vnet", "type", "lock-token"]);
        const vnets = emu.state.sdn.vnets;
        if (vnets.ids[id]) die(`sdn vnet object ID '${id}' already defined`);
        const next: SectionCfg = { ids: { ...vnets.ids, [id]: { type: "vnet", ...opts } } };
        vnetUpdateHook(emu, id, next);
        emu.state.sdn.vnets = next;
        return null;
      });
    },
  });
  add({
    method: "PUT",
    path: "/cluster/sdn/vnets/{vnet}",
    schema: (v) => ({ vnet: vnetId, ...vnetProps(v), delete: deleteList, digest, ...lockToken(v) }),
    handler: (ctx) => {
      const { emu, params } = ctx;
      const id = String(params.vnet);
      const vnets = emu.state.sdn.vnets;
      if (!vnets.ids[id]) die(notFound.vnets(id)); // the access check reads the vnet before locking
      return locked(ctx, "update sdn vnet object failed", () => {
        assertDigest(vnets, params.digest);
        const cur = vnets.ids[id];
        const set = checkConfig(vnetOpts, params, false, ["vnet", "delete", "digest", "lock-token"]);
        const next = JSON.parse(JSON.stringify(cur)) as Section;
        const delList = params.delete === undefined ? [] : String(params.delete).split(/[,; ]+/);
        if (delList.includes("zone") && set.zone === undefined) paramError({ zone: "cannot delete zone" });
        applyDelete(next, vnetOpts, set, params.delete);
        Object.assign(next, set);
        if (subnetsOf(emu.state.sdn.subnets, id).length > 0 && next.zone !== cur.zone)
          paramError({ zone: "can't change zone if subnets exist" });
        const cfg: SectionCfg = { ids: { ...vnets.ids, [id]: next } };
        vnetUpdateHook(emu, id, cfg);
        emu.state.sdn.vnets = cfg;
        return null;
      });
    },
  });
  add({
    method: "DELETE",
    path: "/cluster/sdn/vnets/{vnet}",
    schema: (v) => ({ vnet: vnetId, ...lockToken(v) }),
    handler: (ctx) => {
      const id = String(ctx.params.vnet);
      const st = ctx.emu.state;
      if (!st.sdn.vnets.ids[id]) die(notFound.vnets(id));
      return locked(ctx, "delete sdn vnet object failed", () => {
        if (subnetsOf(st.sdn.subnets, id).length > 0)
          paramError({ vnet: "Can't delete vnet if subnets exists" });
        delete st.sdn.vnets.ids[id];
        return null;
      });
    },
  });

  // Subnets
  const vnetMustExist = (emu: Emulator, vnet: string) => {
    if (!emu.state.sdn.vnets.ids[vnet]) die(notFound.vnets(vnet));
  };
  add({
    method: "GET",
    path: "/cluster/sdn/vnets/{vnet}/subnets",
    schema: () => ({ vnet: vnetId, ...readFlags }),
    handler: (ctx) => (listHandler("subnets")(ctx) as Obj[]).filter((s) => s.vnet === ctx.params.vnet),
  });
  add({
    method: "GET",
    path: "/cluster/sdn/vnets/{vnet}/subnets/{subnet}",
    schema: () => ({ vnet: vnetId, subnet: subnetId, ...readFlags }),
    handler: (ctx) => {
      const o = readHandler("subnets", "subnet")(ctx);
      if (o.vnet !== ctx.params.vnet) paramError({ vnet: "wrong vnet" });
      return o;
    },
  });
  add({
    method: "POST",
    path: "/cluster/sdn/vnets/{vnet}/subnets",
    schema: (v) => ({
      vnet: vnetId,
      subnet: subnetId,
      type: { type: "string", enum: ["subnet"] },
      ...subnetProps,
      ...lockToken(v),
    }),
    handler: (ctx) => {
      const { emu, params } = ctx;
      const vnet = String(params.vnet);
      vnetMustExist(emu, vnet);
      return locked(ctx, "create sdn subnet object failed", () => {
        const zone = String(emu.state.sdn.vnets.ids[vnet].zone);
        const id = `${zone}-${String(params.subnet).replace("/", "-")}`;
        const opts = checkConfig(subnetOpts, params, true, ["subnet", "type", "lock-token"]);
        const subnets = emu.state.sdn.subnets;
        if (subnets.ids[id]) die(`sdn subnet object ID '${id}' already defined`);
        const s: Section = { type: "subnet", ...opts };
        subnetUpdateHook(emu, id, s);
        emu.state.sdn.subnets = { ids: { ...subnets.ids, [id]: s } };
        return null;
      });
    },
  });
  add({
    method: "PUT",
    path: "/cluster/sdn/vnets/{vnet}/subnets/{subnet}",
    schema: (v) => ({
      vnet: vnetId,
      subnet: subnetId,
      ...subnetProps,
      delete: deleteList,
      digest,
      ...lockToken(v),
    }),
    handler: (ctx) => {
      const { emu, params } = ctx;
      vnetMustExist(emu, String(params.vnet));
      const id = String(params.subnet);
      return locked(ctx, "update sdn subnet object failed", () => {
        const subnets = emu.state.sdn.subnets;
        assertDigest(subnets, params.digest);
        const cur = subnets.ids[id];
        if (!cur) die(notFound.subnets(id));
        const set = checkConfig(subnetOpts, params, false, ["subnet", "delete", "digest", "lock-token"]);
        const next = JSON.parse(JSON.stringify(cur)) as Section;
        applyDelete(next, subnetOpts, set, params.delete);
        Object.assign(next, set);
        subnetUpdateHook(emu, id, next);
        emu.state.sdn.subnets = { ids: { ...subnets.ids, [id]: next } };
        return null;
      });
    },
  });
  add({
    method: "DELETE",
    path: "/cluster/sdn/vnets/{vnet}/subnets/{subnet}",
    schema: (v) => ({ vnet: vnetId, subnet: subnetId, ...lockToken(v) }),
    handler: (ctx) => {
      vnetMustExist(ctx.emu, String(ctx.params.vnet));
      return locked(ctx, "delete sdn subnet object failed", () => {
        // PVE looks the subnet up with noerr: deleting a missing subnet succeeds.
        delete ctx.emu.state.sdn.subnets.ids[String(ctx.params.subnet)];
        return null;
      });
    },
  });

  // Node-level status (reference §2.10)
  add({
    method: "GET",
    path: "/nodes/{node}/sdn",
    proxied: true,
    schema: () => ({ node: nodeName }),
    handler: () => [{ subdir: "zones" }, { subdir: "vnets" }, { subdir: "fabrics" }],
  });
  add({
    method: "GET",
    path: "/nodes/{node}/sdn/zones",
    proxied: true,
    schema: () => ({ node: nodeName }),
    handler: ({ emu, params }) => nodeZoneStatus(emu, String(params.node)),
  });
  add({
    method: "GET",
    path: "/nodes/{node}/sdn/zones/{zone}/content",
    proxied: true,
    schema: () => ({ node: nodeName, zone: zoneId }),
    handler: ({ emu, params }) => {
      const st = nodeZoneStatus(emu, String(params.node)).find((z) => z.zone === params.zone);
      if (!st) die(`sdn '${params.zone}' does not exist`);
      const vnets = emu.state.running.vnets.ids;
      return Object.keys(vnets)
        .sort()
        .filter((v) => vnets[v].zone === params.zone)
        .map((vnet) =>
          st.status === "available"
            ? { vnet, status: "available" }
            : {
                vnet,
                status: "error",
                statusmsg: emu.state.nodeSdn[String(params.node)]?.message ?? "not yet realised",
              },
        );
    },
  });
  return r;
}

/** Throws PVE's "invalid vnet specified" unless the vnet exists in the running config (vnet firewall). */
export function runningVnet(emu: Emulator, vnet: string): Section {
  const v = emu.state.running.vnets.ids[vnet];
  if (!v) throw new PveError(500, "invalid vnet specified\n");
  return v;
}
