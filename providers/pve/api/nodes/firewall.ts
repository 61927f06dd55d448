// /nodes/{node}/firewall (§3.9): options (nftables backend switch lives here, not at cluster level) and rules.
import type { Transport } from "../../transport";
import { FirewallOptions } from "../cluster/firewall/options";
import { Rules } from "../cluster/firewall/rules";

export class NodeFirewall {
  constructor(private readonly t: Transport) {}
  options(node: string): FirewallOptions {
    return new FirewallOptions(this.t, `/nodes/${encodeURIComponent(node)}/firewall/options`);
  }
  rules(node: string): Rules {
    return new Rules(this.t, `/nodes/${encodeURIComponent(node)}/firewall/rules`);
  }
}
