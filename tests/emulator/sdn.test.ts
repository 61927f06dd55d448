// SDN conformance (reference §2): objects, validation texts, pending diff shapes, apply, lock, delete order.
import { strict as assert } from "node:assert";
import { applySdn, seedSdn, startHarness, type Harness } from "./helpers";

type Obj = Record<string, unknown>;

describe("emulator SDN (reference §2)", () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(async () => h.close());

  it("creates controller, zone, vnet and subnet and reads them back with derived fields", async () => {
    await seedSdn(h);
    const zone = await h.ok<Obj>("GET", "/cluster/sdn/zones/crossite");
    assert.equal(zone.exitnodes, "pve1,pve2"); // node lists come back sorted
    assert.equal(zone["vrf-vxlan"], 99999);
    assert.match(String(zone.mac), /^BC:24:11(:[0-9A-F]{2}){3}$/); // auto-generated anycast MAC
    assert.match(String(zone.digest), /^[0-9a-f]{40}$/);
    const subnets = await h.ok<Obj[]>("GET", "/cluster/sdn/vnets/crossvnt/subnets");
    assert.equal(subnets.length, 1);
    const { digest, ...s } = subnets[0];
    assert.match(String(digest), /^[0-9a-f]{40}$/);
    assert.deepEqual(s, {
      type: "subnet",
      vnet: "crossvnt",
      gateway: "10.1.1.1",
      snat: 1,
      subnet: "crossite-10.1.1.0-24",
      id: "crossite-10.1.1.0-24",
      cidr: "10.1.1.0/24",
      zone: "crossite",
      network: "10.1.1.0",
      mask: "24",
      "dhcp-range": [],
    });
  });

  it("shows new objects in pending=1 with only id and type on top and everything else under pending", async () => {
    await seedSdn(h);
    const zones = await h.ok<Obj[]>("GET", "/cluster/sdn/zones", { pending: 1 });
    const mac = (zones[0].pending as Obj).mac;
    assert.deepEqual(zones, [
      {
        zone: "crossite",
        type: "evpn",
        state: "new",
        digest: null,
        pending: {
          controller: "evpnctl",
          "vrf-vxlan": 99999,
          mtu: 1370,
          exitnodes: "pve1,pve2",
          ipam: "pve",
          mac,
        },
      },
    ]);
    const subnets = await h.ok<Obj[]>("GET", "/cluster/sdn/vnets/crossvnt/subnets", { pending: 1 });
    assert.equal(subnets[0].state, "new");
    assert.equal(subnets[0].vnet, "crossvnt");
    assert.deepEqual(subnets[0].pending, { gateway: "10.1.1.1", snat: 1 });
  });

  it("shows changed, deleted-key and deleted-object diffs after apply", async () => {
    await seedSdn(h);
    await h.ok("POST", "/cluster/sdn/vnets", { vnet: "second", zone: "crossite", tag: 100001 });
    assert.equal((await applySdn(h)).exitstatus, "OK");
    assert.deepEqual(
      (await h.ok<Obj[]>("GET", "/cluster/sdn/zones", { pending: 1 })).map((z) => z.state),
      [undefined],
    );

    await h.ok("PUT", "/cluster/sdn/zones/crossite", { mtu: 1400, delete: "exitnodes" });
    await h.ok("DELETE", "/cluster/sdn/vnets/second");
    const [zone] = await h.ok<Obj[]>("GET", "/cluster/sdn/zones", { pending: 1 });
    assert.equal(zone.state, "changed");
    assert.equal(zone.mtu, 1370); // top level keeps the running value
    assert.equal(zone.exitnodes, "pve1,pve2");
    assert.deepEqual(zone.pending, { mtu: 1400, exitnodes: "deleted" });
    const vnets = await h.ok<Obj[]>("GET", "/cluster/sdn/vnets", { pending: 1 });
    assert.deepEqual(
      vnets.find((v) => v.vnet === "second"),
      {
        vnet: "second",
        type: "vnet",
        zone: "crossite",
        tag: 100001,
        state: "deleted",
        pending: {},
        digest: null,
      },
    );
    assert.equal(vnets.find((v) => v.vnet === "crossvnt")!.state, undefined);
  });

  it("serves running=1 from the last apply only", async () => {
    await seedSdn(h);
    const before = await h.call("GET", "/cluster/sdn/zones/crossite", { running: 1 });
    assert.equal(before.status, 500);
    assert.equal(before.body?.message, "sdn 'crossite' does not exist\n");
    await applySdn(h);
    await h.ok("PUT", "/cluster/sdn/zones/crossite", { mtu: 1400 });
    assert.equal((await h.ok<Obj>("GET", "/cluster/sdn/zones/crossite", { running: 1 })).mtu, 1370);
    assert.equal((await h.ok<Obj>("GET", "/cluster/sdn/zones/crossite")).mtu, 1400);
  });

  it("keeps the running snapshot in PVE's .running-config shape (node lists as hashes, version counter)", async () => {
    await seedSdn(h);
    await applySdn(h);
    const run = h.emu.emulator.runningConfig();
    assert.equal(run.version, 1);
    assert.deepEqual(run.zones.ids.crossite.exitnodes, { pve1: 1, pve2: 1 });
    assert.deepEqual(run.subnets.ids["crossite-10.1.1.0-24"], {
      type: "subnet",
      vnet: "crossvnt",
      gateway: "10.1.1.1",
      snat: 1,
    });
  });

  it("applies with a reloadnetworkall UPID, reloads every node in its own srvreload task and marks zones available", async () => {
    await seedSdn(h);
    const upid = await h.ok<string>("PUT", "/cluster/sdn");
    assert.match(upid, /^UPID:pve1:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:reloadnetworkall::root@pam!fabric:$/);
    const st = await h.waitTask(upid);
    assert.equal(st.exitstatus, "OK");
    assert.equal(st.type, "reloadnetworkall");
    const log = await h.ok<{ n: number; t: string }[]>(
      "GET",
      `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`,
    );
    assert.deepEqual(
      log.map((l) => l.t),
      ["pve1: reloading network config", "pve2: reloading network config", "TASK OK"],
    );
    const reloads = await h.ok<Obj[]>("GET", "/nodes/pve2/tasks", { typefilter: "srvreload" });
    assert.deepEqual(
      reloads.map((t) => [t.type, t.id, t.status]),
      [["srvreload", "networking", "OK"]],
    );
    assert.deepEqual(await h.ok("GET", "/nodes/pve1/sdn/zones"), [{ zone: "crossite", status: "available" }]);
    assert.deepEqual(await h.ok("GET", "/nodes/pve2/sdn/zones/crossite/content"), [
      { vnet: "crossvnt", status: "available" },
    ]);
  });

  it("answers an unknown task with 400 'no such task'", async () => {
    const r = await h.call(
      "GET",
      `/nodes/pve1/tasks/${encodeURIComponent("UPID:pve1:00000001:00000001:00000001:x::root@pam:")}/status`,
    );
    assert.equal(r.status, 400);
    assert.deepEqual(r.body?.errors, { upid: "no such task" });
  });

  it("calls the realisation hook once per node with the running config", async () => {
    const calls: [string, number][] = [];
    const r = await startHarness({ realize: async (node, cfg) => void calls.push([node, cfg.version]) });
    try {
      await seedSdn(r);
      await applySdn(r);
      await applySdn(r);
      assert.deepEqual(calls, [
        ["pve1", 1],
        ["pve2", 1],
        ["pve1", 2],
        ["pve2", 2],
      ]);
    } finally {
      await r.close();
    }
  });

  it("validates zone and vnet ids with the ≤9.1 format messages", async () => {
    const long = await h.call("POST", "/cluster/sdn/zones", { zone: "crosssite9", type: "simple" });
    assert.deepEqual(long.body?.errors, {
      zone: "invalid format - zone ID 'crosssite9' can't be more length than 8 characters",
    });
    const dash = await h.call("POST", "/cluster/sdn/vnets", { vnet: "v_1", zone: "z1" });
    assert.deepEqual(dash.body?.errors, {
      vnet: "invalid format - vnet ID 'v_1' contains illegal characters",
    });
  });

  it("refuses options of another zone type and missing required ones as 500s", async () => {
    const dhcp = await h.call("POST", "/cluster/sdn/zones", {
      zone: "z1",
      type: "evpn",
      controller: "c",
      "vrf-vxlan": 1,
      dhcp: "dnsmasq",
    });
    assert.equal(dhcp.status, 500);
    assert.equal(dhcp.body?.message, "unexpected property 'dhcp'\n");
    const missing = await h.call("POST", "/cluster/sdn/zones", { zone: "z1", type: "evpn", controller: "c" });
    assert.equal(missing.body?.message, "missing value for required option 'vrf-vxlan'\n");
  });

  it("enforces one EVPN controller, an existing evpn controller and unique vrf-vxlan", async () => {
    await seedSdn(h);
    const two = await h.call("POST", "/cluster/sdn/controllers", {
      type: "evpn",
      controller: "other",
      asn: 65001,
      peers: "10.0.0.1",
    });
    assert.equal(two.status, 500);
    assert.equal(
      two.body?.message,
      "create sdn controller object failed: only 1 global evpn controller can be defined at /usr/share/perl5/PVE/Network/SDN/Controllers/EvpnPlugin.pm line 491.\n",
    );
    assert.equal(
      two.reason,
      "create sdn controller object failed: only 1 global evpn controller can be defined at /usr/share/perl5/PVE/Network/SDN/Controllers/EvpnPlugin.pm line 491.",
    );
    const noCtl = await h.call("POST", "/cluster/sdn/zones", {
      type: "evpn",
      zone: "z2",
      controller: "ghost",
      "vrf-vxlan": 5,
    });
    assert.equal(
      noCtl.body?.message,
      "create sdn zone object failed: controller ghost don't exist at /usr/share/perl5/PVE/Network/SDN/Zones/EvpnPlugin.pm line 354.\n",
    );
    const dup = await h.call("POST", "/cluster/sdn/zones", {
      type: "evpn",
      zone: "z2",
      controller: "evpnctl",
      "vrf-vxlan": 99999,
    });
    assert.equal(
      dup.body?.message,
      "create sdn zone object failed: vrf-vxlan 99999 is already declared in crossite at /usr/share/perl5/PVE/Network/SDN/Zones/EvpnPlugin.pm line 366.\n",
    );
  });

  it("on 9.x requires exactly one of peers / fabric on the EVPN controller", async () => {
    const r = await h.call("POST", "/cluster/sdn/controllers", {
      type: "evpn",
      controller: "c1",
      asn: 65000,
    });
    assert.equal(
      r.body?.message,
      "create sdn controller object failed: must have exactly one of peers / fabric defined at /usr/share/perl5/PVE/Network/SDN/Controllers/EvpnPlugin.pm line 496.\n",
    );
  });

  it("requires unique VNIs and re-throws the param exception as a 500 with the field in later lines", async () => {
    await seedSdn(h);
    const missing = await h.call("POST", "/cluster/sdn/vnets", { vnet: "v2", zone: "crossite" });
    assert.equal(missing.status, 500);
    assert.equal(missing.reason, "create sdn vnet object failed: 400 Parameter verification failed.");
    assert.equal(
      missing.body?.message,
      "create sdn vnet object failed: 400 Parameter verification failed.\ntag: missing vxlan tag\n",
    );
    const dup = await h.call("POST", "/cluster/sdn/vnets", { vnet: "v2", zone: "crossite", tag: 100000 });
    assert.equal(
      dup.body?.message,
      "create sdn vnet object failed: 400 Parameter verification failed.\ntag: vxlan tag 100000 already exist in vnet crossvnt in zone crossite \n",
    );
    const range = await h.call("POST", "/cluster/sdn/vnets", { vnet: "v2", zone: "crossite", tag: 16777216 });
    assert.deepEqual(range.body?.errors, { tag: "value must have a maximum value of 16777215" });
  });

  it("refuses a gateway outside the subnet and an object id defined twice", async () => {
    await seedSdn(h);
    const gw = await h.call("POST", "/cluster/sdn/vnets/crossvnt/subnets", {
      type: "subnet",
      subnet: "10.1.2.0/24",
      gateway: "10.1.3.1",
    });
    assert.equal(
      gw.body?.message,
      "create sdn subnet object failed: 400 Parameter verification failed.\ngateway: 10.1.3.1 is not in subnet 10.1.2.0/24\n",
    );
    const again = await h.call("POST", "/cluster/sdn/vnets/crossvnt/subnets", {
      type: "subnet",
      subnet: "10.1.1.0/24",
    });
    assert.equal(
      again.body?.message,
      "create sdn subnet object failed: sdn subnet object ID 'crossite-10.1.1.0-24' already defined\n",
    );
    const zone = await h.call("POST", "/cluster/sdn/zones", { type: "simple", zone: "crossite" });
    assert.equal(
      zone.body?.message,
      "create sdn zone object failed: sdn zone object ID 'crossite' already defined\n",
    );
  });

  it("refuses deletes out of order: subnet → vnet → zone → controller", async () => {
    await seedSdn(h);
    const vnet = await h.call("DELETE", "/cluster/sdn/vnets/crossvnt");
    assert.equal(
      vnet.body?.message,
      "delete sdn vnet object failed: 400 Parameter verification failed.\nvnet: Can't delete vnet if subnets exists\n",
    );
    const zone = await h.call("DELETE", "/cluster/sdn/zones/crossite");
    assert.equal(
      zone.body?.message,
      "delete sdn zone object failed: zone crossite is used by vnet crossvnt at /usr/share/perl5/PVE/Network/SDN/Zones/Plugin.pm line 148.\n",
    );
    const ctl = await h.call("DELETE", "/cluster/sdn/controllers/evpnctl");
    assert.equal(
      ctl.body?.message,
      "delete sdn controller object failed: controller evpnctl is used by crossite at /usr/share/perl5/PVE/Network/SDN/Controllers/EvpnPlugin.pm line 475.\n",
    );
    await h.ok("DELETE", "/cluster/sdn/vnets/crossvnt/subnets/crossite-10.1.1.0-24");
    await h.ok("DELETE", "/cluster/sdn/vnets/crossvnt");
    await h.ok("DELETE", "/cluster/sdn/zones/crossite");
    await h.ok("DELETE", "/cluster/sdn/controllers/evpnctl");
    assert.deepEqual(await h.ok("GET", "/cluster/sdn/zones"), []);
  });

  it("answers a missing object with 500 'does not exist'", async () => {
    const z = await h.call("GET", "/cluster/sdn/zones/nozone");
    assert.equal(z.status, 500);
    assert.equal(z.reason, "sdn 'nozone' does not exist");
    const v = await h.call("GET", "/cluster/sdn/vnets/novnet");
    assert.equal(v.body?.message, "sdn vnet 'novnet' does not exist\n");
  });

  it("guards updates with the whole-file digest and refuses set+delete of one key", async () => {
    await seedSdn(h);
    const { digest } = await h.ok<Obj>("GET", "/cluster/sdn/zones/crossite");
    await h.ok("PUT", "/cluster/sdn/zones/crossite", { mtu: 1380, digest: String(digest) });
    const stale = await h.call("PUT", "/cluster/sdn/zones/crossite", { mtu: 1390, digest: String(digest) });
    assert.equal(stale.status, 500);
    assert.equal(
      stale.body?.message,
      "update sdn zone object failed: detected modified configuration - file changed by other user? Try again.\n",
    );
    const both = await h.call("PUT", "/cluster/sdn/zones/crossite", { mtu: 1390, delete: "mtu" });
    assert.equal(
      both.body?.message,
      "update sdn zone object failed: cannot set and delete property 'mtu' at the same time!\n",
    );
    const req = await h.call("PUT", "/cluster/sdn/zones/crossite", { delete: "controller" });
    assert.equal(
      req.body?.message,
      "update sdn zone object failed: unable to delete required option 'controller'\n",
    );
  });

  it("9.x lock: token required for every SDN write, apply with token releases it, force breaks it", async () => {
    const token = await h.ok<string>("POST", "/cluster/sdn/lock");
    assert.match(token, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const denied = await h.call("POST", "/cluster/sdn/controllers", {
      type: "evpn",
      controller: "evpnctl",
      asn: 65000,
      peers: "10.1.0.1",
    });
    assert.equal(denied.status, 500);
    assert.equal(
      denied.body?.message,
      "create sdn controller object failed: invalid lock token provided! at /usr/share/perl5/PVE/Network/SDN.pm line 291.\n",
    );
    await h.ok("POST", "/cluster/sdn/controllers", {
      type: "evpn",
      controller: "evpnctl",
      asn: 65000,
      peers: "10.1.0.1",
      "lock-token": token,
    });
    const noTokenApply = await h.call("PUT", "/cluster/sdn");
    assert.equal(
      noTokenApply.body?.message,
      "could not commit SDN config: invalid lock token provided! at /usr/share/perl5/PVE/Network/SDN.pm line 291.\n",
    );
    await h.waitTask(await h.ok<string>("PUT", "/cluster/sdn", { "lock-token": token }));
    await h.ok("POST", "/cluster/sdn/zones", { type: "simple", zone: "free" }); // lock released by the apply
    const second = await h.call("POST", "/cluster/sdn/lock");
    assert.equal(
      second.body?.message,
      "could not acquire lock for SDN config: configuration has pending changes at /usr/share/perl5/PVE/API2/Network/SDN.pm line 175.\n",
    );
    await h.ok<string>("POST", "/cluster/sdn/lock", { "allow-pending": 1 });
    const stale = await h.call("DELETE", "/cluster/sdn/lock");
    assert.equal(stale.status, 500);
    await h.ok("DELETE", "/cluster/sdn/lock", { force: 1 });
    await h.ok("POST", "/cluster/sdn/zones", { type: "simple", zone: "free2" });
  });

  it("9.x rollback restores the pending files from the running snapshot", async () => {
    await seedSdn(h);
    await applySdn(h);
    await h.ok("PUT", "/cluster/sdn/zones/crossite", { mtu: 1300 });
    await h.ok("POST", "/cluster/sdn/rollback");
    assert.equal((await h.ok<Obj>("GET", "/cluster/sdn/zones/crossite")).mtu, 1370);
    assert.deepEqual(
      (await h.ok<Obj[]>("GET", "/cluster/sdn/zones", { pending: 1 })).map((z) => z.state),
      [undefined],
    );
  });

  it("serialises concurrent applies: the second worker starts after the first ends", async () => {
    const order: string[] = [];
    const r = await startHarness({
      realize: async (node, cfg) => {
        order.push(`start ${cfg.version} ${node}`);
        await new Promise((res) => setTimeout(res, 30));
        order.push(`end ${cfg.version} ${node}`);
      },
    });
    try {
      await seedSdn(r);
      const [a, b] = await Promise.all([
        r.ok<string>("PUT", "/cluster/sdn"),
        r.ok<string>("PUT", "/cluster/sdn"),
      ]);
      await r.waitTask(a);
      await r.waitTask(b);
      assert.deepEqual(order, [
        "start 1 pve1",
        "end 1 pve1",
        "start 1 pve2",
        "end 1 pve2",
        "start 2 pve1",
        "end 2 pve1",
        "start 2 pve2",
        "end 2 pve2",
      ]);
    } finally {
      await r.close();
    }
  });
});
