// Kind name → lifecycle methods. The one module dynamic.ts loads in the provider process.
import { reported } from "../../engine-errors";
import { lifecycle, type Lifecycle } from "./common";
import { applyLifecycle } from "./apply";
import { optionsLifecycle, rulesLifecycle } from "./firewall";
import { controllerKind, subnetKind, vnetKind, zoneKind } from "./sdn";
import { vmKind } from "./vm";

const table: Record<string, () => Lifecycle> = {
  "sdn-controller": () => lifecycle(controllerKind),
  "sdn-zone": () => lifecycle(zoneKind),
  "sdn-vnet": () => lifecycle(vnetKind),
  "sdn-subnet": () => lifecycle(subnetKind),
  "sdn-apply": () => applyLifecycle,
  "fw-rules": () => rulesLifecycle,
  "fw-options": () => optionsLifecycle,
  "test-vm": () => lifecycle(vmKind),
};

const made = new Map<string, Lifecycle>();

export function methods(kind: string): Lifecycle {
  let m = made.get(kind);
  if (!m) {
    const f = table[kind];
    if (!f)
      throw new Error(`pve-fabric: no PVE resource kind '${kind}' (known: ${Object.keys(table).join(", ")})`);
    m = reported(wireSafe(f()));
    made.set(kind, m);
  }
  return m;
}

export function register(kind: string, f: () => Lifecycle): void {
  table[kind] = f;
}

/**
 * The dynamic-provider host turns results into protobuf Structs, which throw "Unexpected struct type" on an
 * `undefined` anywhere (zod leaves absent optionals as undefined keys): found under the real engine. So every
 * result crosses a JSON round trip, which drops undefined keys.
 */
function wireSafe(l: Lifecycle): Lifecycle {
  const plain = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)));
  return {
    check: async (o, n) => plain(await l.check(o, n)),
    diff: async (i, o, n) => plain(await l.diff(i, o, n)),
    read: async (i, p) => plain(await l.read(i, p)),
    create: async (i) => plain(await l.create(i)),
    update: async (i, o, n) => plain(await l.update(i, o, n)),
    delete: (i, p) => l.delete(i, p),
  };
}
