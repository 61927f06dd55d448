// /cluster/firewall/aliases (§3.7): read side (the lock-out preflight resolves alias references).
import type { Transport } from "../../../transport";

export class Aliases {
  constructor(private readonly t: Transport) {}
  /** lower-case name → CIDR (PVE stores alias keys lower-cased). */
  async map(): Promise<Record<string, string>> {
    const items = await this.t.get<{ name: string; cidr: string }[]>("/cluster/firewall/aliases");
    return Object.fromEntries(items.map((a) => [String(a.name).toLowerCase(), String(a.cidr)]));
  }
}
