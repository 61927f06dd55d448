// The emulator's whole world as one plain, JSON-serialisable object, persisted atomically to the state
// directory after every write (so a restart loses nothing). SDN sections are kept the way PVE keeps them
// after parsing its section-config files: node lists as `{node: 1}` hashes, dhcp ranges as raw strings.
// The running snapshot therefore has exactly the shape of `shared/conformance/*/sdn_config.json`.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export type SectionValue = string | number | string[] | Record<string, number>;
export type Section = Record<string, SectionValue>;
export interface SectionCfg {
  ids: Record<string, Section>;
}
export const SDN_KINDS = ["zones", "vnets", "subnets", "controllers"] as const;
export type SdnKind = (typeof SDN_KINDS)[number];
export type SdnConfig = Record<SdnKind, SectionCfg>;
export interface RunningConfig extends SdnConfig {
  version: number;
}

export type FwValue = string | number;
export type Rule = Record<string, FwValue>;
export interface RuleScope {
  options: Record<string, FwValue>;
  rules: Rule[];
}
export interface IpsetEntry {
  cidr: string;
  nomatch?: number;
  comment?: string;
}
export interface FirewallState {
  cluster: RuleScope;
  groups: Record<string, { comment?: string; rules: Rule[] }>;
  ipsets: Record<string, { comment?: string; entries: IpsetEntry[] }>;
  /** Keyed by the lower-cased name, as pve-firewall stores aliases. */
  aliases: Record<string, { name: string; cidr: string; comment?: string }>;
  nodes: Record<string, RuleScope>;
  /** VNet firewall (`/etc/pve/sdn/firewall/<vnet>.fw`); survives the vnet's deletion as on PVE. */
  vnets: Record<string, RuleScope>;
}

export interface Task {
  upid: string;
  node: string;
  pid: number;
  pstart: number;
  starttime: number;
  type: string;
  id: string;
  user: string;
  status: "running" | "stopped";
  exitstatus?: string;
  endtime?: number;
  log: string[];
}

export interface Vm {
  vmid: number;
  node: string;
  config: Record<string, FwValue>;
  status: "running" | "stopped";
}

export interface NodeSdnStatus {
  /** Running-config version this node last realised successfully (0 = never). */
  version: number;
  failed: boolean;
  message?: string;
}

export interface State {
  sdn: SdnConfig;
  running: RunningConfig;
  lockToken?: string;
  nodeSdn: Record<string, NodeSdnStatus>;
  fw: FirewallState;
  tasks: Task[];
  vms: Record<string, Vm>;
  counter: number;
}

export function emptySdn(): SdnConfig {
  return { zones: { ids: {} }, vnets: { ids: {} }, subnets: { ids: {} }, controllers: { ids: {} } };
}

export function emptyState(nodes: string[]): State {
  return {
    sdn: emptySdn(),
    running: { version: 0, ...emptySdn() },
    nodeSdn: Object.fromEntries(nodes.map((n) => [n, { version: 0, failed: false }])),
    fw: {
      cluster: { options: {}, rules: [] },
      groups: {},
      ipsets: {},
      aliases: {},
      nodes: Object.fromEntries(nodes.map((n) => [n, { options: {}, rules: [] }])),
      vnets: {},
    },
    tasks: [],
    vms: {},
    counter: 0,
  };
}

export const sha1 = (s: string): string => createHash("sha1").update(s).digest("hex");

/** Section-config text of one SDN file (`/etc/pve/sdn/<kind>.cfg`); its SHA1 is the PVE digest. */
export function sectionText(cfg: SectionCfg): string {
  let out = "";
  for (const id of Object.keys(cfg.ids).sort()) {
    const s = cfg.ids[id];
    out += `${s.type}: ${id}\n`;
    for (const k of Object.keys(s).sort()) {
      if (k === "type") continue;
      const v = s[k];
      if (Array.isArray(v)) for (const item of v) out += `\t${k} ${item}\n`;
      else out += `\t${k} ${typeof v === "object" ? Object.keys(v).sort().join(",") : v}\n`;
    }
    out += "\n";
  }
  return out;
}

export class Store {
  readonly file: string;
  state: State;

  constructor(
    readonly dir: string,
    nodes: string[],
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, "state.json");
    if (fs.existsSync(this.file)) {
      this.state = JSON.parse(fs.readFileSync(this.file, "utf8")) as State;
      // Nodes may be added between runs; never drop what exists.
      for (const n of nodes) {
        this.state.nodeSdn[n] ??= { version: 0, failed: false };
        this.state.fw.nodes[n] ??= { options: {}, rules: [] };
      }
    } else {
      this.state = emptyState(nodes);
      this.save();
    }
  }

  /** Temp file + rename, so a crash mid-write never leaves a torn state file. */
  save(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(this.state));
    fs.renameSync(tmp, this.file);
  }
}
