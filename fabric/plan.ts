// The summary `check-config` prints for a valid stack: what `pulumi up -s <site>` will converge to.
import type { CheckedStack } from "./index";

export function formatPlan(c: CheckedStack): string {
  const { derived: d, fabric: f } = c;
  const siteNames = Object.keys(d.sites);
  const mtu = d.mtu.derived
    ? `${d.mtu.overlay} (derived: underlay ${d.mtu.underlay} - 80 WireGuard - 50 VXLAN)`
    : `${d.mtu.overlay} (set; fits underlay ${d.mtu.underlay})`;
  const lines = [
    `stack ${c.site}: valid`,
    `fabric: ${siteNames.length} sites (${siteNames.join(", ")}), ASN ${f.asn}, controller ${d.names.controller}, ` +
      `zone ${d.names.zone} (vrf-vxlan ${f.zone.vrfVxlan}), ` +
      `vnets ${Object.entries(f.vnets)
        .map(([id, v]) => `${id} (VNI ${v.vni})`)
        .join(", ")}`,
    `MTU: overlay ${mtu}, WireGuard ${d.mtu.wireguard}`,
    `EVPN peers: ${d.evpnPeers.join(", ")}`,
    "subnets:",
    ...siteNames.flatMap((s) =>
      d.sites[s].subnets.map(
        (x) =>
          `  ${s.padEnd(12)} ${x.vnet} ${x.cidr} gw ${x.gateway} snat ${x.snat ? "on" : "off"}` +
          `  exit nodes: ${d.sites[s].exitNodes.join(", ") || "none"}${s === c.site ? "   <- this stack" : ""}`,
      ),
    ),
    `this site (${c.site}):`,
    ...d.sites[c.site].nodes.flatMap((n) => [
      `  node ${n.name}: ${n.wireguard.interface} ${n.wireguard.address} listen ${n.wireguard.listenPort}${n.exitNode ? ", exit node" : ""}`,
      ...n.wireguard.peers.map(
        (p) =>
          `    peer ${p.site}/${p.node} at ${p.endpoint} allowed-ips ${p.allowedIps.join(",")} keepalive ${p.persistentKeepalive}`,
      ),
    ]),
    `  firewall: remote subnets ${d.sites[c.site].remoteSubnets.join(", ")} -> ipset ${d.names.remoteSubnetsIpset}; ` +
      `tunnel sources -> ipset ${d.names.tunnelIpset}; group ${d.names.securityGroup}; marker "${d.marker}"`,
  ];
  if (c.warnings.length) lines.push("warnings:", ...c.warnings.map((w) => `  - ${w}`));
  return lines.join("\n");
}
