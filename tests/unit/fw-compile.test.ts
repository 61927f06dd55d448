// The firewall compiler (lab/fw): the emulator's firewall state → the nftables ruleset of one node.
// Chains are compared line for line; the whole script where it is short.
import { strict as assert } from "node:assert";
import { compileFirewall, type CompileInput } from "../../lab/fw/compile";
import { FirewallCompileError, type FirewallView } from "../../lab/fw/model";
import type { Rule } from "../../lab/pve/state";

const on = (r: Rule): Rule => ({ enable: 1, ...r });

/** The seed's security group (facts.md), as the emulator stores it for roz. */
function seedGroup(): Rule[] {
  return [
    on({ type: "in", action: "ACCEPT", proto: "udp", dport: "51820", log: "err" }),
    on({ type: "in", action: "ACCEPT", proto: "tcp", dport: "179", source: "10.2.0.0/24", log: "err" }),
    on({ type: "in", action: "ACCEPT", proto: "udp", dport: "4789", source: "10.2.0.0/24", log: "err" }),
    on({ type: "forward", action: "ACCEPT", source: "10.0.0.0/8", dest: "+sdn/crossvnt-all", log: "err" }),
    on({
      type: "in",
      action: "ACCEPT",
      source: "+sdn/crossvnt-no-gateway",
      dest: "+sdn/crossvnt-gateway",
      log: "err",
    }),
    on({ type: "forward", action: "ACCEPT", source: "+sdn/crossvnt-all", dest: "0.0.0.0/0", log: "err" }),
  ];
}

function state(over: Partial<FirewallView> = {}): FirewallView {
  return {
    cluster: { options: { enable: 1 }, rules: [on({ type: "group", action: "tf-sdn" })] },
    groups: { "tf-sdn": { rules: seedGroup() } },
    ipsets: {},
    aliases: {},
    nodes: { roz1: { options: { nftables: 1 }, rules: [] } },
    vnets: {},
    sdnIpsets: {
      "crossvnt-all": [{ cidr: "10.1.1.0/24" }],
      "crossvnt-gateway": [{ cidr: "10.1.1.1" }],
      "crossvnt-no-gateway": [{ cidr: "10.1.1.0/24" }, { cidr: "10.1.1.1", nomatch: 1 }],
      "crossvnt-dhcp": [],
    },
    ...over,
  };
}

function compile(fw: FirewallView, extra: Partial<CompileInput> = {}) {
  return compileFirewall({
    fw,
    node: "roz1",
    pveVersion: "9.1",
    localNetwork: ["198.18.1.0/24"],
    now: 1000,
    ...extra,
  });
}

/** The body of `chain <name> { … }` (or a set/map) in the script, one statement a line. */
function block(script: string, kind: "chain" | "set" | "map", name: string): string[] | undefined {
  const lines = script.split("\n");
  const start = lines.indexOf(`  ${kind} ${name} {`);
  if (start < 0) return undefined;
  const end = lines.indexOf("  }", start);
  return lines.slice(start + 1, end).map((l) => l.trim());
}

const LOG = (chain: string, verdict: string, level = 3) =>
  `limit rate 1/second burst 5 packets log prefix ":0:${level}:${chain}: ${verdict}: " group 0`;

const HEADER_TABLES = [
  "add table inet proxmox-firewall",
  "delete table inet proxmox-firewall",
  "add table bridge proxmox-firewall-guests",
  "delete table bridge proxmox-firewall-guests",
  "add table inet pve-firewall",
  "delete table inet pve-firewall",
];

