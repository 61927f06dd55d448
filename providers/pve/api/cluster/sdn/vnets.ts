// /cluster/sdn/vnets (§2.6). The vnet firewall lives under vnets/firewall.ts.
import { fromInt, type ApiParams } from "../../../encode";
import type { Transport } from "../../../transport";
import { SdnSection } from "./section";

export interface VnetSpec {
  vnet: string;
  zone: string;
  /** VXLAN VNI (required for EVPN zones). */
  tag: number;
  alias?: string;
}

export const VNET_KEYS = ["zone", "tag", "alias"];

export function vnetToApi(s: VnetSpec): ApiParams {
  return { zone: s.zone, tag: s.tag, alias: s.alias };
}

export function vnetFromApi(item: Record<string, unknown>): VnetSpec {
  return {
    vnet: String(item.vnet),
    zone: String(item.zone ?? ""),
    tag: fromInt(item.tag) ?? -1,
    alias: item.alias === undefined ? undefined : String(item.alias),
  };
}

export class Vnets extends SdnSection {
  constructor(t: Transport) {
    super(t, "/cluster/sdn/vnets");
  }
  createVnet(s: VnetSpec): Promise<void> {
    return this.create({ vnet: s.vnet, type: "vnet", ...vnetToApi(s) });
  }
}
