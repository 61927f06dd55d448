// /cluster/sdn/controllers — only the `evpn` type is modelled (one per cluster, §2.8).
import { fromInt, fromList, type ApiParams } from "../../../encode";
import type { Transport } from "../../../transport";
import { SdnSection } from "./section";

export interface EvpnControllerSpec {
  controller: string;
  asn: number;
  /** Underlay (tunnel) addresses of every EVPN node of every site, sorted. */
  peers: string[];
}

export const CONTROLLER_KEYS = ["asn", "peers"];

export function controllerToApi(s: EvpnControllerSpec): ApiParams {
  return { asn: s.asn, peers: [...s.peers].sort() };
}

export function controllerFromApi(item: Record<string, unknown>): EvpnControllerSpec & { type: string } {
  return {
    controller: String(item.controller),
    type: String(item.type),
    asn: fromInt(item.asn) ?? -1,
    peers: fromList(item.peers) ?? [],
  };
}

export class Controllers extends SdnSection {
  constructor(t: Transport) {
    super(t, "/cluster/sdn/controllers");
  }
  createEvpn(s: EvpnControllerSpec): Promise<void> {
    return this.create({ controller: s.controller, type: "evpn", ...controllerToApi(s) });
  }
}
