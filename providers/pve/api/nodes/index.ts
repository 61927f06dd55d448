// /nodes
import type { Transport } from "../../transport";
import { NodeFirewall } from "./firewall";
import { Qemu } from "./qemu";
import { NodeSdn } from "./sdn";
import { Tasks } from "./tasks";

export interface NodeInfo {
  node: string;
  status: string;
  ssl_fingerprint?: string;
}

export class Nodes {
  readonly firewall: NodeFirewall;
  readonly qemu: Qemu;
  readonly tasks: Tasks;
  readonly sdn: NodeSdn;
  constructor(private readonly t: Transport) {
    this.firewall = new NodeFirewall(t);
    this.qemu = new Qemu(t);
    this.tasks = new Tasks(t);
    this.sdn = new NodeSdn(t);
  }
  async list(): Promise<NodeInfo[]> {
    const items = await this.t.get<NodeInfo[]>("/nodes");
    return items.sort((a, b) => a.node.localeCompare(b.node));
  }
}
