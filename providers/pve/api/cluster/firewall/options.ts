// Firewall options for every scope (`/cluster/firewall/options`, `/nodes/{node}/firewall/options`,
// `/cluster/sdn/vnets/{vnet}/firewall/options`): GET returns only explicitly set keys + digest; PUT sets keys
// and removes others through one `delete` list.
import type { ApiParams } from "../../../encode";
import type { Transport } from "../../../transport";

export class FirewallOptions {
  constructor(
    private readonly t: Transport,
    readonly path: string,
  ) {}
  get(): Promise<Record<string, unknown>> {
    return this.t.get<Record<string, unknown>>(this.path);
  }
  async set(params: ApiParams): Promise<void> {
    await this.t.put(this.path, params);
  }
}
