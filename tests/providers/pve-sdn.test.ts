// SDN providers against the PVE emulator: the lifecycle methods exactly as the engine calls them.
import { strict as assert } from "assert";
import { methods } from "../../providers/pve/ops";
import { PveAuthError } from "../../providers/pve/errors";
import { assertNoSecret, startLab, type Lab } from "./pve-helpers";

const ctl = methods("sdn-controller");
const zone = methods("sdn-zone");
const vnet = methods("sdn-vnet");
const subnet = methods("sdn-subnet");
const apply = methods("sdn-apply");

describe("PVE SDN providers (emulator)", function () {
  this.timeout(60_000);
  let lab: Lab;
  beforeEach(async () => (lab = await startLab()));
  afterEach(async () => lab.close());

  const ctlIn = () => ({ api: lab.api, controller: "evpnctl", asn: 65000, peers: ["10.2.0.1", "10.1.0.1"] });
  const zoneIn = () => ({
    api: lab.api,
    zone: "crossite",
    controller: "evpnctl",
    vrfVxlan: 99999,
    exitNodes: ["pve2", "pve1"],
    mtu: 1370,
    ipam: "pve",
  });
  const vnetIn = () => ({ api: lab.api, vnet: "crossvnt", zone: "crossite", tag: 100000 });
  const subnetIn = () => ({
    api: lab.api,
    vnet: "crossvnt",
    zone: "crossite",
    cidr: "10.1.1.0/24",
    gateway: "10.1.1.1",
    snat: true,
  });

  const applyIn = () => ({
    api: lab.api,
    trigger: "h1",
    owned: [
      "controllers/evpnctl",
      "zones/crossite",
      "vnets/crossvnt",
      "subnets/crossvnt/crossite-10.1.1.0-24",
    ],
    zones: ["crossite"],
  });

  async function createAll() {
    for (const [m, i] of [
      [ctl, ctlIn()],
      [zone, zoneIn()],
      [vnet, vnetIn()],
      [subnet, subnetIn()],
    ] as const) {
      const { inputs, failures } = await m.check({}, i);
      assert.deepEqual(failures, []);
      await m.create(inputs);
    }
  }

  it("controller: create reads back sorted peers, no-op diff makes zero writes, drift is seen and repaired, delete removes it", async () => {
    const { inputs } = await ctl.check({}, ctlIn());
    const { id, outs } = await ctl.create(inputs);
    assert.equal(id, "evpnctl");
    assert.deepEqual(
      { asn: outs.asn, peers: outs.peers, state: outs.livePendingState },
      { asn: 65000, peers: ["10.1.0.1", "10.2.0.1"], state: "new" },
    );
    lab.writesSince();
    assert.deepEqual(await ctl.diff(id, outs, inputs), { changes: false });
    assert.equal(lab.writesSince(), 0, "a converged diff must not write");

    await lab.client.cluster.sdn.controllers.update("evpnctl", { peers: "10.1.0.1" }); // drift made in PVE
    lab.writesSince();
    assert.equal((await ctl.diff(id, outs, inputs)).changes, true);
    const refreshed = await ctl.read(id, outs);
    assert.deepEqual(refreshed.props.peers, ["10.1.0.1"]);
    const up = await ctl.update(id, refreshed.props, inputs);
    assert.deepEqual(up.outs.peers, ["10.1.0.1", "10.2.0.1"]);
    assert.equal(lab.writesSince(), 1, "one PUT repairs the drift");

    await ctl.delete(id, up.outs);
    assert.equal(await lab.client.cluster.sdn.controllers.get("evpnctl"), undefined);
    assert.deepEqual(await ctl.read(id, up.outs), { id: "", props: {} });
    await ctl.delete(id, up.outs); // already gone: success
  });

  // zone, vnet and subnet: the same lifecycle claims as the controller above, one row per kind.
  const rows = [
    {
      kind: "zone",
      m: zone,
      id: "crossite",
      input: () => zoneIn(),
      drift: () => lab.client.cluster.sdn.zones.update("crossite", { mtu: 1500 }),
      field: (o: Record<string, unknown>) => o.mtu,
      want: 1370,
      drifted: 1500,
      byHand: () =>
        lab.client.cluster.sdn.zones.createEvpn({
          zone: "crossite",
          controller: "evpnctl",
          vrfVxlan: 99999,
          exitNodes: [],
          exitNodesLocalRouting: false,
          advertiseSubnets: false,
          mtu: 1400,
          nodes: [],
        }),
      byHandValue: 1400,
      parents: 1,
    },
    {
      kind: "vnet",
      m: vnet,
      id: "crossvnt",
      input: () => vnetIn(),
      drift: () => lab.client.cluster.sdn.vnets.update("crossvnt", { tag: 100001 }),
      field: (o: Record<string, unknown>) => o.tag,
      want: 100000,
      drifted: 100001,
      byHand: () =>
        lab.client.cluster.sdn.vnets.createVnet({ vnet: "crossvnt", zone: "crossite", tag: 100002 }),
      byHandValue: 100002,
      parents: 2,
    },
    {
      kind: "subnet",
      m: subnet,
      id: "crossite-10.1.1.0-24",
      input: () => subnetIn(),
      drift: () =>
        lab.client.cluster.sdn.subnets.of("crossvnt").update("crossite-10.1.1.0-24", { delete: "snat" }),
      field: (o: Record<string, unknown>) => o.snat,
      want: true,
      drifted: false,
      byHand: () =>
        lab.client.cluster.sdn.subnets.createSubnet({
          vnet: "crossvnt",
          zone: "crossite",
          cidr: "10.1.1.0/24",
          gateway: "10.1.1.254",
          snat: false,
        }),
      byHandValue: false,
      parents: 3,
    },
  ];
  for (const r of rows)
    it(`${r.kind}: create + read-back, zero-write no-op, drift seen and repaired by one write, delete, import`, async () => {
      const chain = [
        [ctl, ctlIn()],
        [zone, zoneIn()],
        [vnet, vnetIn()],
      ] as const;
      for (const [m, i] of chain.slice(0, r.parents)) await m.create((await m.check({}, i)).inputs);
      const { inputs, failures } = await r.m.check({}, r.input());
      assert.deepEqual(failures, []);
      const { id, outs } = await r.m.create(inputs);
      assert.equal(id, r.id);
      assert.deepEqual([r.field(outs), outs.livePendingState], [r.want, "new"]);
      lab.writesSince();
      assert.deepEqual(await r.m.diff(id, outs, inputs), { changes: false });
      assert.equal(lab.writesSince(), 0);
      await r.drift();
      lab.writesSince();
      assert.equal((await r.m.diff(id, outs, inputs)).changes, true);
      assert.equal(r.field((await r.m.read(id, outs)).props), r.drifted);
      const up = await r.m.update(id, outs, inputs);
      assert.equal(r.field(up.outs), r.want);
      assert.equal(lab.writesSince(), 1);
      await r.m.delete(id, up.outs);
      assert.deepEqual(await r.m.read(id, up.outs), { id: "", props: {} });
      await r.byHand();
      const imported = await r.m.read(r.id, inputs);
      assert.deepEqual([imported.id, r.field(imported.props)], [r.id, r.byHandValue]);
    });

  it("zone: refuses exitNodesLocalRouting without a reason, naming the field", async () => {
    const { failures } = await zone.check({}, { ...zoneIn(), exitNodesLocalRouting: true });
    assert.equal(failures.length, 1);
    assert.equal(failures[0].property, "exitNodesLocalRouting");
    assert.match(failures[0].reason, /conntrack.*exitNodesLocalRoutingReason/s);
    const ok = await zone.check(
      {},
      { ...zoneIn(), exitNodesLocalRouting: true, exitNodesLocalRoutingReason: "lab test" },
    );
    assert.deepEqual(ok.failures, []);
  });

  it("zone/vnet/subnet: bad ids and a gateway outside the subnet fail check with value, rule and fix", async () => {
    const z = await zone.check({}, { ...zoneIn(), zone: "cross-site" });
    assert.equal(z.failures[0].property, "zone");
    assert.match(z.failures[0].reason, /"cross-site".*2-8 letters\/digits/);
    const s = await subnet.check({}, { ...subnetIn(), cidr: "10.1.1.5/24", gateway: "10.9.9.1" });
    assert.deepEqual(
      s.failures.map((f: { property: string }) => f.property),
      ["cidr", "gateway"],
    );
    assert.match(s.failures[0].reason, /use '10\.1\.1\.0\/24'/);
  });

  it("zone: update of mtu and exit nodes writes one PUT with a delete list, and the computed mac never shows as drift", async () => {
    await ctl.create((await ctl.check({}, ctlIn())).inputs);
    const { inputs } = await zone.check({}, zoneIn());
    const { id, outs } = await zone.create(inputs);
    assert.match(outs.liveMac, /^BC:24:11:/);
    assert.deepEqual(outs.exitNodes, ["pve1", "pve2"]);
    const news = (await zone.check({}, { ...zoneIn(), mtu: 1400, exitNodes: [] })).inputs;
    assert.equal((await zone.diff(id, outs, news)).changes, true);
    lab.writesSince();
    const up = await zone.update(id, outs, news);
    assert.equal(lab.writesSince(), 1);
    assert.equal(up.outs.mtu, 1400);
    assert.deepEqual(up.outs.exitNodes, []);
    const raw = await lab.client.cluster.sdn.zones.get("crossite");
    assert.equal(raw?.exitnodes, undefined, "exitnodes removed through delete=, not sent empty");
    assert.deepEqual(await zone.diff(id, up.outs, news), { changes: false });
  });

  it("import/refresh: reading an object that exists in PVE returns its live values", async () => {
    await lab.client.cluster.sdn.controllers.createEvpn({
      controller: "evpnctl",
      asn: 65001,
      peers: ["10.1.0.1"],
    });
    const r = await ctl.read("evpnctl", ctlIn());
    assert.equal(r.id, "evpnctl");
    assert.equal(r.props.asn, 65001);
    assert.deepEqual(r.props.peers, ["10.1.0.1"]);
  });

  it("delete order is respected: a zone with a vnet refuses deletion with PVE's reason and the site", async () => {
    await createAll();
    await assert.rejects(
      zone.delete("crossite", { ...(await zone.check({}, zoneIn())).inputs }),
      /Unable to delete EVPN zone 'crossite' on roz: .*used by vnet/,
    );
  });

  it("apply: applies once, waits for the task, reports every node available and nothing pending; a second diff writes nothing", async () => {
    await createAll();
    const inp = applyIn();
    const { inputs, failures } = await apply.check({}, inp);
    assert.deepEqual(failures, []);
    lab.writesSince();
    const { outs } = await apply.create(inputs);
    assert.equal(lab.writesSince(), 2, "lock + apply");
    assert.deepEqual(outs.liveNodeStatus, { pve1: "available", pve2: "available" });
    assert.deepEqual(outs.livePending, []);
    assert.equal(outs.lastTask.exitstatus, "OK");
    assert.deepEqual(await apply.diff("x", outs, inputs), { changes: false });
    assert.equal(lab.writesSince(), 0);
    // An object read after the apply is no longer pending.
    const z = await zone.read("crossite", (await zone.check({}, zoneIn())).inputs);
    assert.equal(z.props.livePendingState, "applied");
    // An unapplied change of an owned object shows as a diff of the apply.
    await lab.client.cluster.sdn.zones.update("crossite", { mtu: 1300 });
    assert.equal((await apply.diff("x", outs, inputs)).changes, true);
  });

  it("apply: refuses foreign pending changes, naming them; allowForeignPending applies them", async () => {
    await createAll();
    await lab.client.cluster.sdn.zones.createEvpn({
      zone: "other",
      controller: "evpnctl",
      vrfVxlan: 5000,
      exitNodes: [],
      exitNodesLocalRouting: false,
      advertiseSubnets: false,
      nodes: [],
    });
    const inp = applyIn();
    await assert.rejects(
      apply.create(inp),
      /pending changes exist that this stack did not make: zones\/other \(new\)\. .*allowForeignPending/,
    );
    // The refusal released the 9.x lock: a plain write still works.
    await lab.client.cluster.sdn.zones.update("other", { mtu: 1400 });
    const { outs } = await apply.create({ ...inp, allowForeignPending: true });
    assert.deepEqual(outs.liveNodeStatus, { pve1: "available", pve2: "available" });
  });

  it("apply: a 500 'got no worker upid' once is retried and succeeds", async () => {
    await createAll();
    lab.emu.faults.set({ applyNoWorker: 1 });
    const before = lab.client.transport.stats.retries;
    const { outs } = await apply.create(applyIn());
    assert.equal(lab.client.transport.stats.retries - before, 1);
    assert.equal(outs.lastTask.exitstatus, "OK");
  });

  it("apply: a node whose reload fails makes the update fail naming the node and the reason; the next run converges", async () => {
    await createAll();
    const inp = applyIn();
    const { outs } = await apply.create(inp);
    await lab.client.cluster.sdn.zones.update("crossite", { mtu: 1300 });
    lab.emu.faults.set({ reloadFail: { pve2: "ifreload: vxlan_crossvnt: mtu mismatch" } });
    await assert.rejects(apply.update("x", outs, { ...inp, trigger: "h2" }), (e: Error) => {
      assert.match(e.message, /node pve2: zone crossite is (error|pending).*mtu mismatch/);
      assert.doesNotMatch(e.message, /node pve1/);
      return true;
    });
    assert.equal(
      (await apply.diff("x", outs, inp)).changes,
      true,
      "a node not available keeps the apply dirty",
    );
    lab.emu.faults.set({});
    const fixed = await apply.update("x", outs, { ...inp, trigger: "h2" });
    assert.deepEqual(fixed.outs.liveNodeStatus, { pve1: "available", pve2: "available" });
  });

  it("apply and object writes under someone else's 9.x SDN lock fail with the lock named and how to break it", async () => {
    await createAll();
    const theirs = await lab.client.cluster.sdn.lock(true);
    assert.ok(theirs);
    await assert.rejects(
      apply.create(applyIn()),
      /Unable to lock SDN config 'cluster' on roz: .*invalid lock token provided!.*--force 1/s,
    );
    await assert.rejects(
      vnet.create({ ...vnetIn(), vnet: "second", tag: 7 }),
      /Unable to create vnet 'second' on roz: .*global SDN lock/s,
    );
    await lab.client.cluster.sdn.unlock(theirs!);
    assert.equal((await apply.create(applyIn())).outs.lastTask.exitstatus, "OK");
  });

  it("finalizer: writes nothing on create, and on delete applies the deletion of the stack's objects", async () => {
    await createAll();
    await apply.create(applyIn());
    lab.writesSince();
    const fin = await apply.create({ ...applyIn(), mode: "finalizer" });
    assert.equal(lab.writesSince(), 0);
    for (const [m, id, i] of [
      [subnet, "crossite-10.1.1.0-24", subnetIn()],
      [vnet, "crossvnt", vnetIn()],
      [zone, "crossite", zoneIn()],
      [ctl, "evpnctl", ctlIn()],
    ] as const)
      await m.delete(id, (await m.check({}, i)).inputs);
    assert.ok(await lab.client.cluster.sdn.zones.get("crossite", "running"), "deleted but not yet applied");
    await apply.delete(fin.id, fin.outs);
    assert.equal(await lab.client.cluster.sdn.zones.get("crossite", "running"), undefined);
    assert.deepEqual(await lab.client.cluster.sdn.zones.list("pending"), []);
  });

  it("apply on PVE 8.4 (no SDN lock endpoint) applies without a lock token", async () => {
    await lab.close();
    lab = await startLab({ version: "8.4" });
    await createAll();
    lab.writesSince();
    const { outs } = await apply.create(applyIn());
    assert.equal(lab.writesSince(), 1, "only the apply: no lock call on 8.x");
    assert.deepEqual(outs.liveNodeStatus, { pve1: "available", pve2: "available" });
  });

  it("a wrong token gives one clear 401 error, no retries, and no secret in the message", async () => {
    const api = { ...lab.api, tokenSecret: "00000000-dead-beef-0000-000000000000" };
    const { clientFor } = await import("../../providers/pve/client");
    const stats = clientFor(api).transport.stats;
    await assert.rejects(ctl.create({ ...ctlIn(), api }), (e: Error) => {
      assert.ok(e instanceof PveAuthError, e.constructor.name);
      assert.match(
        e.message,
        /Unable to create EVPN controller 'evpnctl' on roz: invalid token value! \(HTTP 401\)\. Check api.tokenId/,
      );
      assert.ok(!e.message.includes(api.tokenSecret));
      return true;
    });
    assert.deepEqual({ ...stats }, { GET: 0, POST: 1, PUT: 0, DELETE: 0, retries: 0 });
  });

  it("no token secret appears in what the providers return or in their errors", async () => {
    await createAll();
    const outs = (await vnet.read("crossvnt", vnetIn())).props;
    // The api object (with the secret) is in the outputs on purpose — the resource marks it secret; nothing else is.
    const { api: _api, ...rest } = outs;
    void _api;
    assertNoSecret("vnet outputs", JSON.stringify(rest));
    const err = await zone.create({ ...(await zone.check({}, zoneIn())).inputs }).catch((e: Error) => e);
    assert.ok(err instanceof Error);
    assertNoSecret("duplicate-create error", String(err.message) + String(err.stack));
  });
});
