// Fault injection, persistence across restarts, the CLI entry point, and the VM surface.
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createEmulator } from "../../lab/pve/server";
import { applySdn, request, seedSdn, startHarness, TOKEN, type Harness } from "./helpers";

type Obj = Record<string, unknown>;

describe("emulator faults and persistence", () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(async () => h.close());

  it("answers the next apply with 500 'got no worker upid' once, then applies normally", async () => {
    await seedSdn(h);
    h.emu.faults.set({ applyNoWorker: 1 });
    const r = await h.call("PUT", "/cluster/sdn");
    assert.equal(r.status, 500);
    assert.equal(r.reason, "got no worker upid - start worker failed");
    const st = await applySdn(h);
    assert.equal(st.exitstatus, "OK");
    assert.deepEqual(await h.ok("GET", "/nodes/pve2/sdn/zones"), [{ zone: "crossite", status: "available" }]);
  });

  it("a failing node reload leaves the outer task OK but that node's zone in error, with the reason in its task", async () => {
    await seedSdn(h);
    h.emu.faults.set({ reloadFail: { pve2: "ifreload -a failed: vrf_crossite: not supported" } });
    assert.equal((await applySdn(h)).exitstatus, "OK");
    assert.deepEqual(await h.ok("GET", "/nodes/pve1/sdn/zones"), [{ zone: "crossite", status: "available" }]);
    assert.deepEqual(await h.ok("GET", "/nodes/pve2/sdn/zones"), [{ zone: "crossite", status: "error" }]);
    const [task] = await h.ok<Obj[]>("GET", "/nodes/pve2/tasks", { typefilter: "srvreload", errors: 1 });
    assert.equal(task.status, "ifreload -a failed: vrf_crossite: not supported");
    h.emu.faults.set({});
    await applySdn(h);
    assert.deepEqual(await h.ok("GET", "/nodes/pve2/sdn/zones"), [{ zone: "crossite", status: "available" }]);
  });

  it("an offline node: proxied calls answer 595, apply warns and the node stays pending", async () => {
    await seedSdn(h);
    h.emu.faults.set({ offline: ["pve2"] });
    const r = await h.call("GET", "/nodes/pve2/sdn/zones");
    assert.equal(r.status, 595);
    assert.equal(r.reason, "No route to host");
    assert.equal((await h.ok<Obj[]>("GET", "/nodes")).find((n) => n.node === "pve2")!.status, "offline");
    assert.equal((await applySdn(h)).exitstatus, "WARNINGS: 1");
    h.emu.faults.set({});
    assert.deepEqual(await h.ok("GET", "/nodes/pve2/sdn/zones"), [{ zone: "crossite", status: "pending" }]);
  });

  it("adds the configured latency to every answer", async () => {
    h.emu.faults.set({ latencyMs: 150 });
    const t0 = Date.now();
    await h.ok("GET", "/version");
    assert.ok(Date.now() - t0 >= 145, `took ${Date.now() - t0} ms`);
    h.emu.faults.set({});
    const t1 = Date.now();
    await h.ok("GET", "/version");
    assert.ok(Date.now() - t1 < 145, `took ${Date.now() - t1} ms without latency`);
  });

  it("keeps every object across a restart mid-test (SDN pending+running, lock, firewall, tasks, certificate)", async () => {
    await seedSdn(h);
    const upid = await h.ok<string>("PUT", "/cluster/sdn");
    await h.waitTask(upid);
    await h.ok("PUT", "/cluster/sdn/zones/crossite", { mtu: 1400 });
    await h.ok("POST", "/cluster/firewall/ipset", { name: "remote" });
    await h.ok("POST", "/cluster/firewall/rules", { type: "in", action: "ACCEPT", comment: "keep" });
    const token = await h.ok<string>("POST", "/cluster/sdn/lock", { "allow-pending": 1 });
    const fp = h.emu.fingerprint;
    const before = await h.ok<Obj[]>("GET", "/cluster/sdn/zones", { pending: 1 });
    await h.restart();
    assert.equal(h.emu.fingerprint, fp);
    assert.deepEqual(await h.ok("GET", "/cluster/sdn/zones", { pending: 1 }), before);
    assert.equal((await h.ok<Obj>("GET", "/cluster/sdn/zones/crossite", { running: 1 })).mtu, 1370);
    assert.deepEqual(
      (await h.ok<Obj[]>("GET", "/cluster/firewall/rules")).map((r) => r.comment),
      ["keep"],
    );
    assert.deepEqual(
      (await h.ok<Obj[]>("GET", "/cluster/firewall/ipset")).map((s) => s.name),
      ["remote"],
    );
    assert.equal(
      (await h.ok<Obj>("GET", `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`)).exitstatus,
      "OK",
    );
    const denied = await h.call("PUT", "/cluster/sdn/zones/crossite", { mtu: 1300 });
    assert.equal(denied.status, 500); // the lock survived too
    await h.ok("PUT", "/cluster/sdn/zones/crossite", { mtu: 1300, "lock-token": token });
  });

  it("creates, starts, stops and destroys a VM with tasks; start needs the vnet bridge applied", async () => {
    const calls: string[] = [];
    const v = await startHarness({
      vmBackend: {
        create: async (n, id) => void calls.push(`create ${n} ${id}`),
        start: async (n, id) => void calls.push(`start ${n} ${id}`),
        stop: async (n, id) => void calls.push(`stop ${n} ${id}`),
        destroy: async (n, id) => void calls.push(`destroy ${n} ${id}`),
      },
    });
    try {
      await seedSdn(v);
      const params = {
        vmid: 123,
        name: "sdntest",
        memory: 512,
        cores: 1,
        net0: "virtio,bridge=crossvnt",
        net1: "virtio,bridge=vmbr0",
        ipconfig0: "ip=10.1.1.11/24,gw=10.1.1.1",
        cipassword: "pw",
      };
      const create = await v.ok<string>("POST", "/nodes/pve1/qemu", params);
      assert.match(create, /:qmcreate:123:root@pam!fabric:$/);
      assert.equal((await v.waitTask(create)).exitstatus, "OK");
      const again = await v.call("POST", "/nodes/pve1/qemu", params);
      assert.equal(again.body?.message, "unable to create VM 123 - VM 123 already exists on node 'pve1'\n");
      const early = await v.waitTask(await v.ok<string>("POST", "/nodes/pve1/qemu/123/status/start"));
      assert.equal(early.exitstatus, "bridge 'crossvnt' does not exist");
      await applySdn(v);
      assert.equal(
        (await v.waitTask(await v.ok<string>("POST", "/nodes/pve1/qemu/123/status/start"))).exitstatus,
        "OK",
      );
      assert.equal((await v.ok<Obj>("GET", "/nodes/pve1/qemu/123/status/current")).status, "running");
      assert.equal((await v.ok<Obj>("GET", "/nodes/pve1/qemu/123/config")).cipassword, "**********");
      const running = await v.call("DELETE", "/nodes/pve1/qemu/123");
      assert.equal(running.body?.message, "VM 123 is running - destroy failed\n");
      await v.waitTask(await v.ok<string>("POST", "/nodes/pve1/qemu/123/status/stop"));
      await v.waitTask(await v.ok<string>("DELETE", "/nodes/pve1/qemu/123", { purge: 1 }));
      const gone = await v.call("GET", "/nodes/pve1/qemu/123/status/current");
      assert.equal(
        gone.body?.message,
        "Configuration file 'nodes/pve1/qemu-server/123.conf' does not exist\n",
      );
      assert.deepEqual(calls, ["create pve1 123", "start pve1 123", "stop pve1 123", "destroy pve1 123"]);
    } finally {
      await v.close();
    }
  });

  it("edits a VM's config: PUT synchronously, POST as a qmconfig task, digest-checked, one delete list", async () => {
    const v = await startHarness();
    try {
      await v.waitTask(
        await v.ok<string>("POST", "/nodes/pve1/qemu", {
          vmid: 124,
          name: "edit",
          memory: 512,
          ipconfig1: "ip=dhcp",
        }),
      );
      const before = await v.ok<Obj>("GET", "/nodes/pve1/qemu/124/config");
      assert.equal(
        await v.ok("PUT", "/nodes/pve1/qemu/124/config", { memory: 1024, digest: String(before.digest) }),
        null,
      );
      const stale = await v.call("PUT", "/nodes/pve1/qemu/124/config", {
        memory: 2048,
        digest: String(before.digest),
      });
      assert.equal(stale.status, 500);
      assert.equal(
        stale.body?.message,
        "detected modified configuration - file changed by other user? Try again.\n",
      );
      const both = await v.call("PUT", "/nodes/pve1/qemu/124/config", { memory: 2048, delete: "memory" });
      assert.equal(both.status, 400);
      assert.deepEqual(both.body?.errors, { memory: "can't set and delete the same option" });
      const upid = await v.ok<string>("POST", "/nodes/pve1/qemu/124/config", {
        cores: 2,
        delete: "ipconfig1",
      });
      assert.match(upid, /:qmconfig:124:root@pam!fabric:$/);
      assert.equal((await v.waitTask(upid)).exitstatus, "OK");
      const after = await v.ok<Obj>("GET", "/nodes/pve1/qemu/124/config");
      assert.deepEqual(
        [after.memory, after.cores, after.ipconfig1, after.name],
        ["1024", 2, undefined, "edit"],
      );
      const missing = await v.call("PUT", "/nodes/pve1/qemu/999/config", { cores: 1 });
      assert.equal(
        missing.body?.message,
        "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist\n",
      );
    } finally {
      await v.close();
    }
  });
});

