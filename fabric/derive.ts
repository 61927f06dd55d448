// Values computed from a valid fabric: nobody types them twice (DESIGN §4). Pure; exact-output tests in
// tests/unit/fabric-derive.test.ts.
import { derivedOverlayMtu, WIREGUARD_OVERHEAD } from "./guardrails";
import { cidrOf, cidrText } from "./net";
import type { FabricConfig } from "./schema";

/** Written into the comment of every firewall object the program owns (DESIGN decision 5). */
export const MARKER = "pve-fabric";

export interface WireguardPeer {
  readonly site: string;
  readonly node: string;
  /** host:port, IPv6 literals in brackets; DNS names are kept so a changed address is re-resolved. */
  readonly endpoint: string;
  readonly allowedIps: readonly string[];
  readonly persistentKeepalive: number;
}

export interface DerivedNode {
  readonly name: string;
  readonly tunnelAddress: string;
  readonly exitNode: boolean;
  readonly wireguard: {
    readonly interface: string;
    /** The interface address: a /32, so no connected route covers the overlay subnets (reference §2.7). */
    readonly address: string;
    readonly listenPort: number;
    readonly mtu: number;
    readonly peers: readonly WireguardPeer[];
  };
}

export interface DerivedSubnet {
  readonly vnet: string;
  readonly cidr: string;
  readonly gateway: string;
  readonly snat: boolean;
  /** The id PVE stores the subnet under: `<zone>-<network>-<prefix>` (pve-api.md §2.2). */
  readonly pveId: string;
}

export interface DerivedSite {
  readonly name: string;
  readonly nodes: readonly DerivedNode[];
  /** PVE zone `exitnodes`, in node order. */
  readonly exitNodes: readonly string[];
  readonly vnets: readonly { readonly id: string; readonly vni: number; readonly alias: string }[];
  readonly subnets: readonly DerivedSubnet[];
  /** Every other site's subnets, exactly: what this site's firewall lets into its vnets (not 10.0.0.0/8). */
  readonly remoteSubnets: readonly string[];
}

export interface Derived {
  readonly marker: string;
  readonly mtu: {
    readonly underlay: number;
    readonly wireguard: number;
    readonly overlay: number;
    /** False when mtu.overlay was set by hand. */
    readonly derived: boolean;
  };
  /** The EVPN controller's `peers` on every site: every node's tunnel address, sites by name. */
  readonly evpnPeers: readonly string[];
  readonly names: {
    readonly controller: string;
    readonly zone: string;
    readonly vnets: readonly string[];
    /** Cluster security group holding the fabric's rules (PVE limit: 18 characters). */
    readonly securityGroup: string;
    /** Cluster ipset of the other sites' subnets (the exact remote subnets). */
    readonly remoteSubnetsIpset: string;
    /** Cluster ipset of every node's tunnel address (sources for BGP tcp/179 and VXLAN udp/4789). */
    readonly tunnelIpset: string;
  };
  readonly sites: Readonly<Record<string, DerivedSite>>;
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

export function deriveFabric(f: FabricConfig): Derived {
  const siteNames = Object.keys(f.sites).sort();
  const wgMtu = f.mtu.underlay - WIREGUARD_OVERHEAD;
  const all = siteNames.flatMap((site) => f.sites[site].nodes.map((n) => ({ site, ...n })));
  const subnetsOf = (site: string): DerivedSubnet[] =>
    Object.entries(f.sites[site].subnets).map(([vnet, s]) => {
      const c = cidrOf(s.cidr)!;
      return {
        vnet,
        cidr: cidrText(c),
        gateway: s.gateway,
        snat: s.snat,
        pveId: `${f.zone.id}-${c.network.toString()}-${c.prefix}`,
      };
    });

  const sites: Record<string, DerivedSite> = {};
  for (const site of siteNames) {
    const s = f.sites[site];
    sites[site] = {
      name: site,
      nodes: s.nodes.map((n) => ({
        name: n.name,
        tunnelAddress: n.tunnelAddress,
        exitNode: n.exitNode,
        wireguard: {
          interface: f.wireguard.interface,
          address: `${n.tunnelAddress}/32`,
          listenPort: n.port ?? f.wireguard.port,
          mtu: wgMtu,
          // Full mesh: one peer per other node of the fabric. A /32 per peer because WireGuard's
          // cryptokey routing needs AllowedIPs unique across peers, which a per-site /16 is not once a
          // site has two nodes; VXLAN and BGP only ever address tunnel IPs (ADR 002).
          peers: all
            .filter((p) => !(p.site === site && p.name === n.name))
            .map((p) => ({
              site: p.site,
              node: p.name,
              endpoint: hostPort(p.endpoint, p.port ?? f.wireguard.port),
              allowedIps: [`${p.tunnelAddress}/32`],
              persistentKeepalive: f.wireguard.keepalive,
            })),
        },
      })),
      exitNodes: s.nodes.filter((n) => n.exitNode).map((n) => n.name),
      vnets: Object.entries(f.vnets).map(([id, v]) => ({
        id,
        vni: v.vni,
        alias: v.alias ?? `${MARKER} ${site}`,
      })),
      subnets: subnetsOf(site),
      remoteSubnets: siteNames.filter((o) => o !== site).flatMap((o) => subnetsOf(o).map((x) => x.cidr)),
    };
  }

  return {
    marker: MARKER,
    mtu: {
      underlay: f.mtu.underlay,
      wireguard: wgMtu,
      overlay: f.mtu.overlay ?? derivedOverlayMtu(f.mtu.underlay),
      derived: f.mtu.overlay === undefined,
    },
    evpnPeers: all.map((n) => n.tunnelAddress),
    names: {
      controller: f.controller,
      zone: f.zone.id,
      vnets: Object.keys(f.vnets),
      securityGroup: `fabric-${f.zone.id}`,
      remoteSubnetsIpset: `fabric-${f.zone.id}-remote`,
      tunnelIpset: `fabric-${f.zone.id}-tunnel`,
    },
    sites,
  };
}
