// One SDN section-config family (zones, vnets, subnets, controllers): same verbs, same read views (§2.4).
import { PveNotFound } from "../../../errors";
import type { ApiParams } from "../../../encode";
import type { Transport } from "../../../transport";

/** One item as PVE returns it. With `pending=1`: top level = running values, `state` + `pending` = the change. */
export interface SdnItem {
  [key: string]: unknown;
  state?: "new" | "changed" | "deleted";
  pending?: Record<string, unknown>;
  digest?: string | null;
}

/** `files` = the default (pending files), `pending` = diff view, `running` = what apply deployed. */
export type SdnView = "files" | "pending" | "running";

const VIEW_PARAMS: Record<SdnView, ApiParams> = {
  files: {},
  pending: { pending: 1 },
  running: { running: 1 },
};
const META = new Set(["state", "pending", "digest"]);

/**
 * What the pending files hold for an item of the `pending=1` view: the running values overlaid with the
 * pending ones, removed keys dropped. `undefined` for an object whose deletion is pending.
 */
export function effectiveConfig(item: SdnItem): Record<string, unknown> | undefined {
  if (item.state === "deleted") return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(item)) if (!META.has(k)) out[k] = v;
  for (const [k, v] of Object.entries(item.pending ?? {})) {
    if (v === "deleted") delete out[k];
    else out[k] = v;
  }
  return out;
}

export class SdnSection {
  constructor(
    protected readonly t: Transport,
    /** e.g. `/cluster/sdn/zones` */
    readonly base: string,
  ) {}

  list(view: SdnView = "files"): Promise<SdnItem[]> {
    return this.t.get<SdnItem[]>(this.base, VIEW_PARAMS[view]);
  }

  /** The item, or undefined when PVE says it does not exist. */
  async get(id: string, view: SdnView = "files"): Promise<SdnItem | undefined> {
    try {
      return await this.t.get<SdnItem>(`${this.base}/${encodeURIComponent(id)}`, VIEW_PARAMS[view]);
    } catch (e) {
      if (e instanceof PveNotFound) return undefined;
      throw e;
    }
  }

  async create(params: ApiParams): Promise<void> {
    await this.t.post(this.base, params);
  }

  async update(id: string, params: ApiParams): Promise<void> {
    await this.t.put(`${this.base}/${encodeURIComponent(id)}`, params);
  }

  /** true if deleted, false if it was already gone. */
  async remove(id: string, params: ApiParams = {}): Promise<boolean> {
    try {
      await this.t.delete(`${this.base}/${encodeURIComponent(id)}`, params);
      return true;
    } catch (e) {
      if (e instanceof PveNotFound) return false;
      throw e;
    }
  }
}
