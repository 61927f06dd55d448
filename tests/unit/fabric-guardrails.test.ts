// Every guardrail of the fabric model refuses a bad config with a problem at the exact field path, and
// every problem is reported at once. Positive controls: the seed and a 3-site fabric pass.
import assert from "node:assert/strict";
import { checkStack, formatProblems, validateFabric } from "../../fabric";
import { HOST_KEY, rozStack, seedFabric, threeSiteFabric } from "./fixtures/fabric";
import { only, problemsOf, stackProblems } from "./fixtures/problems";

describe("fabric guardrails", () => {
  it("accepts the seed fabric and a 3-site fabric (positive controls)", () => {
    assert.equal(validateFabric(seedFabric()).ok, true);
    assert.equal(validateFabric(threeSiteFabric()).ok, true);
    assert.equal(checkStack({ stack: "roz", fabric: seedFabric(), config: rozStack() }).ok, true);
  });

  it("accepts the 3-site stack lon (two nodes, one exit) and warns that its other node may exit abroad", () => {
    const config = {
      api: { ...rozStack().api, endpoint: "https://172.16.0.10:8006" },
      nodes: {
        lon1: { address: "172.16.0.11", hostKey: HOST_KEY, agent: true },
        lon2: { address: "172.16.0.12", hostKey: HOST_KEY, privateKey: { secure: "v1:x" } },
      },
    };
    const r = checkStack({ stack: "lon", fabric: threeSiteFabric(), config });
    assert.ok(r.ok, r.ok ? "" : formatProblems(r.problems));
    assert.deepEqual(Object.keys(r.access.nodes), ["lon1", "lon2"]);
    assert.deepEqual(r.access.nodes.lon2.auth, { kind: "key", key: { kind: "encrypted" } });
    assert.deepEqual(r.warnings, [
      "placeholder: sites.roz.nodes[0].endpoint is a documentation address in 203.0.113.0/24 (documentation TEST-NET-3, RFC 5737); replace it before `pulumi up -s lon`",
      "placeholder: sites.wro.nodes[0].endpoint is a reserved example name (wro.dyn.example.org); replace it before `pulumi up -s lon`",
      "placeholder: sites.lon.nodes[0].endpoint is a documentation address in 198.51.100.0/24 (documentation TEST-NET-2, RFC 5737); replace it before `pulumi up -s lon`",
      "placeholder: sites.lon.nodes[1].endpoint is a documentation address in 198.51.100.0/24 (documentation TEST-NET-2, RFC 5737); replace it before `pulumi up -s lon`",
      "site lon: non-exit nodes pick a default route among every site's exit nodes by BGP tie-break and may leave through another site un-NATed (reference §2.7 mechanism 4); the fabric check's egress <node> row fails on it",
    ]);
  });

  it("refuses exitnodes-local-routing without a reason, explaining the conntrack trap", () => {
    const f = seedFabric();
    f.zone.exitnodesLocalRouting = true;
    const p = only(problemsOf(f), "zone.exitnodesLocalRouting");
    assert.equal(p.value, true);
    assert.match(p.rule, /conntrack twice/);
    assert.match(p.rule, /xvrf_<zone>/);
    assert.match(p.rule, /§2\.7/);
    assert.match(p.fix, /exitnodesLocalRoutingReason/);
  });

  it("accepts exitnodes-local-routing with an explicit reason, and warns", () => {
    const f = seedFabric();
    f.zone.exitnodesLocalRouting = true;
    f.zone.exitnodesLocalRoutingReason = "host must reach guests; measured OK";
    const r = checkStack({ stack: "roz", fabric: f, config: rozStack() });
    assert.ok(r.ok);
    assert.deepEqual(
      r.warnings.filter((w) => w.includes("exitnodesLocalRouting")),
      [
        'accepted risk: zone.exitnodesLocalRouting is on ("host must reach guests; measured OK"); expect the conntrack trap of reference §2.7',
      ],
    );
  });

  it("refuses an overlay MTU that would fragment (1371 over a 1500 underlay), accepts 1370", () => {
    const f = seedFabric();
    f.mtu.overlay = 1371;
    const p = only(problemsOf(f), "mtu.overlay");
    assert.equal(p.value, 1371);
    assert.match(p.rule, /1500 - 80 \(WireGuard\) - 50 \(VXLAN\) = 1370/);
    assert.equal(p.fix, "remove mtu.overlay to use 1370, or set it to at most 1370");
    f.mtu.overlay = 1370;
    assert.equal(validateFabric(f).ok, true);
  });

  for (const bad of ["cross-site", "c", "1cross", "crossite9", "cross_st"]) {
    it(`refuses zone id '${bad}' (2-8 alphanumerics starting with a letter)`, () => {
      const f = seedFabric();
      f.zone.id = bad;
      const p = only(problemsOf(f), "zone.id");
      assert.equal(p.value, bad);
      assert.match(p.rule, /2-8 letters\/digits starting with a letter/);
    });
  }

  it("refuses vnet id 'cross_vnet' at the vnet's key", () => {
    const f = seedFabric();
    f.vnets = { cross_vnet: { vni: 100000 } };
    for (const s of Object.values(f.sites)) s.subnets = { cross_vnet: s.subnets.crossvnt };
    const p = only(problemsOf(f), "vnets.cross_vnet");
    assert.equal(p.value, "cross_vnet");
    assert.match(p.rule, /vnet ids must be 2-8/);
  });

  it("refuses two vnets with the same VNI", () => {
    const f = seedFabric();
    f.vnets.second = { vni: 100000 };
    const p = only(problemsOf(f), "vnets.second.vni");
    assert.equal(p.value, 100000);
    assert.match(p.rule, /already used by vnet crossvnt/);
  });

  it("refuses a vnet VNI equal to the zone's vrf-vxlan", () => {
    const f = seedFabric();
    f.vnets.crossvnt.vni = 99999;
    const p = only(problemsOf(f), "vnets.crossvnt.vni");
    assert.match(p.rule, /is the zone's vrf-vxlan/);
    assert.equal(p.fix, "pick another VNI for vnet crossvnt, e.g. 100000");
  });

  it("refuses subnets that overlap across sites", () => {
    const f = seedFabric();
    f.sites.wro.subnets.crossvnt = { cidr: "10.1.1.128/25", gateway: "10.1.1.129", snat: true };
    const p = only(problemsOf(f), "sites.wro.subnets.crossvnt.cidr");
    assert.match(p.rule, /^overlaps 10\.1\.1\.0\/24 \(sites\.roz\.subnets\.crossvnt\.cidr\)/);
  });

  it("refuses a gateway outside its subnet, and the network address as gateway", () => {
    const f = seedFabric();
    f.sites.wro.subnets.crossvnt.gateway = "10.3.1.1";
    const p = only(problemsOf(f), "sites.wro.subnets.crossvnt.gateway");
    assert.equal(p.value, "10.3.1.1");
    assert.equal(p.fix, "use an address inside 10.2.1.0/24, e.g. 10.2.1.1");
    f.sites.wro.subnets.crossvnt.gateway = "10.2.1.0";
    only(problemsOf(f), "sites.wro.subnets.crossvnt.gateway");
  });

  it("refuses a subnet written with host bits", () => {
    const f = seedFabric();
    f.sites.roz.subnets.crossvnt.cidr = "10.1.1.5/24";
    const p = only(problemsOf(f), "sites.roz.subnets.crossvnt.cidr");
    assert.equal(p.rule, "has host bits set: the network is 10.1.1.0/24");
  });

  it("refuses duplicate tunnel addresses", () => {
    const f = seedFabric();
    f.sites.wro.nodes[0].tunnelAddress = "10.1.0.1";
    const p = only(problemsOf(f), "sites.wro.nodes[0].tunnelAddress");
    assert.match(p.rule, /already used by sites\.roz\.nodes\[0\]\.tunnelAddress/);
  });

  it("refuses a tunnel address inside an overlay subnet", () => {
    const f = seedFabric();
    f.sites.wro.nodes[0].tunnelAddress = "10.1.1.200";
    const p = only(problemsOf(f), "sites.wro.nodes[0].tunnelAddress");
    assert.match(p.rule, /inside the overlay subnet 10\.1\.1\.0\/24/);
  });

  it("refuses a tunnel address inside a site's underlay network", () => {
    const f = seedFabric();
    f.sites.wro.nodes[0].tunnelAddress = "192.168.7.1";
    const p = only(problemsOf(f), "sites.wro.nodes[0].tunnelAddress");
    assert.match(p.rule, /^overlaps the underlay 192\.168\.0\.0\/16 \(sites\.roz\.underlay\[0\]\)/);
  });

  it("refuses a subnet that covers a node's WireGuard endpoint", () => {
    const f = seedFabric();
    f.sites.roz.nodes[0].endpoint = "100.64.7.10";
    f.sites.wro.subnets.crossvnt = { cidr: "100.64.7.0/24", gateway: "100.64.7.1", snat: true };
    const p = only(problemsOf(f), "sites.wro.subnets.crossvnt.cidr");
    assert.match(p.rule, /^overlaps the underlay 100\.64\.7\.10 \(sites\.roz\.nodes\[0\]\.endpoint\)/);
  });

  it("refuses a subnet that covers this stack's SSH address", () => {
    const config = rozStack();
    config.nodes.pve1.address = "10.2.1.50";
    const p = only(stackProblems(seedFabric(), config), "sites.wro.subnets.crossvnt.cidr");
    assert.match(p.rule, /^overlaps the underlay 10\.2\.1\.50 \(pve-fabric:nodes\.pve1\.address\)/);
  });

  for (const bad of ["Roz", "roz_1", "1roz", "roz.eu"]) {
    it(`refuses site name '${bad}' (not usable as a stack name)`, () => {
      const f = seedFabric();
      f.sites[bad] = f.sites.roz;
      delete f.sites.roz;
      const p = only(problemsOf(f), `sites.${bad}`);
      assert.equal(p.value, bad);
      assert.match(p.rule, /the name is the stack name/);
    });
  }

  it("refuses a stack whose name is not a site of the fabric", () => {
    const p = only(stackProblems(seedFabric(), rozStack(), "lon"), "sites.lon");
    assert.match(
      p.rule,
      /stack lon describes site lon, but the fabric file has no such site \(sites: roz, wro\)/,
    );
  });

  it("refuses a fabric with one site", () => {
    const f = seedFabric();
    delete f.sites.wro;
    const p = only(problemsOf(f), "sites");
    assert.deepEqual(p.value, ["roz"]);
  });

  it("refuses SNAT on a site without an exit node", () => {
    const f = seedFabric();
    f.sites.wro.nodes[0].exitNode = false;
    const p = only(problemsOf(f), "sites.wro.subnets.crossvnt.snat");
    assert.match(p.rule, /site wro has none/);
  });

  it("refuses a subnet for a vnet the fabric does not define", () => {
    const f = seedFabric();
    f.sites.wro.subnets = { othervn: f.sites.wro.subnets.crossvnt };
    const p = only(problemsOf(f), "sites.wro.subnets.othervn");
    assert.equal(p.fix, "use one of: crossvnt, or define vnets.othervn");
  });

  it("refuses two nodes on one WireGuard endpoint and port", () => {
    const f = threeSiteFabric();
    delete f.sites.lon.nodes[1].port;
    only(problemsOf(f), "sites.lon.nodes[1].endpoint");
  });

  it("names an unknown (misspelt) key", () => {
    const f = seedFabric();
    f.zone.vrfVxLan = 1;
    const p = only(problemsOf(f), "zone.vrfVxLan");
    assert.equal(
      p.rule,
      "unknown key 'vrfVxLan' (its value is not shown: it may be a secret typed in the wrong place)",
    );
  });

  it("refuses a stack whose nodes differ from the site's nodes", () => {
    const config = rozStack();
    config.nodes = { pve9: config.nodes.pve1 };
    const problems = stackProblems(seedFabric(), config);
    assert.deepEqual(
      problems.map((p) => p.path),
      ["pve-fabric:nodes.pve1", "pve-fabric:nodes.pve9"],
    );
  });

  it("refuses TLS pinned both ways (exactly one of fingerprint / ca)", () => {
    const config = rozStack();
    config.api.tls.ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
    only(stackProblems(seedFabric(), config), "pve-fabric:api.tls");
  });

  it("reports every problem at once, across both files", () => {
    const f = seedFabric();
    f.zone.exitnodesLocalRouting = true;
    f.mtu.overlay = 1450;
    f.sites.wro.subnets.crossvnt.gateway = "10.9.9.9";
    f.sites.wro.nodes[0].tunnelAddress = "10.1.0.1";
    const config = rozStack();
    delete config.api.tokenSecret;
    assert.deepEqual(
      stackProblems(f, config).map((p) => p.path),
      [
        "pve-fabric:api.tokenSecret",
        "zone.exitnodesLocalRouting",
        "mtu.overlay",
        "sites.wro.subnets.crossvnt.gateway",
        "sites.wro.nodes[0].tunnelAddress",
      ],
    );
  });
});
