// Underlay: one WireGuard interface per node. The key pair is made on the node; only the public key leaves it
// (an output other sites read from this stack, ADR 003). Peers are every other node whose key is known.
import * as pulumi from "@pulumi/pulumi";
import { WireGuardInterface, type ConnectionArgs } from "../providers/host/resources";
import { wgPeers, type HostPlan, type PeerFacts } from "./plan";

export interface UnderlayArgs {
  site: string;
  hosts: HostPlan[];
  connections: Record<string, pulumi.Input<ConnectionArgs>>;
  /** Other sites' published facts, and this site's own from its last run (same-site peers), by site. */
  facts: pulumi.Input<Record<string, PeerFacts | undefined>>;
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export class Underlay extends pulumi.ComponentResource {
  readonly interfaces: Record<string, WireGuardInterface> = {};
  /** node → public key, read back from the node. */
  readonly publicKeys: pulumi.Output<Record<string, string>>;
  /** Public keys configured as peers on this site's nodes: lets the other sites see that we know them. */
  readonly knownPeers: pulumi.Output<string[]>;
  /** "<site>/<node>" of peers left out because their key is not published yet. */
  readonly missingPeers: pulumi.Output<string[]>;
  /** node → the AllowedIPs of the peers configured on it (read back): where its tunnel routes. */
  readonly tunnelRoutes: pulumi.Output<Record<string, string[]>>;
  constructor(name: string, args: UnderlayArgs, opts?: pulumi.ComponentResourceOptions) {
    super("pve-fabric:site:Underlay", name, {}, opts);
    const facts = pulumi.output(args.facts);
    const own = facts.apply((f) =>
      Object.fromEntries(
        Object.entries(f[args.site]?.wireguard?.nodes ?? {}).map(([n, v]) => [n, v.publicKey]),
      ),
    );
    const planned = pulumi
      .all([facts, own])
      .apply(([f, o]) => Object.fromEntries(args.hosts.map((h) => [h.node, wgPeers(h, o, f, args.site)])));
    for (const h of args.hosts) {
      const wg = h.wireguard;
      this.interfaces[h.node] = new WireGuardInterface(
        `${name}-${h.node}`,
        {
          connection: args.connections[h.node],
          name: wg.interface,
          address: wg.address,
          listenPort: wg.listenPort,
          mtu: wg.mtu,
          peers: planned.apply((p) => p[h.node].peers),
        },
        { parent: this, dependsOn: args.dependsOn },
      );
    }
    const ifs = Object.entries(this.interfaces);
    this.publicKeys = pulumi
      .all(ifs.map(([n, i]) => i.publicKey.apply((k) => [n, k] as const)))
      .apply((kv) => Object.fromEntries(kv));
    this.knownPeers = pulumi
      .all(ifs.map(([, i]) => i.observed.apply((o) => o.peers.map((p) => p.publicKey))))
      .apply((ks) => [...new Set(ks.flat())].sort());
    this.tunnelRoutes = pulumi
      .all(
        ifs.map(([n, i]) =>
          i.observed.apply((o) => [n, o.peers.flatMap((p) => p.allowedIps).sort()] as const),
        ),
      )
      .apply((kv) => Object.fromEntries(kv));
    this.missingPeers = planned.apply((p) => [...new Set(Object.values(p).flatMap((x) => x.missing))].sort());
    this.registerOutputs({
      publicKeys: this.publicKeys,
      knownPeers: this.knownPeers,
      missingPeers: this.missingPeers,
    });
  }
}
