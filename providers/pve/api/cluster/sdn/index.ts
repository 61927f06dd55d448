// /cluster/sdn: the index, apply, and the 9.x global lock (§2.3).
import { PveNotImplemented } from "../../../errors";
import type { Transport } from "../../../transport";
import { Controllers } from "./controllers";
import { Subnets } from "./subnets";
import { VnetFirewall } from "./vnets/firewall";
import { Vnets } from "./vnets";
import { Zones } from "./zones";

export class Sdn {
  readonly controllers: Controllers;
  readonly zones: Zones;
  readonly vnets: Vnets;
  readonly subnets: Subnets;
  readonly vnetFirewall: VnetFirewall;
  constructor(private readonly t: Transport) {
    this.controllers = new Controllers(t);
    this.zones = new Zones(t);
    this.vnets = new Vnets(t);
    this.subnets = new Subnets(t);
    this.vnetFirewall = new VnetFirewall(t);
  }

  /** `PUT /cluster/sdn` → UPID of `reloadnetworkall` (on the node that served the call). */
  apply(lockToken?: string): Promise<string> {
    return this.t.put<string>("/cluster/sdn", lockToken ? { "lock-token": lockToken } : {});
  }

  /** 9.x only: takes the global SDN lock; undefined on 8.x (the endpoint answers 501 there). */
  async lock(allowPending: boolean): Promise<string | undefined> {
    try {
      return await this.t.post<string>("/cluster/sdn/lock", { "allow-pending": allowPending });
    } catch (e) {
      if (e instanceof PveNotImplemented) return undefined;
      throw e;
    }
  }

  async unlock(lockToken: string): Promise<void> {
    await this.t.delete("/cluster/sdn/lock", { "lock-token": lockToken });
  }
}
