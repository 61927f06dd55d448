// Pulumi resources for the PVE firewall. Thin: behaviour in ops/firewall.ts, fw-plan.ts, preflight.ts.
import type * as pulumi from "@pulumi/pulumi";
import { PveResource, type ApiArgs } from "./dynamic";
import type { KeyedRule } from "./fw-plan";

export type { KeyedRule };

export interface FirewallRulesArgs {
  api: ApiArgs;
  /** 'cluster', 'node/<node>', 'group/<security group>' (the group is created and marked) or 'vnet/<vnet>'. */
  scope: pulumi.Input<string>;
  /** The ordered rule block; each rule's comment becomes `<marker>:<key> <note>`. */
  rules: pulumi.Input<pulumi.Input<KeyedRule>[]>;
  /** Ownership marker (default `pve-fabric`): only rules whose comment carries it are ever changed. */
  marker?: pulumi.Input<string>;
  /** Group scope: text after the marker in the group's comment. */
  groupNote?: pulumi.Input<string>;
}

/** A marked rule block at the top of one scope's rule list, reconciled as a whole (order included). */
export class FirewallRules extends PveResource {
  declare readonly scope: pulumi.Output<string>;
  declare readonly rules: pulumi.Output<KeyedRule[]>;
  declare readonly liveDrift: pulumi.Output<{
    missing: string[];
    unwanted: string[];
    changed: string[];
    misordered: boolean;
  }>;
  constructor(name: string, args: FirewallRulesArgs, opts?: pulumi.CustomResourceOptions) {
    super("fw-rules", name, { ...args }, opts, { liveDrift: undefined });
  }
}

export interface FirewallOptionsArgs {
  api: ApiArgs;
  /** 'cluster', 'node/<node>' or 'vnet/<vnet>' (the vnet must be applied). */
  scope: pulumi.Input<string>;
  /** PVE option names → values, e.g. { nftables: true, enable: true } or { enable: 1, policy_in: "DROP" }. */
  options: pulumi.Input<Record<string, pulumi.Input<string | number | boolean>>>;
  /** Cluster scope: addresses SSH/API are reached from; a policy that would cut them is refused. */
  operatorSources?: pulumi.Input<pulumi.Input<string>[]>;
}

/** The options this resource names, on one scope; delete resets exactly those keys to PVE's defaults. */
export class FirewallOptions extends PveResource {
  declare readonly scope: pulumi.Output<string>;
  declare readonly options: pulumi.Output<Record<string, string | number>>;
  constructor(name: string, args: FirewallOptionsArgs, opts?: pulumi.CustomResourceOptions) {
    super("fw-options", name, { ...args }, opts);
  }
}
