// /cluster/firewall/ipset (§3.6): read side only (the lock-out preflight reads `management`).
import { PveNotFound } from "../../../errors";
import type { Transport } from "../../../transport";

export interface IpsetEntry {
  cidr: string;
  nomatch: boolean;
}

export class Ipsets {
  constructor(private readonly t: Transport) {}
  /** Entries of a cluster ipset; undefined when the set does not exist. */
  async entries(name: string): Promise<IpsetEntry[] | undefined> {
    try {
      const items = await this.t.get<Record<string, unknown>[]>(
        `/cluster/firewall/ipset/${encodeURIComponent(name)}`,
      );
      return items.map((e) => ({ cidr: String(e.cidr), nomatch: e.nomatch === 1 || e.nomatch === "1" }));
    } catch (e) {
      if (e instanceof PveNotFound) return undefined;
      throw e;
    }
  }
}
