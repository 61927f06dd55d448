// The sdntest VM (API side only; what backs it is the lab's business): two NICs — net0 on the vnet with a
// cloud-init address in the site's subnet, net1 on the management bridge — created and started in one
// qmcreate task. The VM is disposable: any change (or drift) recreates it with the same vmid, which needs
// only create/stop/destroy (reference §4) and never leaves a half-edited guest.
import { z } from "zod";
import { cidrContains, cidrOf, isIPv4, parseIPv4 } from "../../../fabric/net";
import { parsePropertyString, propertyString, type ApiParams } from "../encode";
import type { PveClient } from "../client";
import type { CheckFailure, Kind } from "./common";

export interface VmSpec {
  node: string;
  vmid: number;
  name: string;
  vnet: string;
  /** Address on the vnet, with prefix (e.g. 10.1.1.10/24). */
  address: string;
  gateway: string;
  mgmtBridge: string;
  /** "dhcp" or an address with prefix. */
  mgmtAddress: string;
  memory: number;
  cores: number;
  /** scsi0 value, e.g. "local-lvm:0,import-from=local:import/debian-12-genericcloud-amd64.qcow2"; none = diskless. */
  disk?: string;
  /** Storage for the cloud-init drive (ide2 = <storage>:cloudinit); none = no drive. */
  cloudInitStorage?: string;
  ciuser?: string;
  /** OpenSSH public keys, one per line. */
  sshKeys?: string;
}

export function vmToApi(s: VmSpec): ApiParams {
  return {
    vmid: s.vmid,
    name: s.name,
    memory: s.memory,
    cores: s.cores,
    ostype: "l26",
    scsihw: "virtio-scsi-single",
    serial0: "socket",
    vga: "serial0",
    scsi0: s.disk,
    boot: s.disk ? "order=scsi0" : undefined,
    ide2: s.cloudInitStorage ? `${s.cloudInitStorage}:cloudinit` : undefined,
    net0: propertyString("virtio", { bridge: s.vnet }),
    net1: propertyString("virtio", { bridge: s.mgmtBridge }),
    ipconfig0: propertyString(undefined, { ip: s.address, gw: s.gateway }),
    ipconfig1: propertyString(undefined, { ip: s.mgmtAddress }),
    ciuser: s.ciuser,
    // The server URL-unescapes sshkeys once more after form decoding (reference §4): encode it twice.
    sshkeys: s.sshKeys ? encodeURIComponent(s.sshKeys) : undefined,
    start: 1,
  };
}

export function vmFromApi(node: string, vmid: number, cfg: Record<string, unknown>): VmSpec {
  const str = (k: string) => (cfg[k] === undefined ? undefined : String(cfg[k]));
  const net0 = parsePropertyString(str("net0") ?? "");
  const net1 = parsePropertyString(str("net1") ?? "");
  const ip0 = parsePropertyString(str("ipconfig0") ?? "");
  const ip1 = parsePropertyString(str("ipconfig1") ?? "");
  const ide2 = str("ide2");
  return {
    node,
    vmid,
    name: str("name") ?? "",
    vnet: net0.bridge ?? "",
    address: ip0.ip ?? "",
    gateway: ip0.gw ?? "",
    mgmtBridge: net1.bridge ?? "",
    mgmtAddress: ip1.ip ?? "",
    memory: Number(String(cfg.memory ?? "0").replace(/^current=/, "")),
    cores: Number(cfg.cores ?? 1),
    disk: str("scsi0"),
    cloudInitStorage: ide2?.endsWith(":cloudinit") ? ide2.slice(0, -":cloudinit".length) : undefined,
    ciuser: str("ciuser"),
    sshKeys: str("sshkeys") === undefined ? undefined : decodeURIComponent(str("sshkeys")!),
  };
}

const cidr4 = z
  .string()
  .refine((a) => cidrOf(a) !== undefined, "expected an IPv4 address with prefix, e.g. 10.1.1.10/24");

export const vmKind: Kind<VmSpec> = {
  what: "test VM",
  schema: () =>
    z.object({
      node: z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/, "node names are DNS labels"),
      vmid: z.number().int().min(100).max(999999999),
      name: z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?$/, "VM names are DNS names"),
      vnet: z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{1,7}$/, "vnet ids are 2-8 letters/digits"),
      address: cidr4,
      gateway: z.string().refine(isIPv4, "expected an IPv4 address"),
      mgmtBridge: z.string().default("vmbr0"),
      mgmtAddress: z.union([z.literal("dhcp"), cidr4]).default("dhcp"),
      memory: z.number().int().min(64).default(512),
      cores: z.number().int().min(1).default(1),
      disk: z.string().optional(),
      cloudInitStorage: z.string().optional(),
      ciuser: z.string().optional(),
      sshKeys: z.string().optional(),
    }) as unknown as z.ZodType<VmSpec>,
  problems(s): CheckFailure[] {
    const c = cidrOf(s.address);
    const gw = parseIPv4(s.gateway);
    if (c && gw && !cidrContains(c, gw))
      return [
        {
          property: "gateway",
          reason: `gateway = '${s.gateway}' is not inside ${s.address}: use the subnet's gateway (the vnet's anycast address)`,
        },
      ];
    return [];
  },
  idOf: (s) => `${s.node}/${s.vmid}`,
  replaceOn: ["node", "vmid"],
  async read(c, _id, hint) {
    const cfg = await c.nodes.qemu.config(hint.node, hint.vmid);
    if (!cfg) return undefined;
    const st = await c.nodes.qemu.status(hint.node, hint.vmid);
    return { spec: vmFromApi(hint.node, hint.vmid, cfg), extra: { liveStatus: st.status } };
  },
  async create(c, s) {
    try {
      await c.nodes.tasks.wait(await c.nodes.qemu.create(s.node, vmToApi(s)), { timeoutMs: 300_000 });
    } catch (e) {
      // qmcreate may have made the VM and then failed to start it (e.g. the vnet is not applied on that
      // node yet): all-or-nothing, so remove what is left before reporting.
      await this.remove(c, "", s).catch(() => undefined);
      throw e;
    }
  },
  async update(c, id, live, want) {
    await this.remove(c, id, live);
    await this.create(c, want);
  },
  async remove(c: PveClient, _id: string, s: VmSpec) {
    const q = c.nodes.qemu;
    if (!(await q.config(s.node, s.vmid))) return;
    if ((await q.status(s.node, s.vmid)).status === "running")
      await c.nodes.tasks.wait(await q.stop(s.node, s.vmid));
    await c.nodes.tasks.wait(await q.destroy(s.node, s.vmid));
  },
};
