// Site: one stack's whole fabric share, in dependency order (DESIGN §1): HostPrep and Underlay on every node,
// the Overlay (SDN) and Firewall in PVE, the sdntest VM, and the FabricCheck over all of it. Everything is
// planned by components/plan.ts; this class only creates the children and publishes the outputs.
import * as pulumi from "@pulumi/pulumi";
import type { CheckedStack } from "../fabric";
import type { ConnectionArgs } from "../providers/host/resources";
import type { ApiArgs } from "../providers/pve/dynamic";
import type { CheckResult, CheckSummary } from "./check";
import type { Probe } from "../providers/check/provider";
import { FabricCheck } from "./fabric-check";
import { Firewall } from "./firewall";
import { HostPrep } from "./hostprep";
import { Overlay } from "./overlay";
import { checkSpecFor, planSite, vtepReady, type PeerFacts, type SitePlan } from "./plan";
import { SdnTestVm } from "./sdntest";
import type { SiteSettings } from "./settings";
import { Underlay } from "./underlay";

export interface SiteArgs {
  checked: CheckedStack;
  settings: SiteSettings;
  api: ApiArgs;
  connections: Record<string, pulumi.Input<ConnectionArgs>>;
  /** Published facts of every site (other sites' stacks; this site's own previous run), by site. */
  facts: pulumi.Input<Record<string, PeerFacts | undefined>>;
  probe?: pulumi.Input<Probe>;
}

export class Site extends pulumi.ComponentResource {
  readonly plan: SitePlan;
  readonly hostPrep: Record<string, HostPrep> = {};
  readonly underlay: Underlay;
  readonly overlay: Overlay;
  readonly firewall: Firewall;
  readonly sdntest?: SdnTestVm;
  readonly check: FabricCheck;
  readonly publicKeys: pulumi.Output<Record<string, string>>;
  readonly knownPeers: pulumi.Output<string[]>;
  readonly checkResults: pulumi.Output<CheckResult[]>;
  readonly checkSummary: pulumi.Output<CheckSummary>;
  constructor(name: string, args: SiteArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pve-fabric:site:Site", name, {}, opts);
    const plan = (this.plan = planSite(args.checked, args.settings));
    const c = { parent: this };
    for (const h of plan.hosts) {
      this.hostPrep[h.node] = new HostPrep(
        `${name}-${h.node}`,
        { node: h.node, connection: args.connections[h.node] },
        c,
      );
    }
    this.underlay = new Underlay(
      `${name}-wg`,
      {
        site: plan.site,
        hosts: plan.hosts,
        connections: args.connections,
        facts: args.facts,
        // wg-quick needs wireguard-tools; the tunnel carries BGP, so FRR comes first too.
        dependsOn: Object.values(this.hostPrep),
      },
      c,
    );
    const ready = this.underlay.tunnelRoutes.apply((r) =>
      vtepReady(plan.hosts, plan.overlay.controller.peers, r),
    );
    this.overlay = new Overlay(
      `${name}-sdn`,
      {
        api: args.api,
        plan: plan.overlay,
        applyAfter: [this.underlay, ...Object.values(this.hostPrep)],
        vtepReady: ready,
      },
      c,
    );
    this.firewall = new Firewall(
      `${name}-fw`,
      { api: args.api, plan: plan.firewall, sdnApplied: this.overlay.apply },
      c,
    );
    if (plan.sdntest) {
      this.sdntest = new SdnTestVm(
        `${name}-sdntest`,
        { api: args.api, plan: plan.sdntest, sdnApplied: this.overlay.apply },
        c,
      );
    }
    this.publicKeys = this.underlay.publicKeys;
    this.knownPeers = this.underlay.knownPeers;
    const spec = pulumi
      .all([pulumi.output(args.facts), this.publicKeys, ready])
      .apply(([f, keys, r]) => checkSpecFor(plan, args.checked, args.settings, f, keys, r));
    this.check = new FabricCheck(
      `${name}-check`,
      {
        spec,
        api: args.api,
        connections: args.connections,
        probe: args.probe,
        enforce: args.settings.check.enforce,
        settleSeconds: args.settings.check.settleSeconds,
      },
      {
        parent: this,
        dependsOn: [
          ...Object.values(this.hostPrep),
          this.underlay,
          this.overlay,
          this.firewall,
          ...(this.sdntest ? [this.sdntest] : []),
        ],
      },
    );
    this.checkResults = this.check.results;
    this.checkSummary = this.check.summary;
    this.registerOutputs({
      publicKeys: this.publicKeys,
      knownPeers: this.knownPeers,
      checkResults: this.checkResults,
      checkSummary: this.checkSummary,
    });
  }
}
