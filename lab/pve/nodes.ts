// Cluster/node discovery, node network, tasks and a minimal QEMU VM surface (reference §4, §5).
// VM "hardware" goes through the pluggable `vmBackend`; the default only records state.
import { die, PveError } from "./errors";
import { bool, nodeName, optInt, optStr, type Schema, type Spec } from "./schema";
import type { Ctx, Emulator, Route } from "./server";
import { sha1, type FwValue, type Task, type Vm } from "./state";

const NETWORK_TYPES_8 = [
  "bridge",
  "bond",
  "eth",
  "alias",
  "vlan",
  "OVSBridge",
  "OVSBond",
  "OVSPort",
  "OVSIntPort",
  "vnet",
  "any_bridge",
  "any_local_bridge",
];
const nodePath: Schema = { node: nodeName };

function nodeInterfaces(
  emu: Emulator,
  node: string,
  type: string | undefined,
  includeSdn: boolean,
): Record<string, unknown>[] {
  const ip = emu.node(node).ip;
  const base: Record<string, unknown>[] = [
    {
      iface: "eth0",
      type: "eth",
      active: 1,
      exists: 1,
      method: "manual",
      method6: "manual",
      families: ["inet"],
      priority: 3,
    },
    {
      iface: "vmbr0",
      type: "bridge",
      active: 1,
      autostart: 1,
      method: "static",
      method6: "manual",
      address: ip,
      netmask: "24",
      cidr: `${ip}/24`,
      bridge_ports: "eth0",
      bridge_stp: "off",
      bridge_fd: "0",
      families: ["inet"],
      priority: 4,
    },
  ];
  const vnets = deployedVnets(emu, node).map((v) => ({
    iface: v,
    type: "vnet",
    active: 1,
    method: "manual",
    method6: "manual",
    families: ["inet"],
  }));
  if (type === "vnet") return vnets;
  if (type === "any_bridge") return [...base.filter((i) => i.type === "bridge"), ...vnets];
  if (type === "any_local_bridge" || type === "bridge") return base.filter((i) => i.type === "bridge");
  if (type !== undefined) return base.filter((i) => i.type === type);
  return includeSdn ? [...base, ...vnets] : base;
}

/** Vnets of the running config whose zone is deployed on `node`. */
export function deployedVnets(emu: Emulator, node: string): string[] {
  const run = emu.state.running;
  return Object.keys(run.vnets.ids)
    .sort()
    .filter((v) => {
      const z = run.zones.ids[String(run.vnets.ids[v].zone)];
      return z && (z.nodes === undefined || (typeof z.nodes === "object" && node in z.nodes));
    });
}

function taskView(t: Task): Record<string, unknown> {
  const view: Record<string, unknown> = { ...t };
  delete view.log;
  return view;
}

function taskOf(ctx: Ctx): Task {
  const upid = String(ctx.params.upid);
  if (!/^UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[^:]+:[^:]*:[^:]+:$/.test(upid))
    throw new PveError(400, "Parameter verification failed.\n", { upid: "unable to parse worker upid" });
  const t = ctx.emu.findTask(upid);
  if (!t || t.node !== ctx.params.node)
    throw new PveError(400, "Parameter verification failed.\n", { upid: "no such task" });
  return t;
}

// ---- QEMU ----
const vmidSpec: Spec = { type: "integer", minimum: 100, maximum: 999999999 };
function qemuCreateSchema(): Schema {
  const s: Schema = {
    node: nodeName,
    vmid: vmidSpec,
    name: optStr({ pattern: "[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?" }),
    memory: optStr(),
    cores: optInt(1),
    sockets: optInt(1),
    cpu: optStr(),
    ostype: optStr(),
    scsihw: optStr(),
    boot: optStr(),
    ciuser: optStr(),
    cipassword: optStr(),
    sshkeys: optStr(),
    nameserver: optStr(),
    searchdomain: optStr(),
    vga: optStr(),
    agent: optStr(),
    start: bool,
    description: optStr(),
    tags: optStr(),
    onboot: bool,
  };
  for (let i = 0; i < 10; i++)
    Object.assign(s, {
      [`net${i}`]: optStr(),
      [`ipconfig${i}`]: optStr(),
      [`scsi${i}`]: optStr(),
      [`virtio${i}`]: optStr(),
      [`serial${i % 4}`]: optStr(),
    });
  for (let i = 0; i < 4; i++) Object.assign(s, { [`ide${i}`]: optStr(), [`sata${i}`]: optStr() });
  return s;
}
const vmPath: Schema = { node: nodeName, vmid: vmidSpec };

function vmOf(ctx: Ctx): Vm {
  const vm = ctx.emu.state.vms[String(ctx.params.vmid)];
  if (!vm || vm.node !== ctx.params.node)
    die(`Configuration file 'nodes/${ctx.params.node}/qemu-server/${ctx.params.vmid}.conf' does not exist`);
  return vm;
}

