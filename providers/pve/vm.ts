// Pulumi resource for the sdntest VM (API side). Behaviour: ops/vm.ts.
import type * as pulumi from "@pulumi/pulumi";
import { PveResource, type ApiArgs } from "./dynamic";

export interface TestVmArgs {
  api: ApiArgs;
  node: pulumi.Input<string>;
  vmid: pulumi.Input<number>;
  name: pulumi.Input<string>;
  /** net0's bridge; must be applied on `node` before the VM starts. */
  vnet: pulumi.Input<string>;
  /** Cloud-init address on the vnet, with prefix, inside the site's subnet. */
  address: pulumi.Input<string>;
  /** The subnet's gateway (anycast address of the vnet). */
  gateway: pulumi.Input<string>;
  /** net1's bridge (default vmbr0). */
  mgmtBridge?: pulumi.Input<string>;
  /** "dhcp" (default) or an address with prefix. */
  mgmtAddress?: pulumi.Input<string>;
  memory?: pulumi.Input<number>;
  cores?: pulumi.Input<number>;
  disk?: pulumi.Input<string>;
  cloudInitStorage?: pulumi.Input<string>;
  ciuser?: pulumi.Input<string>;
  sshKeys?: pulumi.Input<string>;
}

/** Any change recreates the VM with the same vmid (it is a disposable probe). */
export class TestVm extends PveResource {
  declare readonly vmid: pulumi.Output<number>;
  declare readonly address: pulumi.Output<string>;
  declare readonly liveStatus: pulumi.Output<string>;
  constructor(name: string, args: TestVmArgs, opts?: pulumi.CustomResourceOptions) {
    super("test-vm", name, { ...args }, opts, { liveStatus: undefined });
  }
}
