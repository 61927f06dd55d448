// Kind name → lifecycle methods. The one module dynamic.ts loads in the provider process.
import { lifecycle, type Lifecycle } from "./common";
import { applyLifecycle } from "./apply";
import { optionsLifecycle, rulesLifecycle } from "./firewall";
import { controllerKind, subnetKind, vnetKind, zoneKind } from "./sdn";

const table: Record<string, () => Lifecycle> = {
  "sdn-controller": () => lifecycle(controllerKind),
  "sdn-zone": () => lifecycle(zoneKind),
  "sdn-vnet": () => lifecycle(vnetKind),
  "sdn-subnet": () => lifecycle(subnetKind),
  "sdn-apply": () => applyLifecycle,
  "fw-rules": () => rulesLifecycle,
  "fw-options": () => optionsLifecycle,
};

const made = new Map<string, Lifecycle>();

export function methods(kind: string): Lifecycle {
  let m = made.get(kind);
  if (!m) {
    const f = table[kind];
    if (!f)
      throw new Error(`pve-fabric: no PVE resource kind '${kind}' (known: ${Object.keys(table).join(", ")})`);
    m = f();
    made.set(kind, m);
  }
  return m;
}

export function register(kind: string, f: () => Lifecycle): void {
  table[kind] = f;
}
