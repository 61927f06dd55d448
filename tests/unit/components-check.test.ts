// The fabric check's logic (components/check/), exact: parsing what wg, sysctl, FRR and bridge print,
// verdicts per layer, and diagnoses that name the lowest broken layer and its likely cause.
import assert from "node:assert/strict";
import {
  evaluate,
  formatTable,
  render,
  hostProbe,
  parseBgpDefaultNextHops,
  parseBgpPeers,
  parseEvpnRouterMacs,
  parseFdb,
  parseFrrVersion,
  parseHandshakes,
  vmProbe,
  CAUSES,
  type Cause,
  type CheckSpec,
  type Layer,
  type Status,
  type FirewallView,
  type HostAnswers,
  type VmAnswers,
} from "../../components/check";

const WRO_KEY = "wroKEYwroKEYwroKEYwroKEYwroKEYwroKEYwroKEY0=";
const OTHER = "otherKEYotherKEYotherKEYotherKEYotherKEYoth=";

/** One round from recorded answers to the published rows. */
const run = (s: CheckSpec, hosts: HostAnswers[], vm: VmAnswers, firewall?: FirewallView) =>
  evaluate(s, { hosts, vm, ...(firewall ? { firewall } : {}) }).map(render);

function spec(over: Partial<CheckSpec> = {}): CheckSpec {
  return {
    site: "roz",
    zone: "crossite",
    vnets: ["crossvnt"],
    hosts: [{ node: "pve1", wgInterface: "wg0", tunnelAddress: "10.1.0.1" }],
    peers: [{ site: "wro", node: "pve-wro", tunnelAddress: "10.2.0.1", publicKey: WRO_KEY }],
    sysctls: { "net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "0" },
    handshakeMaxAgeSeconds: 180,
    overlayMtu: 1370,
    firewall: { group: "fabric-crossite", omitted: [], nftables: true },
    sdntest: { targets: [{ site: "wro", address: "10.2.1.11" }], outside: "198.18.0.1" },
    remoteSubnets: { crossvnt: ["10.2.1.0/24"] },
    ...over,
  };
}

const ok = (out = "") => ({ out, rc: 0 });
const BGP_UP = JSON.stringify({ routerId: "10.1.0.1", peers: { "10.2.0.1": { state: "Established" } } });
const FDB =
  "00:00:00:00:00:00 dev vxlan_crossvnt dst 10.2.0.1 self permanent\n" +
  "5a:79:4c:67:95:29 dev vrfvx_crossite dst 10.2.0.1 self extern_learn\n" +
  "4a:12:3f:7c:78:21 dev vmbr0 master vmbr0 permanent";

// What FRR 8.4 printed on a lab node (`show evpn next-hops vni all json`, `show evpn rmac vni all json`).
const RMAC = "5a:79:4c:67:95:29";
const nexthops = (...ips: string[]) =>
  JSON.stringify({
    "99999": {
      numNextHops: ips.length,
      ...Object.fromEntries(ips.map((ip) => [ip, { nexthopIp: ip, routerMac: RMAC }])),
    },
  });
const rmacs = (...vteps: string[]) =>
  JSON.stringify({
    "99999": {
      numRmacs: vteps.length,
      ...Object.fromEntries(vteps.map((v) => [RMAC, { routerMac: RMAC, vtepIp: v }])),
    },
  });

// `ip -d -o link show type vxlan` as a lab node prints it (shortened).
const VTEPS = (local: string) =>
  [
    `8: vxlan_crossvnt@if8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1370 \\    vxlan id 100000 local ${local} srcport 0 0 dstport 4789`,
    `9: vrfvx_crossite@if9: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1370 \\    vxlan id 99999 local ${local} srcport 0 0 dstport 4789`,
  ].join("\n");

function healthyHost(over: Record<string, { out: string; rc: number }> = {}): HostAnswers {
  return {
    node: "pve1",
    sections: {
      now: ok("1000"),
      handshakes: ok(`${WRO_KEY}\t990\n`),
      sysctl: ok("net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.rp_filter = 0"),
      bgp: ok(BGP_UP),
      fdb: ok(FDB),
      nexthops: ok(nexthops("10.2.0.1")),
      rmacs: ok(rmacs("10.2.0.1")),
      vteps: ok(VTEPS("10.1.0.1")),
      ...over,
    },
  };
}
const PING_OK = ok("2 packets transmitted, 2 received, 0% packet loss");
const PING_LOST = { out: "2 packets transmitted, 0 received, 100% packet loss", rc: 1 };
const healthyVm = () => ({
  sections: { "ping-wro": PING_OK, outside: PING_OK, "mtu-fit": PING_OK, "mtu-over": PING_LOST },
});

const statuses = (rs: { id: string; status: string }[]) =>
  Object.fromEntries(rs.map((r) => [r.id, r.status]));

describe("fabric check", () => {
  it("parses wg latest-handshakes, FRR's EVPN summary (top-level or per-AFI peers) and the FDB", () => {
    assert.deepEqual(parseHandshakes(`${WRO_KEY}\t1732600000\n${OTHER}\t0\n`), {
      [WRO_KEY]: 1732600000,
      [OTHER]: 0,
    });
    assert.deepEqual(parseBgpPeers(BGP_UP), { "10.2.0.1": "Established" });
    assert.deepEqual(
      parseBgpPeers(JSON.stringify({ l2VpnEvpn: { peers: { "10.3.0.1": { state: "Active" } } } })),
      {
        "10.3.0.1": "Active",
      },
    );
    assert.deepEqual(parseBgpPeers("% BGP instance not found"), {});
    assert.deepEqual(parseFdb(FDB), { vxlan_crossvnt: ["10.2.0.1"], vrfvx_crossite: ["10.2.0.1"] });
  });

  it("probes the VM with a DF ping of exactly the overlay MTU (payload 1342) and one byte more", () => {
    const p = vmProbe(spec());
    assert.equal(p["mtu-fit"], "ping -n -M do -c 1 -W 2 -s 1342 10.2.1.11");
    assert.equal(p["mtu-over"], "ping -n -M do -c 1 -W 2 -s 1343 10.2.1.11");
    assert.deepEqual(Object.keys(p), ["ping-wro", "outside", "mtu-fit", "mtu-over"]);
    assert.equal(hostProbe(spec(), spec().hosts[0]).handshakes, "wg show wg0 latest-handshakes");
  });

  it("passes every layer of a healthy site", () => {
    const rs = run(spec(), [healthyHost()], healthyVm());
    assert.deepEqual(statuses(rs), {
      "host pve1 net.ipv4.ip_forward": "pass",
      "host pve1 net.ipv4.conf.all.rp_filter": "pass",
      "vtep pve1": "pass",
      "underlay pve1->wro/pve-wro": "pass",
      "control-plane pve1->wro/pve-wro": "pass",
      "vxlan pve1->wro/pve-wro": "pass",
      "router-mac pve1->wro/pve-wro": "pass",
      "overlay sdntest->wro": "pass",
      "snat sdntest->outside": "pass",
      "mtu fits": "pass",
      "mtu +1 refused": "pass",
    });
    assert.equal(rs.find((r) => r.id.startsWith("underlay"))!.detail, "handshake 10 s ago (max 180 s)");
    assert.ok(rs.every((r) => r.diagnosis === undefined));
  });

  it("fails an old handshake, and every layer above it is 'blocked by the underlay layer'", () => {
    const rs = run(
      spec(),
      [healthyHost({ handshakes: ok(`${WRO_KEY}\t700\n`), bgp: ok("{}"), fdb: ok("") })],
      { sections: { "ping-wro": PING_LOST, outside: PING_OK, "mtu-fit": PING_LOST, "mtu-over": PING_LOST } },
    );
    const hs = rs.find((r) => r.id === "underlay pve1->wro/pve-wro")!;
    assert.equal(hs.status, "fail");
    assert.equal(hs.detail, "handshake 300 s ago (max 180 s)");
    assert.match(
      hs.diagnosis!,
      /^underlay: WireGuard has no recent handshake; UDP to the peer's endpoint is blocked/,
    );
    assert.equal(
      rs.find((r) => r.id.startsWith("control-plane"))!.diagnosis,
      "blocked by the underlay layer (fix that first)",
    );
    assert.equal(
      rs.find((r) => r.id === "overlay sdntest->wro")!.diagnosis,
      "blocked by the underlay layer (fix that first)",
    );
  });

  it("names the firewall layer and the left-out FORWARD rule when only the cross-site ping fails", () => {
    const s = spec({ firewall: { group: "fabric-crossite", omitted: ["fwd-in"], nftables: true } });
    const rs = run(s, [healthyHost()], {
      sections: { "ping-wro": PING_LOST, outside: PING_OK, "mtu-fit": PING_LOST, "mtu-over": PING_LOST },
    });
    const ping = rs.find((r) => r.id === "overlay sdntest->wro")!;
    assert.equal(ping.status, "fail");
    assert.match(
      ping.diagnosis!,
      /^firewall: the tunnel, BGP and VXLAN are up but sdntest gets no answer across sites/,
    );
    assert.match(
      ping.diagnosis!,
      /the FORWARD rule\(s\) fwd-in of security group fabric-crossite are left out/,
    );
    assert.equal(
      rs.find((r) => r.id === "mtu fits")!.diagnosis,
      "blocked by the overlay layer (fix that first)",
    );
  });

  it("diagnoses rp_filter=2 as the host layer, whatever else passes", () => {
    const rs = run(
      spec(),
      [healthyHost({ sysctl: ok("net.ipv4.ip_forward = 1\nnet.ipv4.conf.all.rp_filter = 2") })],
      healthyVm(),
    );
    const r = rs.find((x) => x.id === "host pve1 net.ipv4.conf.all.rp_filter")!;
    assert.deepEqual([r.status, r.detail], ["fail", "2, want 0"]);
    assert.match(r.diagnosis!, /^host: net.ipv4.conf.all.rp_filter is 2, want 0; something reset it/);
  });

  it("reports a bootstrap peer as pending (not failed) and says which up resolves it", () => {
    const pending = "wro has not published pve-wro's WireGuard key: run `pulumi up -s wro`, then again here";
    const s = spec({
      peers: [{ site: "wro", node: "pve-wro", tunnelAddress: "10.2.0.1", pending }],
      sdntest: { targets: [{ site: "wro", pending }], outside: "198.18.0.1" },
    });
    const rs = run(s, [healthyHost()], { sections: { outside: PING_OK } });
    assert.deepEqual(
      rs.filter((r) => r.status === "pending").map((r) => r.id),
      [
        "underlay pve1->wro/pve-wro",
        "control-plane pve1->wro/pve-wro",
        "vxlan pve1->wro/pve-wro",
        "router-mac pve1->wro/pve-wro",
        "overlay sdntest->wro",
      ],
    );
    assert.ok(rs.every((r) => r.status !== "fail"));
    assert.match(formatTable("roz", rs), /^4 pass, 0 fail, 5 pending, 0 skipped$/m);
  });

  it("fails an unreachable host with the SSH error as the underlay diagnosis", () => {
    const rs = run(spec({ sdntest: undefined }), [{ node: "pve1", error: "connect ECONNREFUSED" }], {});
    assert.deepEqual(
      rs.map((r) => [r.id, r.status, r.detail]),
      [["underlay pve1", "fail", "host unreachable: connect ECONNREFUSED"]],
    );
    assert.match(rs[0].diagnosis!, /^underlay: the node does not answer SSH/);
  });
});

describe("fabric check: firewall read from PVE", () => {
  const rule = (source: string | undefined, dest: string | undefined, enable = true) => ({
    type: "forward",
    action: "ACCEPT",
    ...(source ? { source } : {}),
    ...(dest ? { dest } : {}),
    enable,
  });
  const view = (groupRules: ReturnType<typeof rule>[], nft = true): FirewallView => ({
    clusterEnabled: true,
    nftables: { pve1: nft },
    clusterRules: [{ type: "group", action: "fabric-crossite", enable: true }],
    groups: { "fabric-crossite": groupRules },
  });
  const fwStatuses = (fw: FirewallView) =>
    statuses(
      run(spec({ sdntest: undefined }), [healthyHost()], {}, fw).filter((r) => r.layer === "firewall"),
    );

  it("passes FORWARD both ways through the referenced security group on the nftables backend", () => {
    assert.deepEqual(
      fwStatuses(view([rule("+sdn/crossvnt-all", "10.2.1.0/24"), rule("10.2.1.0/24", "+sdn/crossvnt-all")])),
      {
        "firewall pve1 backend": "pass",
        "firewall forward 10.2.1.0/24->+sdn/crossvnt-all": "pass",
        "firewall forward +sdn/crossvnt-all->10.2.1.0/24": "pass",
      },
    );
  });

  it("fails the inbound direction when its rule is disabled, and names the left-out rule", () => {
    const s = spec({
      sdntest: undefined,
      firewall: { group: "fabric-crossite", omitted: ["fwd-in"], nftables: true },
    });
    const rs = run(
      s,
      [healthyHost()],
      {},
      view([rule("+sdn/crossvnt-all", "10.2.1.0/24"), rule("10.2.1.0/24", "+sdn/crossvnt-all", false)]),
    );
    const r = rs.find((x) => x.id === "firewall forward 10.2.1.0/24->+sdn/crossvnt-all")!;
    assert.equal(r.status, "fail");
    assert.equal(
      r.diagnosis,
      "firewall: 10.2.1.0/24->+sdn/crossvnt-all is not accepted in FORWARD, so cross-site traffic dies on this site's nodes: " +
        "the rule(s) fwd-in of security group fabric-crossite are left out of the config (pve-fabric-site:firewall.omitRules); put them back",
    );
  });

  it("fails the iptables backend and treats a firewall that is off as passing", () => {
    assert.equal(fwStatuses(view([], false))["firewall pve1 backend"], "fail");
    assert.deepEqual(fwStatuses({ ...view([]), clusterEnabled: false }), { "firewall cluster": "pass" });
  });
});

describe("fabric check: router MAC (FRRouting/frr#16340)", () => {
  it("reads next hops and router MACs per VTEP, an IPv6 route's IPv4-mapped next hop counting for its VTEP", () => {
    assert.deepEqual(parseEvpnRouterMacs(nexthops("10.2.0.1", "::ffff:a02:1", "::ffff:10.3.0.1")), {
      "10.2.0.1": [RMAC],
      "10.3.0.1": [RMAC],
    });
    assert.deepEqual(parseEvpnRouterMacs(rmacs("10.2.0.1")), { "10.2.0.1": [RMAC] });
    assert.deepEqual(parseEvpnRouterMacs("Exiting: failed to connect to any daemons."), {});
  });

  it("fails a router MAC zebra dropped while routes still use it, names the repair, and blocks the overlay", () => {
    // The state measured on a 3-site lab: the next hops list wro's VTEP, the router-MAC table does not.
    const rs = run(spec(), [healthyHost({ nexthops: ok(nexthops("10.2.0.1")), rmacs: ok(rmacs()) })], {
      sections: { "ping-wro": PING_LOST, outside: PING_OK, "mtu-fit": PING_LOST, "mtu-over": PING_LOST },
    });
    const r = rs.find((x) => x.id === "router-mac pve1->wro/pve-wro")!;
    assert.deepEqual(
      [r.status, r.detail],
      ["fail", `zebra routes via VTEP 10.2.0.1 with router MAC ${RMAC} but has no router-MAC entry for it`],
    );
    assert.match(r.diagnosis!, /^vxlan: routed traffic to that site dies .* FRRouting\/frr#16340/);
    assert.match(r.diagnosis!, /Repair: `vtysh -c 'clear bgp l2vpn evpn 10\.2\.0\.1'` on this node/);
    assert.equal(statuses(rs)["vxlan pve1->wro/pve-wro"], "pass");
    assert.equal(
      rs.find((x) => x.id === "overlay sdntest->wro")!.diagnosis,
      "blocked by the vxlan layer (fix that first)",
    );
  });

  it("fails a router MAC zebra holds but the zone VXLAN's FDB lacks; passes with no routes via the VTEP", () => {
    const noL3 = "00:00:00:00:00:00 dev vxlan_crossvnt dst 10.2.0.1 self permanent";
    const rs = run(spec({ sdntest: undefined }), [healthyHost({ fdb: ok(noL3) })], {});
    assert.equal(
      rs.find((x) => x.id === "router-mac pve1->wro/pve-wro")!.detail,
      `router MAC ${RMAC} of VTEP 10.2.0.1 is not in the FDB of vrfvx_crossite`,
    );
    const none = run(
      spec({ sdntest: undefined }),
      [healthyHost({ nexthops: ok(nexthops()), rmacs: ok(rmacs()) })],
      {},
    ).find((x) => x.id === "router-mac pve1->wro/pve-wro")!;
    assert.deepEqual([none.status, none.detail], ["pass", "no routes via VTEP 10.2.0.1"]);
  });

  it("points a dead overlay at the other site when this site's FORWARD rules read from PVE are in place", () => {
    const fw: FirewallView = {
      clusterEnabled: true,
      nftables: { pve1: true },
      clusterRules: [{ type: "forward", action: "ACCEPT", enable: true }],
      groups: {},
    };
    const rs = run(
      spec(),
      [healthyHost()],
      { sections: { "ping-wro": PING_LOST, outside: PING_OK, "mtu-fit": PING_LOST, "mtu-over": PING_LOST } },
      fw,
    );
    assert.match(
      rs.find((x) => x.id === "overlay sdntest->wro")!.diagnosis!,
      /^overlay: the tunnel, BGP, VXLAN and this site's FORWARD rules are in place but sdntest gets no answer from wro: read wro's check table/,
    );
  });
});

describe("fabric check: egress of a non-exit node", () => {
  // `show ip route vrf vrf_crossite 0.0.0.0/0 json` on a non-exit lab node (roz2), trimmed: the EVPN default
  // is ECMP over roz's exit and wro's exit; the kernel's fall-through entries follow it.
  const route = (...ips: string[]) =>
    JSON.stringify({
      "0.0.0.0/0": [
        {
          prefix: "0.0.0.0/0",
          protocol: "bgp",
          selected: true,
          nexthops: ips.map((ip) => ({ ip, afi: "ipv4" })),
        },
        { prefix: "0.0.0.0/0", protocol: "kernel", nexthops: [{ ip: "169.254.0.1" }] },
        { prefix: "0.0.0.0/0", protocol: "kernel", nexthops: [{ unreachable: true }] },
      ],
    });
  const twoNodes = (over: Partial<CheckSpec> = {}) =>
    spec({
      sdntest: undefined,
      hosts: [{ node: "roz2", wgInterface: "wg0", tunnelAddress: "10.1.0.2", exitNode: false }],
      peers: [
        { site: "roz", node: "pve1", tunnelAddress: "10.1.0.1", publicKey: OTHER },
        { site: "wro", node: "pve-wro", tunnelAddress: "10.2.0.1", publicKey: WRO_KEY },
      ],
      ...over,
    });
  const egress = (out: string) => {
    const both = {
      handshakes: ok(`${WRO_KEY}\t990\n${OTHER}\t995\n`),
      bgp: ok(
        JSON.stringify({
          peers: { "10.1.0.1": { state: "Established" }, "10.2.0.1": { state: "Established" } },
        }),
      ),
      fdb: ok(
        `${FDB}\n00:00:00:00:00:00 dev vxlan_crossvnt dst 10.1.0.1 self permanent\n${RMAC} dev vrfvx_crossite dst 10.1.0.1 self`,
      ),
      nexthops: ok(nexthops("10.2.0.1")),
      vteps: ok(VTEPS("10.1.0.2")),
      egress: ok(out),
    };
    const rs = run(twoNodes(), [{ ...healthyHost(both), node: "roz2" }], {});
    assert.deepEqual(
      rs.filter((r) => r.status === "fail").map((r) => r.id),
      rs.some((r) => r.id === "egress roz2" && r.status === "fail") ? ["egress roz2"] : [],
    );
    return rs.find((r) => r.id === "egress roz2")!;
  };

  it("reads only the BGP default's next hops", () => {
    assert.deepEqual(parseBgpDefaultNextHops(route("10.2.0.1", "10.1.0.1")), ["10.1.0.1", "10.2.0.1"]);
    assert.deepEqual(parseBgpDefaultNextHops("{}"), []);
    assert.equal(
      hostProbe(twoNodes(), twoNodes().hosts[0]).egress,
      "vtysh -c 'show ip route vrf vrf_crossite 0.0.0.0/0 json'",
    );
    assert.equal(hostProbe(spec(), spec().hosts[0]).egress, undefined, "exit nodes are not probed");
  });

  it("fails a non-exit node whose default route also leads to another site's exit, naming the fix", () => {
    const r = egress(route("10.1.0.1", "10.2.0.1"));
    assert.deepEqual(
      [r.status, r.detail],
      [
        "fail",
        "default route via roz/pve1 (10.1.0.1), wro/pve-wro (10.2.0.1): wro/pve-wro (10.2.0.1) is another site's exit",
      ],
    );
    assert.match(
      r.diagnosis!,
      /^snat: roz2 is not an exit node, .*Fix: make it an exit node \(`exitNode: true` in fabric\.yaml\)/,
    );
    assert.deepEqual(
      [egress(route("10.1.0.1")).status, egress(route("10.1.0.1")).detail],
      ["pass", "default route via roz/pve1 (10.1.0.1)"],
    );
    assert.equal(egress(route()).status, "fail");
  });
});

describe("fabric check: VTEP address", () => {
  it("fails a node whose VXLAN devices took the uplink address, naming the apply that ran too early", () => {
    const rs = run(spec({ sdntest: undefined }), [healthyHost({ vteps: ok(VTEPS("198.18.1.11")) })], {});
    const v = rs.find((r) => r.id === "vtep pve1")!;
    assert.deepEqual(
      [v.status, v.detail],
      ["fail", "vxlan_crossvnt=198.18.1.11, vrfvx_crossite=198.18.1.11: not the tunnel address 10.1.0.1"],
    );
    assert.match(v.diagnosis!, /`ip route get <first controller peer>`.*`pulumi up` re-applies/);
    const ok1 = run(spec({ sdntest: undefined }), [healthyHost()], {}).find((r) => r.id === "vtep pve1")!;
    assert.equal(ok1.detail, "10.1.0.1 on vrfvx_crossite, vxlan_crossvnt");
    // While the tunnel cannot route to the first controller peer yet (bootstrap), the wrong VTEP is expected.
    const waiting = "the tunnel does not route to the first controller peer 10.1.0.1 yet";
    const hosts = [{ ...spec().hosts[0], vtepPending: waiting }];
    const early = run(
      spec({ sdntest: undefined, hosts }),
      [healthyHost({ vteps: ok(VTEPS("198.18.1.11")) })],
      {},
    );
    assert.deepEqual(
      [early.find((r) => r.id === "vtep pve1")!.status, early.find((r) => r.id === "vtep pve1")!.detail],
      ["pending", waiting],
    );
    const none = run(spec({ sdntest: undefined }), [healthyHost({ vteps: ok("") })], {});
    assert.match(
      none.find((r) => r.id === "vtep pve1")!.diagnosis!,
      /^vxlan: the SDN config is not realised/,
    );
  });

  it("names an SDN apply that ran before the tunnel address existed (VXLAN local = the uplink address)", () => {
    const wrong =
      "8: vxlan_crossvnt@if8: <BROADCAST> mtu 1370 \\    link/ether a6:18:11:2c:3e:a4 \\    vxlan id 100000 local 198.18.1.10 srcport 0 0 dstport 4789";
    const rs = run(spec({ sdntest: undefined }), [healthyHost({ fdb: ok(""), vteps: ok(wrong) })], {});
    const v = rs.find((r) => r.id === "vxlan pve1->wro/pve-wro")!;
    assert.equal(
      v.detail,
      "VTEP 10.2.0.1 not in the FDB (no remote VTEPs); local VTEP vxlan_crossvnt=198.18.1.10 is not the tunnel address",
    );
    assert.match(
      v.diagnosis!,
      /^vxlan: this node's VXLAN devices use the uplink address, not the tunnel address/,
    );
  });
});

describe("fabric check: the cause table", () => {
  // One example of every cause, as the evaluation finds it, with the exact text people read.
  const PEER = "pve1->wro/pve-wro";
  type Case = [Cause, Status, string, string?];
  const HANDSHAKE =
    "underlay: WireGuard has no recent handshake; UDP to the peer's endpoint is blocked (firewall group rule " +
    "wg-in, NAT, the endpoint's DNS name) or the peer has a different key for this node; compare `wg show` on both";
  const WRONG_VTEP =
    "vxlan: this node's VXLAN devices use the uplink address, not the tunnel address, as their VTEP, so the other " +
    "nodes send to an address they cannot reach. PVE picks it on apply with `ip route get <first controller peer>`, " +
    "and the apply ran before the tunnel routed there (a first bootstrap run, that peer's key not known yet). " +
    "`pulumi up` re-applies once the tunnel routes to it; by hand: Datacenter > SDN > Apply";
  const LOST =
    "vxlan: routed traffic to that site dies on this node's zone VXLAN device because zebra lost the site's router " +
    "MAC while routes still use it. Repair: `vtysh -c 'clear bgp l2vpn evpn 10.2.0.1'` on this node. Why: ";
  const FRR_16340 =
    "FRR 8.4.4 on this node has FRRouting/frr#16340: withdrawing a VTEP's EVPN routes of one address family (IPv4 " +
    "or IPv6, e.g. default routes from several exit nodes) drops the router MAC the other family still uses. " +
    "Lasting fix: FRR 10.4 or later (PVE 9 ships 10.4.1), or no default routes reaching non-exit nodes from other sites";
  const hops = [
    { ip: "10.1.0.1", site: "roz", node: "pve1" },
    { ip: "10.2.0.1", site: "wro", node: "pve-wro" },
  ];
  const fwd = { from: "10.2.1.0/24", to: "+sdn/crossvnt-all" };
  const rmac = { vtep: "10.2.0.1", macs: [RMAC] };
  const CASES: Case[] = [
    [{ cause: "firewall-off" }, "pass", "cluster firewall off: nothing filtered"],
    [
      { cause: "firewall-unread", error: "401 permission denied" },
      "fail",
      "cannot read the PVE firewall: 401 permission denied",
      "firewall: the API did not answer; check api.endpoint, the token and its Sys.Audit privilege",
    ],
    [{ cause: "nftables-backend" }, "pass", "nftables"],
    [
      { cause: "iptables-backend" },
      "fail",
      "iptables backend: forward and vnet rules are ignored",
      "firewall: the node runs the iptables backend, which ignores FORWARD and vnet rules; set firewall.nftables: " +
        "true (node option nftables=1) and `pulumi up`",
    ],
    [{ cause: "forward-accepted", ...fwd }, "pass", "an enabled FORWARD ACCEPT rule"],
    [
      { cause: "forward-missing", ...fwd, group: "fabric-crossite", omitted: ["wg-in"] },
      "fail",
      "no enabled FORWARD ACCEPT rule in the cluster rules or their groups",
      "firewall: 10.2.1.0/24->+sdn/crossvnt-all is not accepted in FORWARD, so cross-site traffic dies on this " +
        "site's nodes: the fabric's rules fwd-in/fwd-out of security group fabric-crossite were deleted or disabled " +
        "in PVE; `pulumi up` restores them",
    ],
    [
      { cause: "host-unreachable", error: "connect ECONNREFUSED" },
      "fail",
      "host unreachable: connect ECONNREFUSED",
      "underlay: the node does not answer SSH; check its address, host key and credentials",
    ],
    [{ cause: "sysctl", key: "net.ipv4.ip_forward", got: "1", want: "1" }, "pass", "1"],
    [
      { cause: "sysctl", key: "net.ipv4.ip_forward", want: "1" },
      "fail",
      "missing, want 1",
      "host: net.ipv4.ip_forward is missing, want 1; something reset it (the iptables firewall backend sets " +
        "rp_filter=2); `pulumi up` restores it, `firewall.nftables: true` stops the reset",
    ],
    [
      { cause: "vtep-ok", tunnel: "10.1.0.1", devices: ["vrfvx_crossite", "vxlan_crossvnt"] },
      "pass",
      "10.1.0.1 on vrfvx_crossite, vxlan_crossvnt",
    ],
    [
      { cause: "vtep-pending", reason: "the tunnel does not route there yet" },
      "pending",
      "the tunnel does not route there yet",
    ],
    [
      { cause: "no-vxlan" },
      "fail",
      "no VXLAN devices on the node",
      "vxlan: the SDN config is not realised on this node: read its SDN status in PVE (per-node apply status), " +
        "then `pulumi up` (the apply checks every node)",
    ],
    [
      {
        cause: "wrong-vtep",
        tunnel: "10.1.0.1",
        locals: [{ device: "vxlan_crossvnt", local: "198.18.1.10" }],
      },
      "fail",
      "vxlan_crossvnt=198.18.1.10: not the tunnel address 10.1.0.1",
      WRONG_VTEP,
    ],
    [{ cause: "egress-own", via: hops.slice(0, 1) }, "pass", "default route via roz/pve1 (10.1.0.1)"],
    [
      { cause: "no-default-route" },
      "fail",
      "no EVPN default route in the zone: no exit node of this site announces one",
      "snat: this non-exit node has no way out: mark a node of this site `exitNode: true` and `pulumi up`",
    ],
    [
      { cause: "foreign-exit", node: "roz2", via: [...hops, { ip: "192.0.2.1" }], foreign: hops.slice(1) },
      "fail",
      "default route via roz/pve1 (10.1.0.1), wro/pve-wro (10.2.0.1), 192.0.2.1: wro/pve-wro (10.2.0.1) is another " +
        "site's exit",
      "snat: roz2 is not an exit node, so it takes every site's EVPN default route (ECMP) and sends part of its VMs' " +
        "outside traffic to another site, whose SNAT covers only that site's subnets: those flows are lost. Fix: make " +
        "it an exit node (`exitNode: true` in fabric.yaml) and `pulumi up`; PVE then ignores other sites' default " +
        "routes on it and it SNATs itself",
    ],
    [
      { cause: "peer-pending", reason: "wro does not know this site's key yet" },
      "pending",
      "wro does not know this site's key yet",
    ],
    [
      { cause: "peer-not-configured" },
      "fail",
      "peer not configured on the interface",
      "underlay: the peer is missing from the WireGuard interface; run `pulumi up` for this site",
    ],
    [{ cause: "no-handshake" }, "fail", "no handshake yet", HANDSHAKE],
    [
      { cause: "handshake", ageSeconds: 300, maxAgeSeconds: 180 },
      "fail",
      "handshake 300 s ago (max 180 s)",
      HANDSHAKE,
    ],
    [{ cause: "bgp", neighbour: "10.2.0.1", state: "Established" }, "pass", "BGP 10.2.0.1 Established"],
    [
      { cause: "bgp", neighbour: "10.2.0.1" },
      "fail",
      "no BGP EVPN neighbour 10.2.0.1",
      "control-plane: the BGP EVPN session is not Established; TCP 179 over the tunnel is blocked (cluster rule " +
        "bgp-in on the WireGuard interface), FRR/bgpd is not running, or the other site's controller does not list " +
        "this node in its peers (run `pulumi up` there)",
    ],
    [{ cause: "vtep-in-fdb", vtep: "10.2.0.1" }, "pass", "VTEP 10.2.0.1 in the FDB"],
    [
      { cause: "vtep-not-in-fdb", vtep: "10.2.0.1", known: ["10.3.0.1"] },
      "fail",
      "VTEP 10.2.0.1 not in the FDB (10.3.0.1)",
      "vxlan: the remote VTEP is missing from the FDB although BGP is up; the SDN config was not applied on this " +
        "node (SdnApply, per-node status), or the vnet's VNI differs between the sites",
    ],
    [{ cause: "rmac-unused", vtep: "10.2.0.1" }, "pass", "no routes via VTEP 10.2.0.1"],
    [{ cause: "rmac-installed", ...rmac }, "pass", `router MAC ${RMAC} via VTEP 10.2.0.1`],
    [
      { cause: "rmac-missing", ...rmac, frr: "8.4.4" },
      "fail",
      `zebra routes via VTEP 10.2.0.1 with router MAC ${RMAC} but has no router-MAC entry for it`,
      LOST + FRR_16340,
    ],
    [
      { cause: "rmac-not-in-fdb", ...rmac, zone: "crossite", frr: "8.4.4" },
      "fail",
      `router MAC ${RMAC} of VTEP 10.2.0.1 is not in the FDB of vrfvx_crossite`,
      LOST + FRR_16340,
    ],
    [{ cause: "vm-skipped" }, "skipped", "no sdntest probe configured"],
    [
      { cause: "vm-unreachable", error: "cannot run in netns roz-vm: exit 1" },
      "fail",
      "sdntest unreachable: cannot run in netns roz-vm: exit 1",
      "not measured: the check cannot run its pings in the sdntest VM; check pve-fabric-site:sdntest.probe " +
        "(address, host key, the key in its environment variable) and that the VM is running",
    ],
    [
      { cause: "target-pending", reason: "wro has no sdntest published" },
      "pending",
      "wro has no sdntest published",
    ],
    [
      {
        cause: "overlay-ping",
        site: "wro",
        address: "10.2.1.11",
        reply: { replied: false, loss: "100%" },
        forwarding: { rules: "in-place" },
      },
      "fail",
      "ping 10.2.1.11: no reply, 100% loss",
      "overlay: the tunnel, BGP, VXLAN and this site's FORWARD rules are in place but sdntest gets no answer from " +
        "wro: read wro's check table (its FORWARD rules for traffic from here, ip_forward/rp_filter on its exit " +
        "node), then the wro sdntest's own firewall",
    ],
    [
      {
        cause: "overlay-ping",
        site: "wro",
        address: "10.2.1.11",
        forwarding: { rules: "unproven", group: "fabric-crossite", omitted: [], nftables: false },
      },
      "fail",
      "ping 10.2.1.11: not run",
      "firewall: the tunnel, BGP and VXLAN are up but sdntest gets no answer across sites, so packets die in " +
        "forwarding: the FORWARD rules of security group fabric-crossite (fwd-in/fwd-out: +sdn/<vnet>-all <-> the " +
        "remote subnets) are missing or disabled in PVE, or the nftables backend is off (forward rules need it); " +
        "otherwise the remote sdntest's own firewall, or ip_forward/rp_filter on an exit node",
    ],
    [
      {
        cause: "outside-ping",
        address: "198.18.0.1",
        reply: { replied: false, loss: "100%", error: "Network is unreachable" },
      },
      "fail",
      "ping 198.18.0.1: no reply, 100% loss, Network is unreachable",
      "snat: sdntest reaches the other site but not the outside: the subnet has snat off, the exit node's SNAT rule " +
        "is missing (PVE adds it on apply), the FORWARD rule fwd-snat (vnet -> anywhere) is missing, or " +
        "exitnodes-local-routing is on (conntrack trap)",
    ],
    [
      {
        cause: "mtu-fit",
        mtu: 1370,
        address: "10.2.1.11",
        reply: { replied: false, error: "message too long" },
      },
      "fail",
      "DF 1370 bytes to 10.2.1.11: no reply, message too long",
      "mtu: a 1370-byte packet does not fit: the underlay MTU is smaller than fabric.yaml says (mtu.underlay), or " +
        "something on the path adds overhead; lower mtu.underlay",
    ],
    [
      { cause: "mtu-over", mtu: 1370, address: "10.2.1.11", reply: { replied: true, loss: "0%" } },
      "fail",
      "DF 1371 bytes to 10.2.1.11: replied, 0% loss",
      "mtu: a 1371-byte DF packet got through, so the guest MTU exceeds the zone MTU and large packets will be " +
        "fragmented or dropped elsewhere; set the zone/vnet MTU (mtu.overlay)",
    ],
  ];
  const rendered = (cause: Cause, status: Status, blockedBy?: Layer) =>
    render({ id: `x ${PEER}`, layer: "vxlan", status, ...cause, ...(blockedBy ? { blockedBy } : {}) });

  it("renders every cause: its detail and, for a failure, its diagnosis, exactly", () => {
    for (const [cause, status, detail, diagnosis] of CASES)
      assert.deepEqual(
        rendered(cause, status),
        { id: `x ${PEER}`, layer: "vxlan", status, detail, ...(diagnosis ? { diagnosis } : {}) },
        cause.cause,
      );
    assert.deepEqual(
      [...new Set(CASES.map(([c]) => c.cause))].sort(),
      Object.keys(CAUSES).sort(),
      "every cause in the table has a case here",
    );
  });

  it("renders a failure above a broken layer as blocked by it, and no diagnosis for what did not fail", () => {
    assert.equal(
      rendered({ cause: "bgp", neighbour: "10.2.0.1", state: "Active" }, "fail", "underlay").diagnosis,
      "blocked by the underlay layer (fix that first)",
    );
    assert.equal(
      rendered({ cause: "sysctl", key: "k", got: "2", want: "1" }, "pending").diagnosis,
      undefined,
    );
  });

  it("names the FRR version read on the node and the FRR bug of that version in the router-MAC diagnosis", () => {
    const why = (frr?: string) =>
      rendered({ cause: "rmac-missing", ...rmac, ...(frr ? { frr } : {}) }, "fail").diagnosis!.slice(
        LOST.length,
      );
    assert.equal(why("8.4.4"), FRR_16340);
    assert.equal(
      why("10.3.1"),
      "FRR 10.3.1 on this node has FRRouting/frr#16340 as far as FRR fixed it before 10.4: withdrawing a VTEP's " +
        "EVPN routes of the address family zebra learned first still drops the router MAC the other family uses " +
        "(completed by FRRouting/frr#18677 in FRR 10.4). Lasting fix: FRR 10.4 or later (PVE 9 ships 10.4.1), or no " +
        "default routes reaching non-exit nodes from other sites",
    );
    assert.equal(
      why("10.4.1"),
      "FRR 10.4.1 on this node has FRRouting/frr#20588: zebra keeps a stale router MAC, or loses the current one, " +
        "when a remote VTEP's router MAC or IP changes (a node re-created, renumbered or its bridge MAC changed). " +
        "Lasting fix: FRR 10.7 or later",
    );
    assert.equal(why("10.6.1"), why("10.4.1").replace("10.4.1", "10.6.1"));
    assert.equal(
      why("10.7.0"),
      "FRR 10.7.0 on this node has the fixes for FRRouting/frr#16340 and FRRouting/frr#20588, so this is no known " +
        "FRR bug: keep the output of `vtysh -c 'show evpn next-hops vni all'` and `vtysh -c 'show evpn rmac vni " +
        "all'` and report it to FRR",
    );
    assert.equal(
      why(undefined),
      "the FRR version could not be read on this node (`vtysh -c 'show version'`); FRR before 10.4 has " +
        "FRRouting/frr#16340 (a VTEP's routes of one address family withdrawn), before 10.7 FRRouting/frr#20588 " +
        "(a remote VTEP's router MAC or IP changed). Lasting fix: FRR 10.7 or later",
    );
  });

  it("reads the FRR version in the same probe round as the router MACs", () => {
    // What `vtysh -c 'show version'` printed on a lab node (Debian 12's FRR), shortened.
    const lab =
      "FRRouting 8.4.4 (proxmox-dell-r740) on Linux(6.18.44-fc-v1272).\n" +
      "Copyright 1996-2005 Kunihiro Ishiguro, et al.\nconfigured with:\n    '--build=x86_64-linux-gnu' '--prefix=/usr'";
    assert.equal(parseFrrVersion(lab), "8.4.4");
    assert.equal(parseFrrVersion("FRRouting 10.7.0-dev (r1) on Linux(6.8.0)."), "10.7.0-dev");
    assert.equal(parseFrrVersion("Exiting: failed to connect to any daemons."), undefined);
    assert.equal(hostProbe(spec(), spec().hosts[0]).frr, "vtysh -c 'show version'");
    const rs = run(spec({ sdntest: undefined }), [healthyHost({ rmacs: ok(rmacs()), frr: ok(lab) })], {});
    assert.match(
      rs.find((r) => r.id === `router-mac ${PEER}`)!.diagnosis!,
      /Why: FRR 8\.4\.4 on this node has FRRouting\/frr#16340:/,
    );
  });
});
