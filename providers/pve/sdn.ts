// Pulumi resources for PVE SDN objects (EVPN controller → zone → vnet → subnet) and the per-site apply.
// Thin: all behaviour is in ops/sdn.ts and ops/apply.ts.
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { subnetId } from "./api/cluster/sdn/subnets";
import { PveResource, type ApiArgs } from "./dynamic";

/** The `owned` list of an SdnApply for one site's objects (the keys its foreign-pending check uses). */
export function sdnOwned(o: {
  controller: string;
  zone: string;
  vnets: string[];
  subnets: { vnet: string; zone: string; cidr: string }[];
}): string[] {
  return [
    `controllers/${o.controller}`,
    `zones/${o.zone}`,
    ...o.vnets.map((v) => `vnets/${v}`),
    ...o.subnets.map((s) => `subnets/${s.vnet}/${subnetId(s.zone, s.cidr)}`),
  ];
}

/** An SdnApply trigger: sha256 of everything the SDN objects were given (a change re-applies). */
export function sdnTrigger(values: pulumi.Input<unknown>[]): pulumi.Output<string> {
  return pulumi.jsonStringify(values).apply((j) => createHash("sha256").update(j).digest("hex"));
}

export interface EvpnControllerArgs {
  api: ApiArgs;
  controller: pulumi.Input<string>;
  asn: pulumi.Input<number>;
  peers: pulumi.Input<pulumi.Input<string>[]>;
}

export class EvpnController extends PveResource {
  declare readonly controller: pulumi.Output<string>;
  declare readonly asn: pulumi.Output<number>;
  declare readonly peers: pulumi.Output<string[]>;
  declare readonly livePendingState: pulumi.Output<string>;
  constructor(name: string, args: EvpnControllerArgs, opts?: pulumi.CustomResourceOptions) {
    super("sdn-controller", name, { ...args }, opts, { livePendingState: undefined });
  }
}

export interface EvpnZoneArgs {
  api: ApiArgs;
  zone: pulumi.Input<string>;
  controller: pulumi.Input<string>;
  vrfVxlan: pulumi.Input<number>;
  exitNodes?: pulumi.Input<pulumi.Input<string>[]>;
  exitNodesPrimary?: pulumi.Input<string>;
  exitNodesLocalRouting?: pulumi.Input<boolean>;
  exitNodesLocalRoutingReason?: pulumi.Input<string>;
  advertiseSubnets?: pulumi.Input<boolean>;
  mtu?: pulumi.Input<number>;
  ipam?: pulumi.Input<string>;
  nodes?: pulumi.Input<pulumi.Input<string>[]>;
}

export class EvpnZone extends PveResource {
  declare readonly zone: pulumi.Output<string>;
  declare readonly vrfVxlan: pulumi.Output<number>;
  declare readonly exitNodes: pulumi.Output<string[]>;
  declare readonly mtu: pulumi.Output<number | undefined>;
  declare readonly liveMac: pulumi.Output<string>;
  declare readonly livePendingState: pulumi.Output<string>;
  constructor(name: string, args: EvpnZoneArgs, opts?: pulumi.CustomResourceOptions) {
    super("sdn-zone", name, { ...args }, opts, { liveMac: undefined, livePendingState: undefined });
  }
}

export interface VnetArgs {
  api: ApiArgs;
  vnet: pulumi.Input<string>;
  zone: pulumi.Input<string>;
  tag: pulumi.Input<number>;
  alias?: pulumi.Input<string>;
}

export class Vnet extends PveResource {
  declare readonly vnet: pulumi.Output<string>;
  declare readonly zone: pulumi.Output<string>;
  declare readonly tag: pulumi.Output<number>;
  declare readonly livePendingState: pulumi.Output<string>;
  constructor(name: string, args: VnetArgs, opts?: pulumi.CustomResourceOptions) {
    super("sdn-vnet", name, { ...args }, opts, { livePendingState: undefined });
  }
}

export interface SubnetArgs {
  api: ApiArgs;
  vnet: pulumi.Input<string>;
  zone: pulumi.Input<string>;
  cidr: pulumi.Input<string>;
  gateway?: pulumi.Input<string>;
  snat?: pulumi.Input<boolean>;
}

export class Subnet extends PveResource {
  declare readonly cidr: pulumi.Output<string>;
  declare readonly gateway: pulumi.Output<string | undefined>;
  declare readonly snat: pulumi.Output<boolean>;
  declare readonly livePendingState: pulumi.Output<string>;
  constructor(name: string, args: SubnetArgs, opts?: pulumi.CustomResourceOptions) {
    super("sdn-subnet", name, { ...args }, opts, { livePendingState: undefined });
  }
}

export interface SdnApplyArgs {
  api: ApiArgs;
  /** Hash of every SDN object this apply covers (e.g. sha256 of their specs): a change re-applies. */
  trigger: pulumi.Input<string>;
  /** The objects this stack manages: `controllers/<id>`, `zones/<id>`, `vnets/<id>`, `subnets/<vnet>/<id>`. */
  owned: pulumi.Input<pulumi.Input<string>[]>;
  /** Zones whose per-node status must be `available` after the apply. */
  zones: pulumi.Input<pulumi.Input<string>[]>;
  /** Apply even if pending changes exist that this stack did not make (they get applied too). */
  allowForeignPending?: pulumi.Input<boolean>;
  /**
   * "apply" (default): applies on create/update. "finalizer": applies on delete only — create it before the
   * SDN objects and make them depend on it, so `pulumi destroy` applies their deletion last.
   */
  mode?: pulumi.Input<"apply" | "finalizer">;
  taskTimeoutSeconds?: pulumi.Input<number>;
}

export class SdnApply extends PveResource {
  declare readonly trigger: pulumi.Output<string>;
  declare readonly liveNodeStatus: pulumi.Output<Record<string, string>>;
  declare readonly livePending: pulumi.Output<string[]>;
  declare readonly lastTask: pulumi.Output<{ upid: string; exitstatus: string } | undefined>;
  constructor(name: string, args: SdnApplyArgs, opts?: pulumi.CustomResourceOptions) {
    super("sdn-apply", name, { ...args }, opts, {
      liveNodeStatus: undefined,
      livePending: undefined,
      lastTask: undefined,
    });
  }
}
