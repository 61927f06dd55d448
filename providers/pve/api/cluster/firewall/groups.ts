// /cluster/firewall/groups (§3.5): security groups; their rules are a `Rules` list at `/groups/{group}`.
import { PveNotFound } from "../../../errors";
import type { Transport } from "../../../transport";
import { Rules } from "./rules";

export interface GroupInfo {
  group: string;
  comment?: string;
}

export class Groups {
  constructor(private readonly t: Transport) {}
  async list(): Promise<GroupInfo[]> {
    const items = await this.t.get<Record<string, unknown>[]>("/cluster/firewall/groups");
    return items.map((g) => ({
      group: String(g.group),
      ...(g.comment !== undefined && g.comment !== "" ? { comment: String(g.comment) } : {}),
    }));
  }
  async get(group: string): Promise<GroupInfo | undefined> {
    return (await this.list()).find((g) => g.group === group);
  }
  async create(group: string, comment?: string): Promise<void> {
    await this.t.post("/cluster/firewall/groups", { group, comment });
  }
  /** Same name in `group` and `rename` = comment update (§3.5). */
  async setComment(group: string, comment: string): Promise<void> {
    await this.t.post("/cluster/firewall/groups", { group, rename: group, comment });
  }
  /** false when it was already gone. PVE refuses a non-empty group. */
  async remove(group: string): Promise<boolean> {
    try {
      await this.t.delete(`/cluster/firewall/groups/${encodeURIComponent(group)}`);
      return true;
    } catch (e) {
      if (e instanceof PveNotFound) return false;
      throw e;
    }
  }
  rules(group: string): Rules {
    return new Rules(this.t, `/cluster/firewall/groups/${encodeURIComponent(group)}`);
  }
}
