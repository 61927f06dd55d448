// SdnTestVm: the write-up's two-NIC probe VM (eth0 on the vnet, eth1 on vmbr0), created once the vnet is
// applied on its node. The fabric check pings from it.
import * as pulumi from "@pulumi/pulumi";
import type { ApiArgs } from "../providers/pve/dynamic";
import { TestVm } from "../providers/pve/vm";
import type { SdnTestPlan } from "./plan";

export interface SdnTestVmArgs {
  api: ApiArgs;
  plan: SdnTestPlan;
  sdnApplied: pulumi.Resource;
}

export class SdnTestVm extends pulumi.ComponentResource {
  readonly vm: TestVm;
  /** The vnet address without prefix. */
  readonly address: pulumi.Output<string>;
  constructor(name: string, args: SdnTestVmArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pve-fabric:site:SdnTestVm", name, {}, opts);
    this.vm = new TestVm(
      `${name}-vm`,
      { api: args.api, ...args.plan },
      { parent: this, dependsOn: [args.sdnApplied] },
    );
    this.address = this.vm.address.apply((a) => a.split("/")[0]);
    this.registerOutputs({ address: this.address });
  }
}
