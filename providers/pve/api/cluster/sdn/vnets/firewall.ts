// /cluster/sdn/vnets/{vnet}/firewall (8.3+, §3.10): works only once the vnet is in the RUNNING config
// (before: 500 "invalid vnet specified", classified as not found).
import type { Transport } from "../../../../transport";
import { FirewallOptions } from "../../firewall/options";
import { Rules } from "../../firewall/rules";

export class VnetFirewall {
  constructor(private readonly t: Transport) {}
  options(vnet: string): FirewallOptions {
    return new FirewallOptions(this.t, `/cluster/sdn/vnets/${encodeURIComponent(vnet)}/firewall/options`);
  }
  rules(vnet: string): Rules {
    return new Rules(this.t, `/cluster/sdn/vnets/${encodeURIComponent(vnet)}/firewall/rules`);
  }
}
