// The fabric's firewall rules for one site (DESIGN §1 [firewall]). Pure: the components feed it from the
// fabric model, the FirewallRules resources write what it returns.
//
//   security group   IN udp/<wg port> from the peer endpoints (WireGuard underlay)
//                    FORWARD local vnet ↔ the exact remote subnets (never a blanket 10.0.0.0/8), and, with SNAT,
//                    local vnet → anywhere
//   cluster rules    the group reference; IN tcp/179 (BGP) and udp/4789 (VXLAN) from the peer tunnel addresses
//                    on the WireGuard interface (security-group rules cannot name an interface, §3.3)
//   vnet rules       FORWARD within the vnet, vnet ↔ remote subnets, and (SNAT) vnet → anywhere
// `+sdn/<vnet>-all` only holds the LOCAL subnets (DESIGN §4), so remote subnets are listed literally.
import type { KeyedRule } from "./fw-plan";

export interface FabricRuleInput {
  group: string;
  wgInterface: string;
  wgPort: number;
  /** Underlay (public) addresses of the other sites' WireGuard endpoints. */
  peerEndpoints: string[];
  /** Tunnel addresses of every other node (BGP/VXLAN peers). */
  peerTunnelAddresses: string[];
  vnet: string;
  /** The other sites' subnet CIDRs. */
  remoteSubnets: string[];
  snat: boolean;
}

export interface FabricRules {
  group: KeyedRule[];
  cluster: KeyedRule[];
  vnet: KeyedRule[];
}

const list = (xs: string[]) => [...new Set(xs)].sort().join(",");

export function fabricRules(i: FabricRuleInput): FabricRules {
  const local = `+sdn/${i.vnet}-all`;
  const remote = list(i.remoteSubnets);
  const on = { enable: true, action: "ACCEPT" } as const;
  const forward = (key: string, source: string, dest?: string, note?: string): KeyedRule => ({
    key,
    type: "forward",
    ...on,
    source,
    ...(dest ? { dest } : {}),
    ...(note ? { note } : {}),
  });
  const group: KeyedRule[] = [
    {
      key: "wg-in",
      type: "in",
      ...on,
      proto: "udp",
      dport: String(i.wgPort),
      source: list(i.peerEndpoints),
      note: "WireGuard from peer sites",
    },
    forward("fwd-out", local, remote, "vnet to remote subnets"),
    forward("fwd-in", remote, local, "remote subnets to vnet"),
  ];
  if (i.snat) group.push(forward("fwd-snat", local, undefined, "vnet to outside (SNAT)"));
  const tunnel = list(i.peerTunnelAddresses);
  const cluster: KeyedRule[] = [
    { key: "group", type: "group", enable: true, action: i.group, note: "fabric security group" },
    {
      key: "bgp-in",
      type: "in",
      ...on,
      iface: i.wgInterface,
      proto: "tcp",
      dport: "179",
      source: tunnel,
      note: "BGP over the tunnel",
    },
    {
      key: "vxlan-in",
      type: "in",
      ...on,
      iface: i.wgInterface,
      proto: "udp",
      dport: "4789",
      source: tunnel,
      note: "VXLAN over the tunnel",
    },
  ];
  const vnet: KeyedRule[] = [
    forward("vnet-local", local, local, "within the vnet"),
    forward("vnet-out", local, remote, "vnet to remote subnets"),
    forward("vnet-in", remote, local, "remote subnets to vnet"),
  ];
  if (i.snat) vnet.push(forward("vnet-snat", local, undefined, "vnet to outside (SNAT)"));
  return { group, cluster, vnet };
}
