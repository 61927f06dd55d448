// What one site stack builds, as plain data (STYLE habit 1: thin components over pure planning). The
// components (components/*.ts) turn this into resources; tests/unit/components-plan.test.ts pins it exactly.
//
// Two inputs arrive at different times: the fabric model (known when the program starts) fixes every
// resource and name; the other sites' published facts (WireGuard public keys, what they already know of us,
// their sdntest address — read from their stacks, ADR 003) arrive as Outputs and only fill in values
// (peers, check expectations), never the set of resources. So the plan is split the same way.
import type { CheckedStack, DerivedNode, DerivedSite } from "../fabric";
import { isIPv4, offset, parseCidr, parseIPv4 } from "../fabric/net";
import { fabricRules } from "../providers/pve/fabric-rules";
import type { KeyedRule } from "../providers/pve/fw-plan";
import type { VmSpec } from "../providers/pve/ops/vm";
import type { CheckPeer, CheckSpec } from "./check";
import type { SiteSettings } from "./settings";

export const PACKAGES = ["frr", "frr-pythontools", "wireguard-tools"];
export const SYSCTL_DROP_IN = "90-pve-fabric";
/** DESIGN §1 [host]: a router that forwards asymmetric flows between bridges and tunnels. */
export const SYSCTLS: Readonly<Record<string, string>> = {
  "net.ipv4.ip_forward": "1",
  "net.bridge.bridge-nf-call-iptables": "1",
  "net.bridge.bridge-nf-call-ip6tables": "1",
  "net.ipv4.conf.all.rp_filter": "0",
  "net.ipv4.conf.default.rp_filter": "0",
};

export interface HostPlan {
  node: string;
  tunnelAddress: string;
  wireguard: DerivedNode["wireguard"];
}

export interface OverlayPlan {
  controller: { id: string; asn: number; peers: string[] };
  zone: {
    id: string;
    vrfVxlan: number;
    exitNodes: string[];
    exitNodesLocalRouting: boolean;
    exitNodesLocalRoutingReason?: string;
    advertiseSubnets: boolean;
    mtu: number;
  };
  vnets: { id: string; vni: number; alias: string }[];
  subnets: { vnet: string; cidr: string; gateway: string; snat: boolean }[];
  owned: {
    controller: string;
    zone: string;
    vnets: string[];
    subnets: { vnet: string; zone: string; cidr: string }[];
  };
}

export interface FirewallPlan {
  group: string;
  clusterOptions: Record<string, number | string>;
  nodeOptions: Record<string, Record<string, boolean>>;
  groupRules: KeyedRule[];
  clusterRules: KeyedRule[];
  vnetRules: Record<string, KeyedRule[]>;
  operatorSources: string[];
  /** Rule keys left out on purpose (settings.firewall.omitRules): the check names them when it fails. */
  omitted: string[];
}

/** The sdntest VM, as the TestVm resource takes it (providers/pve/ops/vm.ts). */
export type SdnTestPlan = VmSpec;

export interface SitePlan {
  site: string;
  otherSites: string[];
  hosts: HostPlan[];
  overlay: OverlayPlan;
  firewall: FirewallPlan;
  sdntest?: SdnTestPlan;
  mtu: { underlay: number; wireguard: number; overlay: number };
}

/** `host:port` / `[v6]:port` → host. */
export function endpointHost(endpoint: string): string {
  const m = /^\[(.+)\]:\d+$/.exec(endpoint) ?? /^(.+):\d+$/.exec(endpoint);
  return m ? m[1] : endpoint;
}

/** The sdntest address default: gateway + 10 with the subnet's prefix (10.1.1.1 in /24 → 10.1.1.11/24). */
export function defaultSdnTestAddress(cidr: string, gateway: string): string {
  const c = parseCidr(cidr)!;
  return `${offset(parseIPv4(gateway)!, 10)!.toString()}/${c.prefix}`;
}

