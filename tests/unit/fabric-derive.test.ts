// Derived values, exact: MTU, EVPN peers, WireGuard peers and AllowedIPs, remote subnets, PVE names.
import assert from "node:assert/strict";
import { validateFabric, type Derived } from "../../fabric";
import { seedFabric, threeSiteFabric } from "./fixtures/fabric";

function derive(raw: unknown): Derived {
  const r = validateFabric(raw);
  if (!r.ok) assert.fail(JSON.stringify(r.problems));
  return r.derived;
}

describe("fabric derived values", () => {
  it("derives MTU 1370 for a 1500 underlay (1500 - 80 WireGuard - 50 VXLAN) and 1420 for wg0", () => {
    assert.deepEqual(derive(seedFabric()).mtu, {
      underlay: 1500,
      wireguard: 1420,
      overlay: 1370,
      derived: true,
    });
  });

  it("derives from a jumbo underlay and keeps a hand-set overlay MTU", () => {
    const f = seedFabric();
    f.mtu.underlay = 9000;
    assert.deepEqual(derive(f).mtu, { underlay: 9000, wireguard: 8920, overlay: 8870, derived: true });
    f.mtu.overlay = 1400;
    assert.deepEqual(derive(f).mtu, { underlay: 9000, wireguard: 8920, overlay: 1400, derived: false });
  });

  it("lists every node's tunnel address as EVPN peers, sites by name", () => {
    assert.deepEqual(derive(seedFabric()).evpnPeers, ["10.1.0.1", "10.2.0.1"]);
    assert.deepEqual(derive(threeSiteFabric()).evpnPeers, ["10.3.0.1", "10.3.0.2", "10.1.0.1", "10.2.0.1"]);
  });

  it("gives the seed's roz node one WireGuard peer: wro, AllowedIPs its tunnel /32", () => {
    assert.deepEqual(derive(seedFabric()).sites.roz.nodes, [
      {
        name: "pve1",
        tunnelAddress: "10.1.0.1",
        exitNode: true,
        wireguard: {
          interface: "wg0",
          address: "10.1.0.1/32",
          listenPort: 51820,
          mtu: 1420,
          peers: [
            {
              site: "wro",
              node: "pve-wro",
              endpoint: "wro.dyn.example.org:51820",
              allowedIps: ["10.2.0.1/32"],
              persistentKeepalive: 25,
            },
          ],
        },
      },
    ]);
  });

  it("meshes all nodes of a 3-site fabric, same-site nodes included, each with its own port", () => {
    const d = derive(threeSiteFabric());
    const peersOf = (site: string, i: number) =>
      d.sites[site].nodes[i].wireguard.peers.map(
        (p) => `${p.site}/${p.node} ${p.endpoint} ${p.allowedIps.join()}`,
      );
    assert.deepEqual(peersOf("lon", 1), [
      "lon/lon1 198.51.100.7:51820 10.3.0.1/32",
      "roz/pve1 203.0.113.10:51820 10.1.0.1/32",
      "wro/pve-wro wro.dyn.example.org:51820 10.2.0.1/32",
    ]);
    assert.equal(d.sites.lon.nodes[1].wireguard.listenPort, 51821);
    assert.deepEqual(d.sites.lon.exitNodes, ["lon1"]);
  });

  it("brackets an IPv6 endpoint", () => {
    const f = seedFabric();
    f.sites.wro.nodes[0].endpoint = "2001:db8::7";
    assert.equal(derive(f).sites.roz.nodes[0].wireguard.peers[0].endpoint, "[2001:db8::7]:51820");
  });

  it("lets each site allow exactly the other sites' subnets", () => {
    const d = derive(threeSiteFabric());
    assert.deepEqual(Object.fromEntries(Object.values(d.sites).map((s) => [s.name, s.remoteSubnets])), {
      lon: ["10.1.1.0/24", "10.2.1.0/24"],
      roz: ["10.3.1.0/24", "10.2.1.0/24"],
      wro: ["10.3.1.0/24", "10.1.1.0/24"],
    });
  });

  it("names the PVE objects and the firewall marker", () => {
    const d = derive(seedFabric());
    assert.equal(d.marker, "pve-fabric");
    assert.deepEqual(d.names, {
      controller: "evpnctl",
      zone: "crossite",
      vnets: ["crossvnt"],
      securityGroup: "fabric-crossite",
      remoteSubnetsIpset: "fabric-crossite-remote",
      tunnelIpset: "fabric-crossite-tunnel",
    });
    assert.deepEqual(d.sites.wro.subnets, [
      {
        vnet: "crossvnt",
        cidr: "10.2.1.0/24",
        gateway: "10.2.1.1",
        snat: true,
        pveId: "crossite-10.2.1.0-24",
      },
    ]);
    assert.deepEqual(d.sites.wro.vnets, [{ id: "crossvnt", vni: 100000, alias: "pve-fabric wro" }]);
  });

  it("keeps every derived PVE name within PVE's limits for the longest zone id", () => {
    const f = seedFabric();
    f.zone.id = "abcdefgh";
    const n = derive(f).names;
    assert.equal(n.securityGroup, "fabric-abcdefgh");
    assert.ok(n.securityGroup.length <= 18, "security group names are at most 18 characters");
    assert.ok(n.remoteSubnetsIpset.length <= 64 && n.tunnelIpset.length <= 64);
  });
});