describe("fw compile: the emulator's firewall state as nftables", () => {
  it("with the cluster firewall off, only removes the lab's firewall tables", () => {
    const c = compile(state({ cluster: { options: { enable: 0 }, rules: [] } }));
    assert.equal(c.backend, "off");
    assert.equal(
      c.script,
      [
        "# pve-fabric lab firewall for node roz1: firewall disabled (cluster enable=0)",
        ...HEADER_TABLES,
        "",
      ].join("\n"),
    );
  });

  it("compiles the seed's security group into group chains per direction, log rule before the verdict", () => {
    const c = compile(state());
    assert.equal(c.backend, "nftables");
    const ipIn = (m: string) => [`${m} ${LOG("group-tf-sdn-in", "ACCEPT")}`, `${m} accept`];
    const nogw =
      "ip saddr @v4-sdn/crossvnt-no-gateway ip saddr != @v4-sdn/crossvnt-no-gateway-nomatch ip daddr @v4-sdn/crossvnt-gateway ip daddr != @v4-sdn/crossvnt-gateway-nomatch";
    const nogw6 = nogw.replace(/ip /g, "ip6 ").replace(/v4-/g, "v6-");
    assert.deepEqual(block(c.script, "chain", "group-tf-sdn-in"), [
      ...ipIn("meta l4proto udp th dport 51820"),
      ...ipIn("meta l4proto tcp th dport 179 ip saddr 10.2.0.0/24"),
      ...ipIn("meta l4proto udp th dport 4789 ip saddr 10.2.0.0/24"),
      // An ipset splits the log rule and the verdict rule each into an IPv4 and an IPv6 copy.
      `${nogw} ${LOG("group-tf-sdn-in", "ACCEPT")}`,
      `${nogw6} ${LOG("group-tf-sdn-in", "ACCEPT")}`,
      `${nogw} accept`,
      `${nogw6} accept`,
    ]);
    assert.deepEqual(block(c.script, "chain", "group-tf-sdn-out"), []);
    const fwd = (m: string) => [`${m} ${LOG("group-tf-sdn-forward", "ACCEPT")}`, `${m} accept`];
    assert.deepEqual(block(c.script, "chain", "group-tf-sdn-forward"), [
      ...fwd("ip saddr 10.0.0.0/8 ip daddr @v4-sdn/crossvnt-all ip daddr != @v4-sdn/crossvnt-all-nomatch"),
      // An IPv4 literal constrains only the IPv4 copy of an ipset rule: the IPv6 copy matches any
      // destination (rule.rs does this; the v6 set is empty here, so it never matches).
      `ip saddr @v4-sdn/crossvnt-all ip saddr != @v4-sdn/crossvnt-all-nomatch ip daddr 0.0.0.0/0 ${LOG("group-tf-sdn-forward", "ACCEPT")}`,
      `ip6 saddr @v6-sdn/crossvnt-all ip6 saddr != @v6-sdn/crossvnt-all-nomatch ${LOG("group-tf-sdn-forward", "ACCEPT")}`,
      "ip saddr @v4-sdn/crossvnt-all ip saddr != @v4-sdn/crossvnt-all-nomatch ip daddr 0.0.0.0/0 accept",
      "ip6 saddr @v6-sdn/crossvnt-all ip6 saddr != @v6-sdn/crossvnt-all-nomatch accept",
    ]);
    // The cluster chains jump into the group, then apply the cluster policy (defaults: in DROP, forward ACCEPT).
    assert.deepEqual(block(c.script, "chain", "cluster-in"), ["jump group-tf-sdn-in", "drop"]);
    assert.deepEqual(block(c.script, "chain", "cluster-out"), ["jump group-tf-sdn-out", "accept"]);
    assert.deepEqual(block(c.script, "chain", "cluster-forward"), ["jump group-tf-sdn-forward", "accept"]);
    assert.deepEqual(block(c.script, "chain", "forward"), [
      "type filter hook forward priority filter; policy accept;",
      "ct state vmap { established : accept, related : accept, invalid : jump invalid-conntrack }",
      "jump host-forward",
      "jump cluster-forward",
    ]);
  });

  it("builds the +sdn/<vnet>-… selectors as v4/v6 interval sets with nomatch twins", () => {
    const s = compile(state()).script;
    assert.deepEqual(block(s, "set", "v4-sdn/crossvnt-no-gateway"), [
      "type ipv4_addr",
      "flags interval",
      "auto-merge",
      "elements = { 10.1.1.0/24 }",
    ]);
    assert.deepEqual(block(s, "set", "v4-sdn/crossvnt-no-gateway-nomatch"), [
      "type ipv4_addr",
      "flags interval",
      "auto-merge",
      "elements = { 10.1.1.1 }",
    ]);
    assert.deepEqual(block(s, "set", "v6-sdn/crossvnt-all"), [
      "type ipv6_addr",
      "flags interval",
      "auto-merge",
    ]);
    assert.deepEqual(block(s, "set", "v4-sdn/crossvnt-dhcp"), [
      "type ipv4_addr",
      "flags interval",
      "auto-merge",
    ]);
  });

  it("applies the cluster options: policies, the node's log levels and log_ratelimit", () => {
    const fw = state({
      cluster: {
        options: {
          enable: 1,
          policy_in: "REJECT",
          policy_out: "DROP",
          policy_forward: "DROP",
          log_ratelimit: "enable=1,rate=10/minute,burst=20",
        },
        rules: [],
      },
      nodes: {
        roz1: { options: { nftables: 1, log_level_in: "info", log_level_forward: "nolog" }, rules: [] },
      },
    });
    const s = compile(fw).script;
    assert.deepEqual(block(s, "chain", "cluster-in"), [
      'limit rate 10/minute burst 20 packets log prefix ":0:6:cluster-in: REJECT: " group 0',
      "jump do-reject",
    ]);
    assert.deepEqual(block(s, "chain", "cluster-out"), ["drop"]);
    assert.deepEqual(block(s, "chain", "cluster-forward"), ["drop"]);
    fw.cluster.options.log_ratelimit = "0";
    assert.deepEqual(block(compile(fw).script, "chain", "cluster-in"), [
      'log prefix ":0:6:cluster-in: REJECT: " group 0',
      "jump do-reject",
    ]);
  });

  it("compiles vnet rules into a bridge chain reached from the host hooks and the bridged-forward map", () => {
    const fw = state({
      vnets: {
        crossvnt: {
          options: { enable: 1, policy_forward: "DROP", log_level_forward: "warning" },
          rules: [
            on({ type: "forward", action: "ACCEPT", source: "+sdn/crossvnt-all", dest: "10.2.1.0/24" }),
            on({ type: "forward", action: "DROP", source: "10.9.0.0/16" }),
            { type: "forward", action: "ACCEPT", source: "10.0.0.0/8" }, // enable absent = disabled
          ],
        },
        oldvnet: { options: {}, rules: [on({ type: "forward", action: "ACCEPT" })] }, // enable defaults to 0
      },
    });
    const s = compile(fw).script;
    assert.deepEqual(block(s, "chain", "bridge-crossvnt"), [
      "jump before-bridge",
      "ip saddr @v4-sdn/crossvnt-all ip saddr != @v4-sdn/crossvnt-all-nomatch ip daddr 10.2.1.0/24 accept",
      "ip6 saddr @v6-sdn/crossvnt-all ip6 saddr != @v6-sdn/crossvnt-all-nomatch accept",
      "ip saddr 10.9.0.0/16 drop",
      'limit rate 1/second burst 5 packets log prefix ":0:4:bridge-crossvnt: DROP: " group 0',
      "drop",
    ]);
    assert.equal(block(s, "chain", "bridge-oldvnet"), undefined);
    assert.deepEqual(block(s, "map", "bridge-map"), [
      "type ifname : verdict",
      'elements = { "crossvnt" : jump bridge-crossvnt }',
    ]);
    assert.deepEqual(block(s, "map", "lab-bridged-map"), [
      "type ifname . ifname : verdict",
      'elements = { "crossvnt" . "crossvnt" : jump bridge-crossvnt }',
    ]);
    assert.deepEqual(block(s, "chain", "lab-bridged-forward"), [
      "type filter hook forward priority filter - 1; policy accept;",
      "iifname . oifname vmap @lab-bridged-map",
    ]);
  });

  it("with nftables=0 (iptables backend), forward and vnet rules have no effect", () => {
    const fw = state({
      cluster: {
        options: { enable: 1, policy_forward: "DROP" },
        rules: [on({ type: "group", action: "tf-sdn" })],
      },
      nodes: { roz1: { options: {}, rules: [on({ type: "forward", action: "DROP" })] } },
      vnets: { crossvnt: { options: { enable: 1, policy_forward: "DROP" }, rules: [] } },
    });
    const c = compile(fw);
    assert.equal(c.backend, "iptables");
    assert.match(c.script, /^table inet pve-firewall \{$/m);
    assert.doesNotMatch(c.script, /proxmox-firewall \{/);
    for (const gone of [
      "cluster-forward",
      "host-forward",
      "group-tf-sdn-forward",
      "bridge-crossvnt",
      "lab-bridged-forward",
    ])
      assert.equal(block(c.script, "chain", gone), undefined, gone);
    assert.deepEqual(block(c.script, "chain", "forward"), [
      "type filter hook forward priority filter; policy accept;",
      "ct state invalid drop",
      "ct state { established, related } accept",
    ]);
    // IN rules still apply (positive control).
    assert.deepEqual(block(c.script, "chain", "cluster-in"), ["jump group-tf-sdn-in", "drop"]);
  });

  it("puts the node's local network, the management ipset and the lab's extra sources in the management set", () => {
    const fw = state({
      ipsets: { management: { entries: [{ cidr: "192.0.2.7" }, { cidr: "192.0.2.8", nomatch: 1 }] } },
    });
    const s = compile(fw, { extraManagement: ["198.18.0.2/32"] }).script;
    assert.deepEqual(block(s, "set", "v4-dc/management"), [
      "type ipv4_addr",
      "flags interval",
      "auto-merge",
      "elements = { 192.0.2.7, 198.18.1.0/24, 198.18.0.2/32 }",
    ]);
    assert.deepEqual(block(s, "set", "v4-dc/management-nomatch")?.at(-1), "elements = { 192.0.2.8 }");
    // The cluster's management ipset is not emitted a second time as a plain dc set.
    assert.equal(block(s, "set", "v4-dc/management-nomatch-nomatch"), undefined);
    // A local_network alias replaces the detected networks.
    fw.aliases.local_network = { name: "local_network", cidr: "172.16.0.0/12" };
    assert.equal(
      block(compile(fw).script, "set", "v4-dc/management")?.at(-1),
      "elements = { 192.0.2.7, 172.16.0.0/12 }",
    );
    assert.deepEqual(block(s, "chain", "default-in")?.slice(4, 5), [
      "tcp dport { 22, 3128, 5900-5999, 8006 } jump accept-management",
    ]);
  });

  it("expands macros into one rule per protocol entry and skips disabled rules", () => {
    const fw = state({
      cluster: {
        options: { enable: 1 },
        rules: [
          on({ type: "in", action: "ACCEPT", macro: "web", iface: "vmbr0" }),
          on({ type: "in", action: "ACCEPT", macro: "Ping", source: "dc/operator" }),
          { type: "in", action: "DROP", enable: 0, proto: "tcp" },
        ],
      },
      aliases: { operator: { name: "operator", cidr: "198.18.0.2" } },
    });
    assert.deepEqual(block(compile(fw).script, "chain", "cluster-in"), [
      'iifname "vmbr0" meta l4proto tcp th dport 80 accept',
      'iifname "vmbr0" meta l4proto tcp th dport 443 accept',
      "icmp type echo-request ip saddr 198.18.0.2 accept",
      "icmpv6 type echo-request accept",
      "drop",
    ]);
  });

  it("honours pve-firewall's 60 s enable probe and asks to be compiled again when it ends", () => {
    const fw = state({
      cluster: { options: { enable: 5000 }, rules: [] },
      nodes: { roz1: { options: {}, rules: [] } },
    });
    const during = compile(fw, { now: 5059 });
    assert.equal(during.backend, "iptables");
    assert.equal(during.recompileAt, 5060);
    assert.equal(compile(fw, { now: 5060 }).backend, "off");
  });

  it("refuses the probe epoch under nftables=1 with the field, value, rule and fix", () => {
    const fw = state({ cluster: { options: { enable: 5000 }, rules: [] } });
    assert.throws(
      () => compile(fw),
      (e: unknown) =>
        e instanceof FirewallCompileError &&
        e.field === "enable" &&
        e.value === "5000" &&
        /accepts only 0\/1/.test(e.rule) &&
        /set enable=1/.test(e.fix),
    );
  });

  it("fails the whole ruleset on references proxmox-firewall cannot resolve", () => {
    const unscoped = state({
      cluster: { options: { enable: 1 }, rules: [on({ type: "in", action: "ACCEPT", source: "+remote" })] },
      ipsets: { remote: { entries: [{ cidr: "10.2.0.0/16" }] } },
    });
    // PVE 9 (proxmox-firewall 1.2) resolves an unscoped name among the cluster's sets; 8.4 cannot parse it.
    assert.deepEqual(
      block(compile(unscoped).script, "chain", "cluster-in")?.[0],
      "ip saddr @v4-dc/remote ip saddr != @v4-dc/remote-nomatch accept",
    );
    assert.throws(
      () => compile(unscoped, { pveVersion: "8.4" }),
      (e: unknown) =>
        e instanceof FirewallCompileError &&
        e.message ===
          "cluster rule 0: source '+remote': proxmox-firewall on PVE 8.4 cannot parse an unscoped ipset name (fixed in 1.2.0, PVE 9.0); write it with its scope, e.g. '+dc/remote'",
    );
    const gone = state({ sdnIpsets: {} });
    assert.throws(
      () => compile(gone),
      /security group 'tf-sdn' rule 4: source '\+sdn\/crossvnt-no-gateway': could not find ipset sdn\/crossvnt-no-gateway; apply the SDN config/,
    );
    const noGroup = state({ groups: {} });
    assert.throws(
      () => compile(noGroup),
      /cluster rule 0: action 'tf-sdn': the security group does not exist/,
    );
    const fwdIface = state({
      cluster: { options: { enable: 1 }, rules: [on({ type: "forward", action: "ACCEPT", iface: "wg0" })] },
    });
    assert.throws(
      () => compile(fwdIface),
      /cluster rule 0: iface 'wg0': proxmox-firewall cannot match an interface/,
    );
  });
});