export function planSite(checked: CheckedStack, settings: SiteSettings): SitePlan {
  const { site, fabric, derived } = checked;
  const me: DerivedSite = derived.sites[site];
  const otherSites = Object.keys(derived.sites).filter((s) => s !== site);
  const others = otherSites.map((s) => derived.sites[s]);
  const zone = derived.names.zone;

  const overlay: OverlayPlan = {
    controller: { id: derived.names.controller, asn: fabric.asn, peers: [...derived.evpnPeers] },
    zone: {
      id: zone,
      vrfVxlan: fabric.zone.vrfVxlan,
      exitNodes: [...me.exitNodes],
      exitNodesLocalRouting: fabric.zone.exitnodesLocalRouting,
      ...(fabric.zone.exitnodesLocalRoutingReason
        ? { exitNodesLocalRoutingReason: fabric.zone.exitnodesLocalRoutingReason }
        : {}),
      advertiseSubnets: fabric.zone.advertiseSubnets,
      mtu: derived.mtu.overlay,
    },
    vnets: me.vnets.map((v) => ({ ...v })),
    subnets: me.subnets.map((s) => ({ vnet: s.vnet, cidr: s.cidr, gateway: s.gateway, snat: s.snat })),
    owned: {
      controller: derived.names.controller,
      zone,
      vnets: me.vnets.map((v) => v.id),
      subnets: me.subnets.map((s) => ({ vnet: s.vnet, zone, cidr: s.cidr })),
    },
  };

  const firewall = planFirewall(checked, settings, me, others);

  let sdntest: SdnTestPlan | undefined;
  const t = settings.sdntest;
  if (t.enabled) {
    const subnet = me.subnets[0];
    sdntest = {
      node: t.node ?? me.exitNodes[0] ?? me.nodes[0].name,
      vmid: t.vmid,
      name: "sdntest",
      vnet: subnet.vnet,
      address: t.address ?? defaultSdnTestAddress(subnet.cidr, subnet.gateway),
      gateway: subnet.gateway,
      mgmtBridge: t.mgmtBridge,
      mgmtAddress: t.mgmtAddress,
      memory: t.memory,
      cores: t.cores,
      ...(t.disk ? { disk: t.disk } : {}),
      ...(t.cloudInitStorage ? { cloudInitStorage: t.cloudInitStorage } : {}),
    };
  }

  return {
    site,
    otherSites,
    hosts: me.nodes.map((n) => ({ node: n.name, tunnelAddress: n.tunnelAddress, wireguard: n.wireguard })),
    overlay,
    firewall,
    sdntest,
    mtu: { underlay: derived.mtu.underlay, wireguard: derived.mtu.wireguard, overlay: derived.mtu.overlay },
  };
}

function planFirewall(
  checked: CheckedStack,
  settings: SiteSettings,
  me: DerivedSite,
  others: DerivedSite[],
): FirewallPlan {
  const { fabric, derived } = checked;
  const group = derived.names.securityGroup;
  const peerNodes = [...others.flatMap((s) => s.nodes)];
  const endpoints = me.nodes[0].wireguard.peers
    .filter((p) => p.site !== me.name)
    .map((p) => endpointHost(p.endpoint));
  // PVE rule sources take addresses, not DNS names. When any peer site is reached by name (the seed's
  // DDNS site), the WireGuard port stays open to any source, as the seed had it: WireGuard answers nothing
  // to a packet without a known key, and a pinned address would break the tunnel when the DDNS name moves.
  const peerEndpoints = endpoints.every(isIPv4) ? endpoints : [];
  const peerTunnelAddresses = [
    ...me.nodes.slice(1).map((n) => n.tunnelAddress),
    ...peerNodes.map((n) => n.tunnelAddress),
  ];
  const log = fabric.firewall.log === "nolog" ? {} : { log: fabric.firewall.log };
  const withLog = (r: KeyedRule): KeyedRule => (r.type === "group" ? r : { ...r, ...log });
  const many = me.vnets.length > 1;

  const groupRules: KeyedRule[] = [];
  let clusterRules: KeyedRule[] = [];
  const vnetRules: Record<string, KeyedRule[]> = {};
  me.vnets.forEach((v, i) => {
    const local = me.subnets.filter((s) => s.vnet === v.id);
    const rules = fabricRules({
      group,
      wgInterface: fabric.wireguard.interface,
      wgPort: fabric.wireguard.port,
      peerEndpoints,
      peerTunnelAddresses,
      vnet: v.id,
      remoteSubnets: others.flatMap((s) => s.subnets.filter((x) => x.vnet === v.id).map((x) => x.cidr)),
      snat: local.some((s) => s.snat),
    });
    // One vnet (the seed) keeps fabricRules' keys; several get a per-vnet suffix on their own rules.
    const key = (r: KeyedRule) => (many ? { ...r, key: `${r.key}-${v.id}` } : r);
    groupRules.push(
      ...rules.group.filter((r) => i === 0 || r.key !== "wg-in").map((r) => (r.key === "wg-in" ? r : key(r))),
    );
    if (i === 0) clusterRules = rules.cluster;
    vnetRules[v.id] = rules.vnet;
  });

  const operatorSources = [...settings.operatorSources];
  if (operatorSources.length > 0) {
    clusterRules = [
      {
        key: "mgmt-in",
        type: "in",
        enable: true,
        action: "ACCEPT",
        proto: "tcp",
        dport: "22,8006",
        source: [...new Set(operatorSources)].sort().join(","),
        note: "SSH and API from the operator",
      },
      ...clusterRules,
    ];
  }
  const omit = new Set(settings.firewall.omitRules);
  const keep = (rs: KeyedRule[]) => rs.filter((r) => !omit.has(r.key)).map(withLog);
  const all = [...groupRules, ...clusterRules, ...Object.values(vnetRules).flat()].map((r) => r.key);

  return {
    group,
    clusterOptions: fabric.firewall.enable ? { enable: 1 } : { enable: 0 },
    nodeOptions: Object.fromEntries(
      me.nodes.map((n) => [n.name, { enable: true, nftables: fabric.firewall.nftables }]),
    ),
    groupRules: keep(groupRules),
    clusterRules: keep(clusterRules),
    vnetRules: Object.fromEntries(Object.entries(vnetRules).map(([k, rs]) => [k, keep(rs)])),
    operatorSources,
    omitted: [...omit].filter((k) => all.includes(k)).sort(),
  };
}