describe("emulator entry point (lab/pve/main.ts)", () => {
  it("writes cert.pem and fingerprint, prints ready, serves the token, and exits on SIGTERM", async function () {
    this.timeout(30000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pve-main-"));
    const tokenFile = path.join(dir, "token.json");
    fs.writeFileSync(tokenFile, JSON.stringify(TOKEN));
    // Pick a free port by binding an in-process emulator first and closing it.
    const probe = await createEmulator({
      site: "p",
      stateDir: path.join(dir, "probe"),
      nodes: [{ name: "n", ip: "127.0.0.1" }],
      token: TOKEN,
    });
    const port = probe.port;
    await probe.close();
    const stateDir = path.join(dir, "state");
    const child = spawn(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        "lab/pve/main.ts",
        "--site",
        "wro",
        "--listen",
        `127.0.0.1:${port}`,
        "--state-dir",
        stateDir,
        "--nodes",
        "pve1=10.2.0.1",
        "--pve-version",
        "8.4",
        "--token-file",
        tokenFile,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
        child.on("exit", (c) => reject(new Error(`emulator exited ${c}`)));
      });
      const fp = fs.readFileSync(path.join(stateDir, "fingerprint"), "utf8").trim();
      assert.match(fp, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      const fake = { port, emulator: { options: { stateDir } } } as unknown as Parameters<typeof request>[0];
      const r = await request(fake, "GET", "/version");
      assert.equal((r.body!.data as Obj).release, "8.4");
      const st = await request(fake, "GET", "/cluster/status");
      assert.deepEqual(st.body!.data, [
        {
          type: "node",
          id: "node/pve1",
          name: "pve1",
          nodeid: 1,
          ip: "10.2.0.1",
          online: 1,
          local: 1,
          level: "",
        },
      ]);
    } finally {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
