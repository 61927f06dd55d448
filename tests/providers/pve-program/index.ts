// A small site under the real engine: SDN objects → apply, node firewall options, cluster rules.
// The token secret comes from secret config; the test greps state and logs for it.
import * as pulumi from "@pulumi/pulumi";
import {
  EvpnController,
  EvpnZone,
  SdnApply,
  sdnOwned,
  sdnTrigger,
  Subnet,
  Vnet,
} from "../../../providers/pve/sdn";
import { FirewallOptions, FirewallRules } from "../../../providers/pve/firewall";
import { fabricRules } from "../../../providers/pve/fabric-rules";

const config = new pulumi.Config();
const api = {
  url: config.require("url"),
  tokenId: config.require("tokenId"),
  tokenSecret: config.requireSecret("tokenSecret"),
  fingerprint: config.require("fingerprint"),
  site: "roz",
};
const mtu = config.getNumber("mtu") ?? 1370;

const ctl = new EvpnController("ctl", {
  api,
  controller: "evpnctl",
  asn: 65000,
  peers: ["10.1.0.1", "10.2.0.1"],
});
const zone = new EvpnZone("zone", {
  api,
  zone: "crossite",
  controller: ctl.controller,
  vrfVxlan: 99999,
  exitNodes: ["pve1"],
  mtu,
});
const vnet = new Vnet("vnet", { api, vnet: "crossvnt", zone: zone.zone, tag: 100000 });
const subnet = new Subnet("subnet", {
  api,
  vnet: vnet.vnet,
  zone: zone.zone,
  cidr: "10.1.1.0/24",
  gateway: "10.1.1.1",
  snat: true,
});
const apply = new SdnApply(
  "apply",
  {
    api,
    trigger: sdnTrigger([ctl.peers, zone.mtu, zone.exitNodes, vnet.tag, subnet.gateway, subnet.snat]),
    owned: sdnOwned({
      controller: "evpnctl",
      zone: "crossite",
      vnets: ["crossvnt"],
      subnets: [{ vnet: "crossvnt", zone: "crossite", cidr: "10.1.1.0/24" }],
    }),
    zones: ["crossite"],
  },
  { dependsOn: [ctl, zone, vnet, subnet] },
);
new FirewallOptions("pve1-fw", { api, scope: "node/pve1", options: { nftables: true, enable: true } });
const rules = fabricRules({
  group: "fabric",
  wgInterface: "wg0",
  wgPort: 51820,
  peerEndpoints: ["198.51.100.2"],
  peerTunnelAddresses: ["10.255.0.2"],
  vnet: "crossvnt",
  remoteSubnets: ["10.2.1.0/24"],
  snat: true,
});
new FirewallRules("cluster-rules", { api, scope: "cluster", rules: rules.cluster });
new FirewallRules("vnet-rules", { api, scope: "vnet/crossvnt", rules: rules.vnet }, { dependsOn: [apply] });

export const nodeStatus = apply.liveNodeStatus;
export const zoneMac = zone.liveMac;