/** What another site has published (its stack outputs; ADR 003). Undefined parts: not published yet. */
export interface PeerFacts {
  wireguard?: {
    nodes?: Record<string, { publicKey?: string; endpoint?: string; tunnelAddress?: string }>;
    /** Public keys that site's nodes have configured as peers: does it know us yet? */
    knownPeers?: string[];
  };
  sdntest?: { address?: string } | null;
}

export interface WgPeerSpec {
  publicKey: string;
  endpoint: string;
  allowedIps: string[];
  persistentKeepalive: number;
}

/**
 * The nodes whose VTEP address PVE will pick right on the next SDN apply. PVE takes it from
 * `ip route get <first controller peer>` (reference pve-sdn-realization.md §1.5; wg-quick's address is not in
 * /etc/network/interfaces), so on every node but the first peer's own, the tunnel must already route to that
 * peer: on the first run of a bootstrap it does not (same-site and not-yet-published keys), and the apply
 * picks the uplink address. This list goes into the apply's trigger, so the apply runs again once it grows.
 * `tunnelRoutes`: node → the AllowedIPs of the peers configured on its WireGuard interface.
 */
export function vtepReady(
  hosts: HostPlan[],
  controllerPeers: string[],
  tunnelRoutes: Record<string, string[]>,
): string[] {
  const first = controllerPeers[0];
  return hosts
    .filter((h) => h.tunnelAddress === first || (tunnelRoutes[h.node] ?? []).includes(`${first}/32`))
    .map((h) => h.node)
    .sort();
}

/**
 * The WireGuard peers of one host: every other node whose public key is known. Nodes of this site come
 * from `ownKeys` (this run's interfaces); other sites' from their stacks. Missing keys are listed, not guessed.
 */
export function wgPeers(
  host: HostPlan,
  ownKeys: Record<string, string | undefined>,
  facts: Record<string, PeerFacts | undefined>,
  site: string,
): { peers: WgPeerSpec[]; missing: string[] } {
  const peers: WgPeerSpec[] = [];
  const missing: string[] = [];
  for (const p of host.wireguard.peers) {
    const key = p.site === site ? ownKeys[p.node] : facts[p.site]?.wireguard?.nodes?.[p.node]?.publicKey;
    if (!key) {
      missing.push(`${p.site}/${p.node}`);
      continue;
    }
    peers.push({
      publicKey: key,
      endpoint: p.endpoint,
      allowedIps: [...p.allowedIps],
      persistentKeepalive: p.persistentKeepalive,
    });
  }
  return { peers, missing };
}

