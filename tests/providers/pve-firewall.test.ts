// Firewall providers against the PVE emulator: marked rule blocks per scope, options, the lock-out preflight.
import { strict as assert } from "assert";
import { methods } from "../../providers/pve/ops";
import { fabricRules } from "../../providers/pve/fabric-rules";
import { seedAppliedVnet, startLab, type Lab } from "./pve-helpers";

const rules = methods("fw-rules");
const options = methods("fw-options");

const FABRIC = fabricRules({
  group: "fabric",
  wgInterface: "wg0",
  wgPort: 51820,
  peerEndpoints: ["198.51.100.2"],
  peerTunnelAddresses: ["10.255.0.2"],
  vnet: "crossvnt",
  remoteSubnets: ["10.2.1.0/24"],
  snat: false,
});

describe("PVE firewall providers (emulator)", function () {
  this.timeout(60_000);
  let lab: Lab;
  beforeEach(async () => (lab = await startLab()));
  afterEach(async () => lab.close());

  const comments = async (base = lab.client.cluster.firewall.rules) =>
    (await base.list()).map((r) => r.comment ?? "");

  it("cluster rules: create on top of an operator's rule, zero-write no-op, deleted and moved rules are drift and get repaired, delete leaves only the operator's rule", async () => {
    const fw = lab.client.cluster.firewall.rules;
    await fw.create({
      type: "in",
      action: "ACCEPT",
      proto: "tcp",
      dport: "22",
      enable: true,
      comment: "ops: ssh",
    });
    const { inputs, failures } = await rules.check(
      {},
      { api: lab.api, scope: "cluster", rules: FABRIC.cluster },
    );
    assert.deepEqual(failures, []);
    lab.writesSince();
    const { id, outs } = await rules.create(inputs);
    assert.equal(lab.writesSince(), 3, "three POSTs, created last-first, no moves");
    assert.deepEqual(await comments(), [
      "pve-fabric:group fabric security group",
      "pve-fabric:bgp-in BGP over the tunnel",
      "pve-fabric:vxlan-in VXLAN over the tunnel",
      "ops: ssh",
    ]);
    assert.deepEqual(outs.liveDrift, { missing: [], unwanted: [], changed: [], misordered: false });
    assert.deepEqual(await rules.diff(id, outs, inputs), { changes: false });
    assert.equal(lab.writesSince(), 0);

    // drift: one rule deleted, another moved below the operator's rule
    await fw.remove(1);
    await fw.move(0, 3);
    assert.deepEqual(await comments(), [
      "pve-fabric:vxlan-in VXLAN over the tunnel",
      "ops: ssh",
      "pve-fabric:group fabric security group",
    ]);
    lab.writesSince();
    assert.equal((await rules.diff(id, outs, inputs)).changes, true);
    const refreshed = await rules.read(id, outs);
    assert.deepEqual(refreshed.props.liveDrift, {
      missing: ["bgp-in"],
      unwanted: [],
      changed: [],
      misordered: true,
    });
    await rules.update(id, refreshed.props, inputs);
    assert.deepEqual(
      (await comments()).slice(0, 3),
      FABRIC.cluster.map((r) => `pve-fabric:${r.key} ${r.note}`),
    );
    assert.equal((await fw.list())[3].comment, "ops: ssh");
    assert.deepEqual(await rules.diff(id, outs, inputs), { changes: false });

    await rules.delete(id, outs);
    assert.deepEqual(await comments(), ["ops: ssh"]);
  });

  it("security group: created with a marked comment, rules in order; an unmarked group of that name is refused; delete removes group and rules", async () => {
    await seedAppliedVnet(lab);
    const { inputs } = await rules.check(
      {},
      { api: lab.api, scope: "group/fabric", rules: FABRIC.group, groupNote: "fabric rules" },
    );
    const { id, outs } = await rules.create(inputs);
    assert.deepEqual(await lab.client.cluster.firewall.groups.get("fabric"), {
      group: "fabric",
      comment: "pve-fabric:group fabric rules",
    });
    assert.deepEqual(
      outs.rules.map((r: { key: string }) => r.key),
      ["wg-in", "fwd-out", "fwd-in"],
    );
    assert.equal(outs.rules[0].source, "198.51.100.2");
    await rules.delete(id, outs);
    assert.equal(await lab.client.cluster.firewall.groups.get("fabric"), undefined);

    await lab.client.cluster.firewall.groups.create("fabric", "made by hand");
    await assert.rejects(
      rules.create(inputs),
      /security group 'fabric' exists and is not managed by pve-fabric/,
    );
    assert.deepEqual(await lab.client.cluster.firewall.groups.rules("fabric").list(), []);
  });

  it("a create that PVE refuses midway leaves no marked group or rule behind", async () => {
    const { inputs } = await rules.check({}, { api: lab.api, scope: "group/fabric", rules: FABRIC.group });
    await assert.rejects(
      rules.create(inputs),
      /Unable to create firewall rules of 'group\/fabric' on roz: .*no such ipset 'crossvnt-all'/,
    );
    assert.equal(await lab.client.cluster.firewall.groups.get("fabric"), undefined);
  });

  it("import/refresh: marked rules and set options that already exist in PVE are read as ours; unmarked ones are not", async () => {
    const fw = lab.client.cluster.firewall.rules;
    await fw.create({
      type: "in",
      action: "ACCEPT",
      proto: "tcp",
      dport: "179",
      iface: "wg0",
      enable: true,
      comment: "pve-fabric:bgp-in made earlier",
    });
    await fw.create({ type: "in", action: "DROP", enable: true, comment: "someone else" });
    const r = await rules.read("cluster", { api: lab.api, scope: "cluster", rules: FABRIC.cluster });
    assert.deepEqual(r.props.rules, [
      {
        key: "bgp-in",
        note: "made earlier",
        type: "in",
        action: "ACCEPT",
        enable: true,
        iface: "wg0",
        proto: "tcp",
        dport: "179",
      },
    ]);
    assert.deepEqual(r.props.liveDrift, {
      missing: ["group", "vxlan-in"],
      unwanted: [],
      changed: ["bgp-in"],
      misordered: true,
    });
    await lab.client.nodes.firewall.options("pve2").set({ nftables: 1 });
    const o = await options.read("node/pve2", {
      api: lab.api,
      scope: "node/pve2",
      options: { nftables: true, enable: true },
    });
    assert.deepEqual(o.props.options, { nftables: 1 });
  });

  it("rules that PVE would refuse in a scope fail check naming the rule, before anything is written", async () => {
    const { failures } = await rules.check(
      {},
      {
        api: lab.api,
        scope: "vnet/crossvnt",
        rules: [
          { key: "a", type: "in", action: "ACCEPT" },
          { key: "a", type: "forward", action: "REJECT", iface: "wg0" },
        ],
      },
    );
    assert.deepEqual(
      failures.map((f: { property: string }) => f.property),
      ["rules[0].type", "rules[1].key", "rules[1].iface", "rules[1].action"],
    );
  });

  it("node options: nftables and enable are set, a no-op diff writes nothing, drift is repaired, delete resets only those keys", async () => {
    const o = lab.client.nodes.firewall.options("pve1");
    await o.set({ log_level_in: "info" }); // operator's key, not ours
    const { inputs } = await options.check(
      {},
      { api: lab.api, scope: "node/pve1", options: { nftables: true, enable: true } },
    );
    const { id, outs } = await options.create(inputs);
    assert.deepEqual(outs.options, { nftables: 1, enable: 1 });
    lab.writesSince();
    assert.deepEqual(await options.diff(id, outs, inputs), { changes: false });
    assert.equal(lab.writesSince(), 0);
    await o.set({ nftables: 0 });
    assert.equal((await options.diff(id, outs, inputs)).changes, true);
    assert.deepEqual((await options.update(id, outs, inputs)).outs.options, { nftables: 1, enable: 1 });
    await options.delete(id, outs);
    const { digest: _d, ...left } = await o.get();
    void _d;
    assert.deepEqual(left, { log_level_in: "info" });
  });

  it("cluster options: the preflight refuses policy_in DROP that would cut SSH/API for the operator, and allows it once a rule accepts them", async () => {
    const news = {
      api: lab.api,
      scope: "cluster",
      options: { enable: 1, policy_in: "DROP" },
      operatorSources: ["192.0.2.10"],
    };
    const missing = await options.check({}, { ...news, operatorSources: [] });
    assert.equal(missing.failures[0].property, "operatorSources");
    const { inputs } = await options.check({}, news);
    lab.writesSince();
    await assert.rejects(options.create(inputs), (e: Error) => {
      assert.match(
        e.message,
        /^Unable to set firewall options of 'cluster' on roz: lock-out preflight refused .*SSH \(tcp\/22\) from 192\.0\.2\.10 would be dropped by policy_in=DROP.*tcp\/8006/s,
      );
      return true;
    });
    assert.equal(lab.writesSince(), 0, "nothing written when refused");
    assert.deepEqual(await lab.client.cluster.firewall.options.get().then((o) => o.enable), undefined);

    await lab.client.cluster.firewall.rules.create({
      type: "in",
      action: "ACCEPT",
      proto: "tcp",
      dport: "22,8006",
      source: "192.0.2.0/24",
      enable: true,
      comment: "ops: admin",
    });
    const { outs } = await options.create(inputs);
    assert.deepEqual(outs.options, { enable: 1, policy_in: "DROP" });
  });

  it("vnet firewall: options and forward rules on an applied vnet", async () => {
    await seedAppliedVnet(lab);
    const sdn = lab.client.cluster.sdn;

    const opt = (
      await options.check(
        {},
        { api: lab.api, scope: "vnet/crossvnt", options: { enable: 1, policy_forward: "DROP" } },
      )
    ).inputs;
    assert.deepEqual((await options.create(opt)).outs.options, { enable: 1, policy_forward: "DROP" });
    const r = (await rules.check({}, { api: lab.api, scope: "vnet/crossvnt", rules: FABRIC.vnet })).inputs;
    const { outs } = await rules.create(r);
    assert.deepEqual(
      outs.rules.map((x: { key: string; dest?: string }) => `${x.key}>${x.dest ?? ""}`),
      ["vnet-local>+sdn/crossvnt-all", "vnet-out>10.2.1.0/24", "vnet-in>+sdn/crossvnt-all"],
    );
    await rules.delete("vnet/crossvnt", outs);
    assert.deepEqual(await sdn.vnetFirewall.rules("crossvnt").list(), []);
  });
});
