// /cluster/firewall
import type { Transport } from "../../../transport";
import { Aliases } from "./aliases";
import { Groups } from "./groups";
import { Ipsets } from "./ipset";
import { FirewallOptions } from "./options";
import { Rules } from "./rules";

export class ClusterFirewall {
  readonly options: FirewallOptions;
  readonly rules: Rules;
  readonly groups: Groups;
  readonly ipsets: Ipsets;
  readonly aliases: Aliases;
  constructor(t: Transport) {
    this.options = new FirewallOptions(t, "/cluster/firewall/options");
    this.rules = new Rules(t, "/cluster/firewall/rules");
    this.groups = new Groups(t);
    this.ipsets = new Ipsets(t);
    this.aliases = new Aliases(t);
  }
}