/**
 * What the fabric check expects, given what the other sites have published. A peer is "pending" (not a
 * failure) while the bootstrap of ADR 003 is under way: its key is unknown here, or its site has not yet
 * configured this site's key. Pending names the `pulumi up` that resolves it.
 */
export function checkSpecFor(
  plan: SitePlan,
  checked: CheckedStack,
  settings: SiteSettings,
  facts: Record<string, PeerFacts | undefined>,
  ownKeys: Record<string, string>,
  /** The nodes vtepReady() lists; any other node's VTEP is expected to be wrong until the next apply. */
  ready?: string[],
): CheckSpec {
  const { derived, fabric } = checked;
  const site = plan.site;
  const mine = Object.values(ownKeys);
  const pendingOf = (s: string, node: string): string | undefined => {
    const f = facts[s];
    const key = f?.wireguard?.nodes?.[node]?.publicKey;
    if (s === site)
      return key
        ? undefined
        : `this site's own key for ${node} is learned from its previous run: run \`pulumi up -s ${site}\` again`;
    if (!key)
      return `${s} has not published ${node}'s WireGuard key: run \`pulumi up -s ${s}\`, then again here`;
    const known = new Set(f?.wireguard?.knownPeers ?? []);
    if (mine.length && !mine.every((k) => known.has(k)))
      return `${s} does not know this site's key yet: run \`pulumi up -s ${s}\``;
    return undefined;
  };
  const peers: CheckPeer[] = Object.values(derived.sites).flatMap((s) =>
    s.nodes
      .filter((n) => !(s.name === site && plan.hosts.length === 1 && n.name === plan.hosts[0].node))
      .map((n) => {
        const pending = pendingOf(s.name, n.name);
        const publicKey =
          s.name === site ? ownKeys[n.name] : facts[s.name]?.wireguard?.nodes?.[n.name]?.publicKey;
        return {
          site: s.name,
          node: n.name,
          tunnelAddress: n.tunnelAddress,
          ...(publicKey ? { publicKey } : {}),
          ...(pending ? { pending } : {}),
        };
      }),
  );
  const spec: CheckSpec = {
    site,
    zone: derived.names.zone,
    vnets: [...derived.names.vnets],
    hosts: plan.hosts.map((h) => ({
      node: h.node,
      wgInterface: h.wireguard.interface,
      tunnelAddress: h.tunnelAddress,
      exitNode: plan.overlay.zone.exitNodes.includes(h.node),
      ...(ready && !ready.includes(h.node)
        ? {
            vtepPending:
              `the tunnel does not route to the first controller peer ${plan.overlay.controller.peers[0]} yet ` +
              "(its key is not known here), so the SDN apply picked another VTEP address: the next `pulumi up` " +
              "after that key is published re-applies",
          }
        : {}),
    })),
    peers,
    sysctls: { ...SYSCTLS },
    handshakeMaxAgeSeconds: settings.check.handshakeMaxAgeSeconds,
    overlayMtu: derived.mtu.overlay,
    firewall: {
      group: plan.firewall.group,
      omitted: [...plan.firewall.omitted],
      nftables: fabric.firewall.nftables,
    },
    remoteSubnets: Object.fromEntries(
      plan.overlay.vnets.map((v) => [
        v.id,
        plan.otherSites.flatMap((o) =>
          derived.sites[o].subnets.filter((x) => x.vnet === v.id).map((x) => x.cidr),
        ),
      ]),
    ),
  };
  if (plan.sdntest) {
    spec.sdntest = {
      targets: plan.otherSites.map((s) => {
        const sitePending = derived.sites[s].nodes.map((n) => pendingOf(s, n.name)).find((p) => p);
        const address = facts[s]?.sdntest?.address ?? undefined;
        const pending =
          sitePending ?? (address ? undefined : `${s} has no sdntest published: run \`pulumi up -s ${s}\``);
        return { site: s, ...(address ? { address } : {}), ...(pending ? { pending } : {}) };
      }),
      ...(settings.check.outside ? { outside: settings.check.outside } : {}),
    };
  }
  return spec;
}
