// sysctls: a /etc/sysctl.d drop-in *and* the live kernel values. Either drifting is reported and repaired;
// delete puts back the drop-in that was there before (or removes ours) and the values read before create.
import { parseSysctlOutput, renderSysctlDropIn, sysctlDropInPath } from "../render/sysctl";
import { providerOf, type HostKind, type HostSession } from "./lifecycle";
import { sh } from "./quote";

export interface SysctlSpec {
  name: string; // drop-in name: /etc/sysctl.d/<name>.conf
  values: Record<string, string>;
}

export interface SysctlLive {
  dropIn: string | null; // file content, null when absent
  values: Record<string, string>; // live values of the spec's keys (a key the kernel lacks is absent)
}

export interface SysctlPrev {
  dropIn: string | null;
  values: Record<string, string>;
}

export function sysctlDrift(spec: SysctlSpec, live: SysctlLive): string[] {
  const d: string[] = [];
  if (live.dropIn !== renderSysctlDropIn(spec.values)) d.push("dropIn");
  for (const [k, v] of Object.entries(spec.values).sort()) if (live.values[k] !== v) d.push(k);
  return d;
}

async function readSysctls(s: HostSession, spec: SysctlSpec): Promise<SysctlLive> {
  const path = sysctlDropInPath(spec.name);
  const p = await s.probe({
    dropIn: sh`cat ${path}`,
    values: sh`sysctl -e ${Object.keys(spec.values).sort()}`,
  });
  return { dropIn: p.dropIn.rc === 0 ? p.dropIn.out : null, values: parseSysctlOutput(p.values.out) };
}

/** One `sysctl -w` for every key that differs; nothing when none does. */
async function setValues(s: HostSession, want: Record<string, string>, live: Record<string, string>) {
  const args = Object.keys(want)
    .sort()
    .filter((k) => live[k] !== want[k])
    .map((k) => `${k}=${want[k]}`);
  if (args.length > 0) await s.write(sh`sysctl -q -w ${args}`);
}

export const kind: HostKind<SysctlSpec, SysctlLive, SysctlPrev> = {
  kind: "sysctls",
  schema: (zod) =>
    zod.object({
      name: zod
        .string()
        .regex(
          /^[A-Za-z0-9][A-Za-z0-9_.-]*$/,
          "name is the drop-in's file name without .conf (e.g. 90-pve-fabric)",
        ),
      values: zod
        .record(
          zod
            .string()
            .regex(
              /^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/,
              "keys are dotted sysctl names such as net.ipv4.ip_forward",
            ),
          zod.string().regex(/^[^\n=]*$/, "a value is one line without '='"),
        )
        .refine((v) => Object.keys(v).length > 0, "values needs at least one key"),
    }),
  name: (spec) => spec.name,
  replaceOn: ["name"],
  read: readSysctls,
  drift: sysctlDrift,
  capture: (_s, _spec, live) => ({ dropIn: live.dropIn, values: live.values }),
  // A key added later is restored to the value it had just before this resource first set it.
  widen: (prev, _spec, live) => ({
    dropIn: prev?.dropIn ?? null,
    values: { ...live.values, ...prev?.values },
  }),
  async apply(s, spec, live) {
    const text = renderSysctlDropIn(spec.values);
    if (live.dropIn !== text) await s.writeFile(sysctlDropInPath(spec.name), text, { mode: "0644" });
    await setValues(s, spec.values, live.values);
  },
  observe: (_spec, live) => ({ dropInPresent: live.dropIn !== null, values: live.values }),
  async remove(s, spec, prev, live) {
    const path = sysctlDropInPath(spec.name);
    if (prev?.dropIn != null) {
      if (live.dropIn !== prev.dropIn) await s.writeFile(path, prev.dropIn, { mode: "0644" });
    } else if (live.dropIn !== null) {
      await s.write(sh`rm -f ${path}`);
    }
    if (prev) await setValues(s, prev.values, live.values);
  },
  exists: () => true, // a drop-in that vanished is drift to repair, not a resource that is gone
};

export const provider = providerOf(kind);
