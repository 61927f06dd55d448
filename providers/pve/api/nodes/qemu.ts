// /nodes/{node}/qemu (§4): the minimal VM lifecycle the sdntest VM needs. Async calls return a UPID.
import { PveNotFound } from "../../errors";
import type { ApiParams } from "../../encode";
import type { Transport } from "../../transport";

export class Qemu {
  constructor(private readonly t: Transport) {}
  private vm(node: string, vmid: number): string {
    return `/nodes/${encodeURIComponent(node)}/qemu/${vmid}`;
  }
  list(node: string): Promise<Record<string, unknown>[]> {
    return this.t.get(`/nodes/${encodeURIComponent(node)}/qemu`);
  }
  /** UPID of `qmcreate`. */
  create(node: string, params: ApiParams): Promise<string> {
    return this.t.post<string>(`/nodes/${encodeURIComponent(node)}/qemu`, params);
  }
  /** The VM's config, or undefined when it does not exist. */
  async config(node: string, vmid: number): Promise<Record<string, unknown> | undefined> {
    try {
      return await this.t.get(`${this.vm(node, vmid)}/config`);
    } catch (e) {
      if (e instanceof PveNotFound) return undefined;
      throw e;
    }
  }
  /** Synchronous config update (PUT; `delete` list for removals). */
  async setConfig(node: string, vmid: number, params: ApiParams): Promise<void> {
    await this.t.put(`${this.vm(node, vmid)}/config`, params);
  }
  status(node: string, vmid: number): Promise<{ status: string; [k: string]: unknown }> {
    return this.t.get(`${this.vm(node, vmid)}/status/current`);
  }
  start(node: string, vmid: number): Promise<string> {
    return this.t.post<string>(`${this.vm(node, vmid)}/status/start`);
  }
  stop(node: string, vmid: number): Promise<string> {
    return this.t.post<string>(`${this.vm(node, vmid)}/status/stop`);
  }
  /** UPID of `qmdestroy`; the VM must be stopped. */
  destroy(node: string, vmid: number): Promise<string> {
    return this.t.delete<string>(this.vm(node, vmid), { purge: 1, "destroy-unreferenced-disks": 1 });
  }
}
