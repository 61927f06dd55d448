// The sdntest VM provider against the PVE emulator (API side; the emulator records VMs, no guest runs).
import { strict as assert } from "assert";
import { methods } from "../../providers/pve/ops";
import { seedAppliedVnet, startLab, type Lab } from "./pve-helpers";

const vm = methods("test-vm");

describe("PVE test VM provider (emulator)", function () {
  this.timeout(60_000);
  let lab: Lab;
  beforeEach(async () => (lab = await startLab()));
  afterEach(async () => lab.close());

  const vmIn = (extra: Record<string, unknown> = {}) => ({
    api: lab.api,
    node: "pve1",
    vmid: 9001,
    name: "sdntest-roz",
    vnet: "crossvnt",
    address: "10.1.1.10/24",
    gateway: "10.1.1.1",
    ...extra,
  });

  it("refuses a gateway outside the VM's subnet in check", async () => {
    const { failures } = await vm.check({}, vmIn({ gateway: "10.9.9.1" }));
    assert.deepEqual(
      failures.map((f: { property: string }) => f.property),
      ["gateway"],
    );
  });

  it("before the vnet is applied: create fails naming the node and the missing bridge, and leaves no VM", async () => {
    const { inputs } = await vm.check({}, vmIn());
    await assert.rejects(
      vm.create(inputs),
      /Unable to create test VM 'pve1\/9001' on roz: task qmcreate on node pve1 failed: bridge 'crossvnt' does not exist/,
    );
    assert.equal(await lab.client.nodes.qemu.config("pve1", 9001), undefined);
  });

  it("creates two NICs with the cloud-init address, no-ops without writes, recreates on change or when deleted by hand, and deletes", async () => {
    await seedAppliedVnet(lab);
    const { inputs, failures } = await vm.check({}, vmIn());
    assert.deepEqual(failures, []);
    const { id, outs } = await vm.create(inputs);
    assert.equal(id, "pve1/9001");
    const cfg = await lab.client.nodes.qemu.config("pve1", 9001);
    assert.deepEqual(
      { net0: cfg?.net0, net1: cfg?.net1, ipconfig0: cfg?.ipconfig0, ipconfig1: cfg?.ipconfig1 },
      {
        net0: "virtio,bridge=crossvnt",
        net1: "virtio,bridge=vmbr0",
        ipconfig0: "ip=10.1.1.10/24,gw=10.1.1.1",
        ipconfig1: "ip=dhcp",
      },
    );
    assert.deepEqual(
      { status: outs.liveStatus, vnet: outs.vnet, mgmt: outs.mgmtBridge, memory: outs.memory },
      { status: "running", vnet: "crossvnt", mgmt: "vmbr0", memory: 512 },
    );
    lab.writesSince();
    assert.deepEqual(await vm.diff(id, outs, inputs), { changes: false });
    assert.equal(lab.writesSince(), 0);

    const moved = (await vm.check({}, vmIn({ address: "10.1.1.11/24" }))).inputs;
    assert.equal((await vm.diff(id, outs, moved)).changes, true);
    const up = await vm.update(id, outs, moved);
    assert.equal(up.outs.address, "10.1.1.11/24");
    assert.equal(lab.writesSince(), 3, "stop, destroy, create");

    await lab.client.nodes.tasks.wait(await lab.client.nodes.qemu.stop("pve1", 9001));
    await lab.client.nodes.tasks.wait(await lab.client.nodes.qemu.destroy("pve1", 9001));
    assert.deepEqual(await vm.read(id, up.outs), { id: "", props: {} });
    assert.equal((await vm.diff(id, up.outs, moved)).changes, true);
    const back = await vm.update(id, up.outs, moved);
    assert.equal(back.outs.liveStatus, "running");

    await vm.delete(id, back.outs);
    assert.equal(await lab.client.nodes.qemu.config("pve1", 9001), undefined);
  });

  it("import/refresh: reads a VM that exists in PVE", async () => {
    await seedAppliedVnet(lab);
    await lab.client.nodes.tasks.wait(
      await lab.client.nodes.qemu.create("pve1", {
        vmid: 9002,
        name: "byhand",
        net0: "virtio,bridge=crossvnt",
        net1: "virtio,bridge=vmbr0",
        ipconfig0: "ip=10.1.1.20/24,gw=10.1.1.1",
        ipconfig1: "ip=dhcp",
        memory: 1024,
      }),
    );
    const r = await vm.read("pve1/9002", vmIn({ vmid: 9002 }));
    assert.deepEqual(
      {
        id: r.id,
        name: r.props.name,
        address: r.props.address,
        memory: r.props.memory,
        status: r.props.liveStatus,
      },
      { id: "pve1/9002", name: "byhand", address: "10.1.1.20/24", memory: 1024, status: "stopped" },
    );
    // A config edit made through the client's setConfig is what the provider reads back next.
    await lab.client.nodes.qemu.setConfig("pve1", 9002, { memory: 2048, delete: "ipconfig1" });
    const cfg = await lab.client.nodes.qemu.config("pve1", 9002);
    assert.deepEqual([cfg?.memory, cfg?.ipconfig1], ["2048", undefined]);
    assert.equal((await vm.read("pve1/9002", vmIn({ vmid: 9002 }))).props.memory, 2048);
  });
});