/** qmstart refuses a NIC whose bridge does not exist on the node (vnet bridges exist only after apply). */
function checkBridges(emu: Emulator, vm: Vm): void {
  const bridges = new Set(["vmbr0", ...deployedVnets(emu, vm.node)]);
  for (const [k, v] of Object.entries(vm.config)) {
    if (!/^net\d+$/.test(k)) continue;
    const bridge = /(?:^|,)bridge=([^,]+)/.exec(String(v))?.[1];
    if (bridge && !bridges.has(bridge)) throw new Error(`bridge '${bridge}' does not exist`);
  }
}

async function startVm(emu: Emulator, vm: Vm): Promise<void> {
  checkBridges(emu, vm);
  await emu.vmBackend.start(vm.node, vm.vmid, vm.config);
  vm.status = "running";
  emu.save();
}

export function nodeRoutes(): Route[] {
  const r: Route[] = [];
  r.push({
    method: "GET",
    path: "/",
    schema: () => ({}),
    handler: () =>
      ["version", "cluster", "nodes", "storage", "access", "pools"].map((subdir) => ({ subdir })),
  });
  r.push({
    method: "GET",
    path: "/version",
    schema: () => ({}),
    handler: ({ emu }) => ({ ...emu.versionInfo, console: "xtermjs" }),
  });
  r.push({
    method: "GET",
    path: "/nodes",
    schema: () => ({}),
    handler: ({ emu }) =>
      emu.nodes.map((n) => {
        const online = emu.isOnline(n.name);
        return {
          node: n.name,
          id: `node/${n.name}`,
          type: "node",
          status: online ? "online" : "offline",
          level: "",
          ssl_fingerprint: emu.fingerprint ?? "",
          ...(online
            ? {
                cpu: 0.01,
                maxcpu: 4,
                mem: 2147483648,
                maxmem: 8589934592,
                uptime: 3600,
                disk: 0,
                maxdisk: 34359738368,
              }
            : {}),
        };
      }),
  });
  r.push({
    method: "GET",
    path: "/nodes/{node}",
    proxied: true,
    schema: () => nodePath,
    handler: () =>
      ["network", "firewall", "tasks", "qemu", "sdn", "status", "version"].map((subdir) => ({ subdir })),
  });
  r.push({
    method: "GET",
    path: "/cluster/status",
    schema: () => ({}),
    handler: ({ emu }) => {
      const online = emu.nodes.filter((n) => emu.isOnline(n.name)).length;
      const nodes = emu.nodes.map((n, i) => ({
        type: "node",
        id: `node/${n.name}`,
        name: n.name,
        nodeid: i + 1,
        ip: n.ip,
        online: emu.isOnline(n.name) ? 1 : 0,
        local: i === 0 ? 1 : 0,
        level: "",
      }));
      // A standalone node reports no cluster entry (reference §4).
      if (emu.nodes.length === 1) return nodes;
      return [
        {
          type: "cluster",
          id: "cluster",
          name: emu.options.site,
          nodes: emu.nodes.length,
          quorate: online * 2 > emu.nodes.length ? 1 : 0,
          version: 1 + emu.nodes.length,
        },
        ...nodes,
      ];
    },
  });
  r.push({
    method: "GET",
    path: "/cluster/nextid",
    schema: () => ({ vmid: optInt(100) }),
    handler: ({ emu }) => {
      let id = 100;
      while (emu.state.vms[id]) id++;
      return String(id);
    },
  });

  r.push({
    method: "GET",
    path: "/nodes/{node}/network",
    proxied: true,
    schema: (v) => ({
      node: nodeName,
      type: optStr({
        enum: v.startsWith("9") ? [...NETWORK_TYPES_8, "fabric", "include_sdn"] : NETWORK_TYPES_8,
      }),
    }),
    handler: ({ emu, params }) => {
      const t = params.type === "include_sdn" ? undefined : (params.type as string | undefined);
      return nodeInterfaces(emu, String(params.node), t, params.type === "include_sdn");
    },
  });
  r.push({
    method: "PUT",
    path: "/nodes/{node}/network",
    proxied: true,
    schema: (v) => ({ node: nodeName, ...(v.startsWith("9") ? { "regenerate-frr": bool } : {}) }),
    handler: ({ emu, params, user }) =>
      emu.startTask(String(params.node), "srvreload", "networking", user, async () => {
        const node = String(params.node);
        const injected = emu.readFaults().reloadFail?.[node];
        if (injected !== undefined) throw new Error(injected);
        await emu.realize(node, emu.runningConfig());
        emu.state.nodeSdn[node] = { version: emu.state.running.version, failed: false };
      }),
  });

  // Tasks
  r.push({
    method: "GET",
    path: "/nodes/{node}/tasks",
    proxied: true,
    schema: () => ({
      node: nodeName,
      typefilter: optStr(),
      since: optInt(0),
      until: optInt(0),
      source: optStr({ enum: ["archive", "active", "all"] }),
      errors: bool,
      limit: optInt(0),
      start: optInt(0),
      userfilter: optStr(),
      vmid: optInt(),
      statusfilter: optStr(),
    }),
    handler: ({ emu, params }) => {
      let list = emu.state.tasks.filter((t) => t.node === params.node);
      if (params.typefilter) list = list.filter((t) => t.type === params.typefilter);
      if (params.since !== undefined) list = list.filter((t) => t.starttime >= Number(params.since));
      if (params.source === "active") list = list.filter((t) => t.status === "running");
      else if (params.source !== "all") list = list.filter((t) => t.status === "stopped");
      if (params.errors === 1) list = list.filter((t) => t.exitstatus !== "OK");
      list = [...list]
        .reverse()
        .slice(Number(params.start ?? 0), Number(params.start ?? 0) + Number(params.limit || 50));
      return list.map((t) => ({
        upid: t.upid,
        node: t.node,
        pid: t.pid,
        pstart: t.pstart,
        starttime: t.starttime,
        type: t.type,
        id: t.id,
        user: t.user,
        ...(t.status === "stopped" ? { status: t.exitstatus, endtime: t.endtime } : {}),
      }));
    },
  });
  r.push({
    method: "GET",
    path: "/nodes/{node}/tasks/{upid}",
    proxied: true,
    schema: () => ({ node: nodeName, upid: { type: "string" } }),
    handler: (ctx) => (taskOf(ctx), [{ name: "log" }, { name: "status" }]),
  });
  r.push({
    method: "GET",
    path: "/nodes/{node}/tasks/{upid}/status",
    proxied: true,
    schema: () => ({ node: nodeName, upid: { type: "string" } }),
    handler: (ctx) => taskView(taskOf(ctx)),
  });
  r.push({
    method: "GET",
    path: "/nodes/{node}/tasks/{upid}/log",
    proxied: true,
    schema: () => ({
      node: nodeName,
      upid: { type: "string" },
      start: optInt(0),
      limit: optInt(0),
      download: bool,
    }),
    handler: (ctx) => {
      const t = taskOf(ctx);
      const start = Number(ctx.params.start ?? 0);
      const limit = Number(ctx.params.limit ?? 50);
      const lines = t.log.length > 0 ? t.log : ["no content"];
      return lines.slice(start, start + limit).map((text, i) => ({ n: start + i + 1, t: text }));
    },
  });
  r.push({
    method: "DELETE",
    path: "/nodes/{node}/tasks/{upid}",
    proxied: true,
    schema: () => ({ node: nodeName, upid: { type: "string" } }),
    handler: (ctx) => {
      const t = taskOf(ctx);
      if (t.status === "running")
        Object.assign(t, {
          status: "stopped",
          exitstatus: "unexpected status",
          endtime: Math.floor(Date.now() / 1000),
        });
      ctx.emu.save();
      return null;
    },
  });

  // QEMU
  r.push({
    method: "GET",
    path: "/nodes/{node}/qemu",
    proxied: true,
    schema: () => ({ node: nodeName, full: bool }),
    handler: ({ emu, params }) =>
      Object.values(emu.state.vms)
        .filter((v) => v.node === params.node)
        .map((v) => ({ vmid: v.vmid, name: v.config.name, status: v.status })),
  });
  r.push({
    method: "POST",
    path: "/nodes/{node}/qemu",
    proxied: true,
    schema: qemuCreateSchema,
    handler: ({ emu, params, user }) => {
      const vmid = Number(params.vmid);
      const node = String(params.node);
      const existing = emu.state.vms[vmid];
      if (existing) die(`unable to create VM ${vmid} - VM ${vmid} already exists on node '${existing.node}'`);
      const config: Record<string, FwValue> = {};
      for (const [k, v] of Object.entries(params))
        if (!["node", "vmid", "start"].includes(k)) config[k] = v as FwValue;
      const vm: Vm = { vmid, node, config, status: "stopped" };
      emu.state.vms[vmid] = vm;
      emu.save();
      return emu.startTask(node, "qmcreate", String(vmid), user, async (log) => {
        try {
          await emu.vmBackend.create(node, vmid, config);
        } catch (e) {
          delete emu.state.vms[vmid];
          throw e;
        }
        if (params.start === 1) {
          log(`starting VM ${vmid}`);
          await startVm(emu, vm);
        }
      });
    },
  });
  r.push({
    method: "GET",
    path: "/nodes/{node}/qemu/{vmid}/config",
    proxied: true,
    schema: () => ({ ...vmPath, current: bool, snapshot: optStr() }),
    handler: (ctx) => {
      const vm = vmOf(ctx);
      const cfg: Record<string, FwValue> = { ...vm.config };
      // PVE never returns the cloud-init password.
      if (cfg.cipassword !== undefined) cfg.cipassword = "**********";
      return { ...cfg, digest: sha1(JSON.stringify(vm.config)) };
    },
  });
  // PUT applies synchronously (returns null), POST through a `qmconfig` task (returns a UPID), as on PVE.
  // Deviation: options change in the stored config at once, also on a running VM (no pending section, no
  // hotplug): the VM backend sees them at the next start.
  const configSchema = (): Schema => {
    const options = qemuCreateSchema();
    delete options.start; // create-only
    return {
      ...options,
      digest: optStr({ maxLength: 40 }),
      delete: optStr(),
      revert: optStr(),
    };
  };
  const updateConfig = (ctx: Ctx) => {
    const vm = vmOf(ctx);
    if (ctx.params.digest !== undefined && ctx.params.digest !== sha1(JSON.stringify(vm.config)))
      die("detected modified configuration - file changed by other user? Try again.");
    const deletes =
      ctx.params.delete === undefined
        ? []
        : String(ctx.params.delete)
            .split(/[,; ]+/)
            .filter(Boolean);
    const config = { ...vm.config };
    for (const [k, v] of Object.entries(ctx.params)) {
      if (["node", "vmid", "digest", "delete", "revert"].includes(k)) continue;
      if (deletes.includes(k))
        throw new PveError(400, "Parameter verification failed.\n", {
          [k]: "can't set and delete the same option",
        });
      config[k] = v as FwValue;
    }
    for (const k of deletes) delete config[k];
    return { vm, config };
  };
  r.push({
    method: "PUT",
    path: "/nodes/{node}/qemu/{vmid}/config",
    proxied: true,
    schema: configSchema,
    handler: (ctx) => {
      const { vm, config } = updateConfig(ctx);
      vm.config = config;
      ctx.emu.save();
      return null;
    },
  });
  r.push({
    method: "POST",
    path: "/nodes/{node}/qemu/{vmid}/config",
    proxied: true,
    schema: configSchema,
    handler: (ctx) => {
      const { vm, config } = updateConfig(ctx);
      return ctx.emu.startTask(vm.node, "qmconfig", String(vm.vmid), ctx.user, async () => {
        vm.config = config;
        ctx.emu.save();
      });
    },
  });
  r.push({
    method: "GET",
    path: "/nodes/{node}/qemu/{vmid}/status/current",
    proxied: true,
    schema: () => vmPath,
    handler: (ctx) => {
      const vm = vmOf(ctx);
      return {
        vmid: vm.vmid,
        name: vm.config.name,
        status: vm.status,
        qmpstatus: vm.status,
        cpus: Number(vm.config.cores ?? 1),
        maxmem: Number(String(vm.config.memory ?? "512").replace(/^current=/, "")) * 1048576,
        uptime: 0,
        ha: { managed: 0 },
      };
    },
  });
  r.push({
    method: "POST",
    path: "/nodes/{node}/qemu/{vmid}/status/start",
    proxied: true,
    schema: () => ({ ...vmPath, timeout: optInt(0) }),
    handler: (ctx) => {
      const vm = vmOf(ctx);
      return ctx.emu.startTask(vm.node, "qmstart", String(vm.vmid), ctx.user, async () => {
        if (vm.status === "running") throw new Error(`VM ${vm.vmid} already running`);
        await startVm(ctx.emu, vm);
      });
    },
  });
  r.push({
    method: "POST",
    path: "/nodes/{node}/qemu/{vmid}/status/stop",
    proxied: true,
    schema: () => ({ ...vmPath, timeout: optInt(0), skiplock: bool, keepActive: bool }),
    handler: (ctx) => {
      const vm = vmOf(ctx);
      return ctx.emu.startTask(vm.node, "qmstop", String(vm.vmid), ctx.user, async () => {
        await ctx.emu.vmBackend.stop(vm.node, vm.vmid);
        vm.status = "stopped";
        ctx.emu.save();
      });
    },
  });
  r.push({
    method: "DELETE",
    path: "/nodes/{node}/qemu/{vmid}",
    proxied: true,
    schema: () => ({ ...vmPath, purge: bool, "destroy-unreferenced-disks": bool, skiplock: bool }),
    handler: (ctx) => {
      const vm = vmOf(ctx);
      if (vm.status === "running") die(`VM ${vm.vmid} is running - destroy failed`);
      return ctx.emu.startTask(vm.node, "qmdestroy", String(vm.vmid), ctx.user, async () => {
        await ctx.emu.vmBackend.destroy(vm.node, vm.vmid);
        delete ctx.emu.state.vms[vm.vmid];
        ctx.emu.save();
      });
    },
  });
  return r;
}
