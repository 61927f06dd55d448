// /nodes/{node}/sdn (§2.10): per-node deployment status of zones after an apply.
import type { Transport } from "../../transport";

export interface NodeZoneStatus {
  zone: string;
  status: "available" | "pending" | "error" | string;
}

export class NodeSdn {
  constructor(private readonly t: Transport) {}
  zones(node: string): Promise<NodeZoneStatus[]> {
    return this.t.get<NodeZoneStatus[]>(`/nodes/${encodeURIComponent(node)}/sdn/zones`);
  }
}
