// The site plan (components/plan.ts), exact: what one stack builds from the fabric model, the WireGuard peers
// from published facts, and what the fabric check expects during and after the bootstrap (ADR 003).
import assert from "node:assert/strict";
import { checkStack, type CheckedStack } from "../../fabric";
import { checkSpecFor, planSite, vtepReady, wgPeers } from "../../components/plan";
import { parseSiteSettings, type SiteSettings } from "../../components/settings";
import { rozStack, seedFabric } from "./fixtures/fabric";

function roz(fabric: unknown = seedFabric()): CheckedStack {
  const r = checkStack({ stack: "roz", fabric, config: rozStack() });
  if (!r.ok) assert.fail(JSON.stringify(r.problems));
  return r;
}

function settings(raw: Record<string, unknown> = {}): SiteSettings {
  const r = parseSiteSettings(raw);
  if (!r.ok) assert.fail(JSON.stringify(r.problems));
  return r.settings;
}

const WRO_KEY = "wroKEYwroKEYwroKEYwroKEYwroKEYwroKEYwroKEY0=";
const ROZ_KEY = "rozKEYrozKEYrozKEYrozKEYrozKEYrozKEYrozKEY0=";

describe("site plan", () => {
  it("plans the seed's roz overlay: controller peers = every tunnel address, zone MTU 1370, one vnet and subnet", () => {
    const p = planSite(roz(), settings());
    assert.deepEqual(p.overlay, {
      controller: { id: "evpnctl", asn: 65000, peers: ["10.1.0.1", "10.2.0.1"] },
      zone: {
        id: "crossite",
        vrfVxlan: 99999,
        exitNodes: ["pve1"],
        exitNodesLocalRouting: false,
        advertiseSubnets: true,
        mtu: 1370,
      },
      vnets: [{ id: "crossvnt", vni: 100000, alias: "pve-fabric roz" }],
      subnets: [{ vnet: "crossvnt", cidr: "10.1.1.0/24", gateway: "10.1.1.1", snat: true }],
      owned: {
        controller: "evpnctl",
        zone: "crossite",
        vnets: ["crossvnt"],
        subnets: [{ vnet: "crossvnt", zone: "crossite", cidr: "10.1.1.0/24" }],
      },
    });
    assert.deepEqual(p.mtu, { underlay: 1500, wireguard: 1420, overlay: 1370 });
    assert.deepEqual(p.otherSites, ["wro"]);
  });

  it("plans roz's firewall: operator SSH/API rule first, BGP/VXLAN on wg0 from wro's tunnel, exact remote subnet, log err", () => {
    const fw = planSite(roz(), settings({ operatorSources: ["198.18.0.2"] })).firewall;
    assert.equal(fw.group, "fabric-crossite");
    assert.deepEqual(fw.clusterOptions, { enable: 1 });
    assert.deepEqual(fw.nodeOptions, { pve1: { enable: true, nftables: true } });
    assert.deepEqual(
      fw.clusterRules.map((r) => [
        r.key,
        r.type,
        r.action,
        r.iface ?? "",
        r.dport ?? "",
        r.source ?? "",
        r.log ?? "",
      ]),
      [
        ["mgmt-in", "in", "ACCEPT", "", "22,8006", "198.18.0.2", "err"],
        ["group", "group", "fabric-crossite", "", "", "", ""],
        ["bgp-in", "in", "ACCEPT", "wg0", "179", "10.2.0.1", "err"],
        ["vxlan-in", "in", "ACCEPT", "wg0", "4789", "10.2.0.1", "err"],
      ],
    );
    // wro's endpoint is a DNS name (its DDNS), so the WireGuard port is open to any source, as in the seed.
    assert.deepEqual(
      fw.groupRules.map((r) => [r.key, r.type, r.source ?? "", r.dest ?? ""]),
      [
        ["wg-in", "in", "", ""],
        ["fwd-out", "forward", "+sdn/crossvnt-all", "10.2.1.0/24"],
        ["fwd-in", "forward", "10.2.1.0/24", "+sdn/crossvnt-all"],
        ["fwd-snat", "forward", "+sdn/crossvnt-all", ""],
      ],
    );
    assert.deepEqual(Object.keys(fw.vnetRules), ["crossvnt"]);
    assert.deepEqual(fw.omitted, []);
  });

  it("pins the WireGuard source to the peer endpoints when every endpoint is an address", () => {
    const f = seedFabric();
    f.sites.wro.nodes[0].endpoint = "198.51.100.20";
    const wgIn = planSite(roz(f), settings()).firewall.groupRules[0];
    assert.deepEqual([wgIn.key, wgIn.source, wgIn.dport], ["wg-in", "198.51.100.20", "51820"]);
  });

  it("leaves out exactly the rules named in firewall.omitRules and lists them for the diagnosis", () => {
    const fw = planSite(roz(), settings({ firewall: { omitRules: ["fwd-in", "no-such-rule"] } })).firewall;
    assert.deepEqual(
      fw.groupRules.map((r) => r.key),
      ["wg-in", "fwd-out", "fwd-snat"],
    );
    assert.deepEqual(fw.omitted, ["fwd-in"]);
  });

  it("puts sdntest on the first exit node at gateway + 10, vmid 123 (the seed's), 512 MiB, 1 core", () => {
    assert.deepEqual(planSite(roz(), settings()).sdntest, {
      node: "pve1",
      vmid: 123,
      name: "sdntest",
      vnet: "crossvnt",
      address: "10.1.1.11/24",
      gateway: "10.1.1.1",
      mgmtBridge: "vmbr0",
      mgmtAddress: "dhcp",
      memory: 512,
      cores: 1,
    });
    assert.equal(planSite(roz(), settings({ sdntest: { enabled: false } })).sdntest, undefined);
  });

  it("peers only with nodes whose key is published, and names the missing ones", () => {
    const host = planSite(roz(), settings()).hosts[0];
    assert.deepEqual(wgPeers(host, {}, {}, "roz"), { peers: [], missing: ["wro/pve-wro"] });
    assert.deepEqual(
      wgPeers(host, {}, { wro: { wireguard: { nodes: { "pve-wro": { publicKey: WRO_KEY } } } } }, "roz"),
      {
        peers: [
          {
            publicKey: WRO_KEY,
            endpoint: "wro.dyn.example.org:51820",
            allowedIps: ["10.2.0.1/32"],
            persistentKeepalive: 25,
          },
        ],
        missing: [],
      },
    );
  });

  it("counts a node's VTEP ready once it is the first controller peer or its tunnel routes there", () => {
    const hosts = [
      { node: "roz1", tunnelAddress: "10.1.0.1" },
      { node: "roz2", tunnelAddress: "10.1.0.2" },
    ] as Parameters<typeof vtepReady>[0];
    const peers = ["10.1.0.1", "10.1.0.2", "10.2.0.1"];
    // First bootstrap run: roz2 has no peers yet, so PVE's `ip route get 10.1.0.1` leaves through the uplink.
    assert.deepEqual(vtepReady(hosts, peers, { roz1: [], roz2: [] }), ["roz1"]);
    assert.deepEqual(
      vtepReady(hosts, peers, { roz1: ["10.1.0.2/32"], roz2: ["10.1.0.1/32", "10.2.0.1/32"] }),
      ["roz1", "roz2"],
    );
    // A site whose nodes are not the first peer (wro, when roz's key is not published yet).
    assert.deepEqual(vtepReady([{ node: "wro1", tunnelAddress: "10.2.0.1" }] as typeof hosts, peers, {}), []);
    // The check expects the uplink VTEP (pending, not failed) on exactly the nodes that are not ready.
    const p = planSite(roz(), settings());
    const first = p.overlay.controller.peers[0];
    const node = p.hosts[0].node;
    // As Site wires it: the nodes vtepReady() lists for the routes the interfaces report.
    const pending = (plan: typeof p, routes: Record<string, string[]>) =>
      checkSpecFor(
        plan,
        roz(),
        settings(),
        {},
        {},
        vtepReady(plan.hosts, plan.overlay.controller.peers, routes),
      ).hosts[0].vtepPending;
    assert.equal(first, p.hosts[0].tunnelAddress, "roz's node is the seed's first controller peer");
    assert.equal(pending(p, { [node]: [] }), undefined);
    const other = {
      ...p,
      overlay: { ...p.overlay, controller: { ...p.overlay.controller, peers: ["10.2.0.1", first] } },
    };
    assert.match(pending(other, { [node]: [] })!, /first controller peer 10\.2\.0\.1/);
    assert.equal(pending(other, { [node]: ["10.2.0.1/32"] }), undefined);
  });

  it("marks wro pending until wro published its key, then until wro knows roz's key, then expects everything", () => {
    const c = roz();
    const s = settings({ check: { outside: "198.18.0.1" } });
    const p = planSite(c, s);
    const own = { pve1: ROZ_KEY };
    const before = checkSpecFor(p, c, s, {}, own);
    assert.deepEqual(before.peers, [
      {
        site: "wro",
        node: "pve-wro",
        tunnelAddress: "10.2.0.1",
        pending: "wro has not published pve-wro's WireGuard key: run `pulumi up -s wro`, then again here",
      },
    ]);
    const half = checkSpecFor(
      p,
      c,
      s,
      { wro: { wireguard: { nodes: { "pve-wro": { publicKey: WRO_KEY } }, knownPeers: [] } } },
      own,
    );
    assert.equal(half.peers[0].pending, "wro does not know this site's key yet: run `pulumi up -s wro`");
    const done = checkSpecFor(
      p,
      c,
      s,
      {
        wro: {
          wireguard: { nodes: { "pve-wro": { publicKey: WRO_KEY } }, knownPeers: [ROZ_KEY] },
          sdntest: { address: "10.2.1.11" },
        },
      },
      own,
    );
    assert.deepEqual(done.peers, [
      { site: "wro", node: "pve-wro", tunnelAddress: "10.2.0.1", publicKey: WRO_KEY },
    ]);
    assert.deepEqual(done.sdntest, {
      targets: [{ site: "wro", address: "10.2.1.11" }],
      outside: "198.18.0.1",
    });
    assert.equal(done.overlayMtu, 1370);
    assert.deepEqual(done.hosts, [
      { node: "pve1", wgInterface: "wg0", tunnelAddress: "10.1.0.1", exitNode: true },
    ]);
  });

  it("refuses bad site settings naming the key, the value and the rule", () => {
    const r = parseSiteSettings({ operatorSources: ["not-an-ip"], sdntest: { vmid: 5 } });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(
      r.problems.map((p) => [p.path, p.value, p.rule]),
      [
        ["pve-fabric-site:operatorSources[0]", "not-an-ip", "must be an IPv4 address or CIDR"],
        ["pve-fabric-site:sdntest.vmid", 5, "Too small: expected number to be >=100"],
      ],
    );
  });
});
