// Overlay: the site's PVE SDN objects, EVPN controller → zone → vnets → subnets, and one apply after them
// (DESIGN §3.4). A finalizer apply is created first and every object depends on it, so `pulumi destroy`
// deletes the objects and then applies their deletion (providers/pve/README.md, SdnApply).
import * as pulumi from "@pulumi/pulumi";
import type { ApiArgs } from "../providers/pve/dynamic";
import { EvpnController, EvpnZone, SdnApply, sdnOwned, sdnTrigger, Subnet, Vnet } from "../providers/pve/sdn";
import type { OverlayPlan } from "./plan";

export interface OverlayArgs {
  api: ApiArgs;
  plan: OverlayPlan;
  /**
   * What must be up on the nodes before the apply: the WireGuard interfaces. PVE picks each VXLAN's local
   * tunnel IP on apply, as the node's address among the controller peers; applied before wg0 has the tunnel
   * address, every VXLAN gets the uplink address instead (found in the lab: VTEP 198.18.1.10, no remote
   * VTEPs), and nothing re-applies it later because the SDN config did not change.
   */
  applyAfter?: pulumi.Input<pulumi.Resource>[];
  /**
   * Nodes whose tunnel already routes to the first controller peer (plan.ts vtepReady): part of the apply's
   * trigger, so a node that got the uplink address as its VTEP on the first bootstrap run is re-applied once
   * its tunnel knows the way (found in the lab with a 2-node site, and with the other site bootstrapped first).
   */
  vtepReady?: pulumi.Input<string[]>;
}

export class Overlay extends pulumi.ComponentResource {
  readonly controller: EvpnController;
  readonly zone: EvpnZone;
  readonly vnets: Record<string, Vnet> = {};
  readonly subnets: Subnet[] = [];
  /** Everything that needs the SDN config realised on the nodes depends on this. */
  readonly apply: SdnApply;
  /** node → SDN status after the apply (`available`). */
  readonly nodeStatus: pulumi.Output<Record<string, string>>;
  constructor(name: string, args: OverlayArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pve-fabric:site:Overlay", name, {}, opts);
    const { api, plan } = args;
    const owned = sdnOwned(plan.owned);
    const zones = [plan.zone.id];
    const finalizer = new SdnApply(
      `${name}-finalizer`,
      { api, trigger: "finalizer", owned, zones, mode: "finalizer" },
      { parent: this },
    );
    const c = { parent: this, dependsOn: [finalizer] };
    this.controller = new EvpnController(
      `${name}-controller`,
      { api, controller: plan.controller.id, asn: plan.controller.asn, peers: plan.controller.peers },
      c,
    );
    this.zone = new EvpnZone(
      `${name}-zone`,
      {
        api,
        zone: plan.zone.id,
        controller: this.controller.controller,
        vrfVxlan: plan.zone.vrfVxlan,
        exitNodes: plan.zone.exitNodes,
        exitNodesLocalRouting: plan.zone.exitNodesLocalRouting,
        exitNodesLocalRoutingReason: plan.zone.exitNodesLocalRoutingReason,
        advertiseSubnets: plan.zone.advertiseSubnets,
        mtu: plan.zone.mtu,
      },
      c,
    );
    for (const v of plan.vnets) {
      this.vnets[v.id] = new Vnet(
        `${name}-vnet-${v.id}`,
        { api, vnet: v.id, zone: this.zone.zone, tag: v.vni, alias: v.alias },
        c,
      );
    }
    for (const s of plan.subnets) {
      this.subnets.push(
        new Subnet(
          `${name}-subnet-${s.cidr.replace(/[./]/g, "-")}`,
          { api, ...s, vnet: this.vnets[s.vnet].vnet, zone: this.zone.zone },
          c,
        ),
      );
    }
    const objects = [this.controller, this.zone, ...Object.values(this.vnets), ...this.subnets];
    this.apply = new SdnApply(
      `${name}-apply`,
      {
        api,
        trigger: sdnTrigger([
          this.controller.peers,
          this.controller.asn,
          this.zone.exitNodes,
          this.zone.mtu,
          this.zone.vrfVxlan,
          ...Object.values(this.vnets).map((v) => v.tag),
          ...this.subnets.flatMap((s) => [s.cidr, s.gateway, s.snat]),
          ...(args.vtepReady ? [args.vtepReady] : []),
        ]),
        owned,
        zones,
      },
      { parent: this, dependsOn: [...objects, ...(args.applyAfter ?? [])] },
    );
    this.nodeStatus = this.apply.liveNodeStatus;
    this.registerOutputs({ nodeStatus: this.nodeStatus });
  }
}
