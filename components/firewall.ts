// Firewall: the fabric's rules and options on one site (DESIGN §1 [firewall], §3.5). Order matters twice:
// the security group exists before the cluster rule that references it, and the cluster rules (with the
// operator's SSH/API rule) exist before the cluster firewall is switched on, so the lock-out preflight sees
// them. Group and vnet rules need the applied vnet (its +sdn ipsets and vnet firewall).
import * as pulumi from "@pulumi/pulumi";
import type { ApiArgs } from "../providers/pve/dynamic";
import { FirewallOptions, FirewallRules } from "../providers/pve/firewall";
import type { FirewallPlan } from "./plan";

export interface FirewallArgs {
  api: ApiArgs;
  plan: FirewallPlan;
  /** The SDN apply: vnet-scope rules need the vnet to exist on the nodes. */
  sdnApplied: pulumi.Resource;
}

export class Firewall extends pulumi.ComponentResource {
  readonly group: FirewallRules;
  readonly cluster: FirewallRules;
  readonly clusterOptions: FirewallOptions;
  readonly nodeOptions: Record<string, FirewallOptions> = {};
  readonly vnets: Record<string, FirewallRules> = {};
  constructor(name: string, args: FirewallArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pve-fabric:site:Firewall", name, {}, opts);
    const { api, plan } = args;
    const c = { parent: this };
    this.group = new FirewallRules(
      `${name}-group`,
      { api, scope: `group/${plan.group}`, rules: plan.groupRules, groupNote: "fabric rules" },
      // Its FORWARD rules name +sdn/<vnet>-all, an ipset PVE makes only when the vnet is applied.
      { ...c, dependsOn: [args.sdnApplied] },
    );
    this.cluster = new FirewallRules(
      `${name}-cluster`,
      { api, scope: "cluster", rules: plan.clusterRules },
      { ...c, dependsOn: [this.group] },
    );
    for (const [node, options] of Object.entries(plan.nodeOptions)) {
      this.nodeOptions[node] = new FirewallOptions(
        `${name}-node-${node}`,
        { api, scope: `node/${node}`, options },
        c,
      );
    }
    this.clusterOptions = new FirewallOptions(
      `${name}-options`,
      { api, scope: "cluster", options: plan.clusterOptions, operatorSources: plan.operatorSources },
      { ...c, dependsOn: [this.cluster, ...Object.values(this.nodeOptions)] },
    );
    for (const [vnet, rules] of Object.entries(plan.vnetRules)) {
      this.vnets[vnet] = new FirewallRules(
        `${name}-vnet-${vnet}`,
        { api, scope: `vnet/${vnet}`, rules },
        { ...c, dependsOn: [args.sdnApplied] },
      );
    }
    this.registerOutputs({});
  }
}
