// HostPrep: what makes a PVE node a router for the fabric (DESIGN §1 [host]): the packages, the sysctls, and
// FRR enabled with bgpd. One set per node; the node's SSH connection is the caller's.
import * as pulumi from "@pulumi/pulumi";
import { Packages, Service, Sysctls, type ConnectionArgs } from "../providers/host/resources";
import { PACKAGES, SYSCTL_DROP_IN, SYSCTLS } from "./plan";

export interface HostPrepArgs {
  node: string;
  connection: pulumi.Input<ConnectionArgs>;
}

export class HostPrep extends pulumi.ComponentResource {
  readonly packages: Packages;
  readonly sysctls: Sysctls;
  readonly frr: Service;
  constructor(name: string, args: HostPrepArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pve-fabric:site:HostPrep", name, {}, opts);
    const c = { parent: this };
    this.packages = new Packages(`${name}-packages`, { connection: args.connection, packages: PACKAGES }, c);
    this.sysctls = new Sysctls(
      `${name}-sysctls`,
      { connection: args.connection, name: SYSCTL_DROP_IN, values: { ...SYSCTLS } },
      c,
    );
    this.frr = new Service(
      `${name}-frr`,
      { connection: args.connection, unit: "frr", enabled: true, active: true, frrDaemons: { bgpd: "yes" } },
      { ...c, dependsOn: [this.packages] },
    );
    this.registerOutputs({});
  }
}
