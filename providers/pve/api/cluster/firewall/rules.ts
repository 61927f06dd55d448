// One rule-list client for every scope (§3.4): cluster `/cluster/firewall/rules`, node
// `/nodes/{node}/firewall/rules`, security group `/cluster/firewall/groups/{group}`, vnet
// `/cluster/sdn/vnets/{vnet}/firewall/rules`. A POST always lands at position 0; positions shift on every
// edit, so every positional call carries the digest of the list it was planned against.
import { fromBool, fromInt, type ApiParams } from "../../../encode";
import type { Transport } from "../../../transport";

/** A rule as we write it. Field names are PVE's. */
export interface RuleSpec {
  type: "in" | "out" | "forward" | "group";
  action: string;
  macro?: string;
  iface?: string;
  source?: string;
  dest?: string;
  proto?: string;
  dport?: string;
  sport?: string;
  "icmp-type"?: string;
  log?: string;
  enable: boolean;
  comment?: string;
}

export interface LiveRule extends RuleSpec {
  pos: number;
  digest?: string;
}

export const RULE_FIELDS = [
  "type",
  "action",
  "macro",
  "iface",
  "source",
  "dest",
  "proto",
  "dport",
  "sport",
  "icmp-type",
  "log",
  "enable",
  "comment",
] as const;

/** Optional match fields: removing one on update goes into `delete` (§3.4). */
export const RULE_OPTIONAL = RULE_FIELDS.filter((f) => f !== "type" && f !== "action" && f !== "enable");

export function ruleToApi(r: RuleSpec): ApiParams {
  const out: ApiParams = {};
  for (const f of RULE_FIELDS) out[f] = f === "enable" ? (r.enable ? 1 : 0) : r[f];
  return out;
}

export function ruleFromApi(item: Record<string, unknown>): LiveRule {
  const r: LiveRule = {
    pos: fromInt(item.pos) ?? -1,
    type: String(item.type) as RuleSpec["type"],
    action: String(item.action),
    // A rule created without `enable` is disabled (§3.3); absent reads as 0.
    enable: fromBool(item.enable) ?? false,
  };
  for (const f of RULE_OPTIONAL) {
    const v = item[f];
    if (v !== undefined && v !== null && v !== "") (r as unknown as Record<string, unknown>)[f] = String(v);
  }
  if (typeof item.digest === "string") r.digest = item.digest;
  return r;
}

export class Rules {
  constructor(
    private readonly t: Transport,
    /** e.g. `/cluster/firewall/rules` */
    readonly base: string,
  ) {}

  async list(): Promise<LiveRule[]> {
    const items = await this.t.get<Record<string, unknown>[]>(this.base);
    return items.map(ruleFromApi).sort((a, b) => a.pos - b.pos);
  }

  /** Inserts at position 0 (PVE ignores `pos`). */
  async create(r: RuleSpec): Promise<void> {
    await this.t.post(this.base, ruleToApi(r));
  }

  async update(pos: number, params: ApiParams, digest?: string): Promise<void> {
    await this.t.put(`${this.base}/${pos}`, { ...params, digest });
  }

  /** Moves the rule at `pos` before the element that is at `moveto` now (moving down lands at moveto-1). */
  async move(pos: number, moveto: number, digest?: string): Promise<void> {
    await this.t.put(`${this.base}/${pos}`, { moveto, digest });
  }

  async remove(pos: number, digest?: string): Promise<void> {
    await this.t.delete(`${this.base}/${pos}`, { digest });
  }
}
