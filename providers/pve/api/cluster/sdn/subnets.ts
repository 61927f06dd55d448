// /cluster/sdn/vnets/{vnet}/subnets (§2.7). Paths use the stored id `<zone>-<network>-<prefixlen>`, never the
// CIDR (a `/` in a path becomes a separator).
import { fromBool, type ApiParams } from "../../../encode";
import type { Transport } from "../../../transport";
import { SdnSection } from "./section";

export interface SubnetSpec {
  vnet: string;
  zone: string;
  /** Canonical network address / prefix, e.g. 10.1.1.0/24. */
  cidr: string;
  gateway?: string;
  snat: boolean;
}

export const SUBNET_KEYS = ["gateway", "snat"];

export function subnetId(zone: string, cidr: string): string {
  const [net, len] = cidr.split("/");
  return `${zone}-${net}-${len}`;
}

export function subnetToApi(s: SubnetSpec): ApiParams {
  return { gateway: s.gateway, snat: s.snat ? 1 : undefined };
}

export function subnetFromApi(item: Record<string, unknown>): SubnetSpec & { id: string } {
  const id = String(item.id ?? item.subnet);
  // `cidr` is derived by PVE on reads; a `state: new` item of the pending view only has the id.
  const cidr =
    item.cidr !== undefined ? String(item.cidr) : id.replace(/^[^-]+-(.+)-(\d+)$/, (_m, n, l) => `${n}/${l}`);
  return {
    id,
    vnet: String(item.vnet ?? ""),
    zone: String(item.zone ?? id.split("-")[0]),
    cidr,
    gateway: item.gateway === undefined ? undefined : String(item.gateway),
    snat: fromBool(item.snat) ?? false,
  };
}

export class Subnets {
  constructor(private readonly t: Transport) {}
  of(vnet: string): SdnSection {
    return new SdnSection(this.t, `/cluster/sdn/vnets/${encodeURIComponent(vnet)}/subnets`);
  }
  createSubnet(s: SubnetSpec): Promise<void> {
    return this.of(s.vnet).create({ subnet: s.cidr, type: "subnet", ...subnetToApi(s) });
  }
}
