// service: a systemd unit enabled and running, and for FRR the daemons it must start (`bgpd=yes` in
// /etc/frr/daemons). Changing the daemons file restarts a running FRR (watchfrr reads it at start only).
// Delete puts back the daemons file and the enabled/active state the unit had before.
import { parseFrrDaemons, setFrrDaemons } from "../render/frr-daemons";
import { providerOf, type HostKind, type HostSession } from "./lifecycle";
import { sh } from "./quote";

export const FRR_DAEMONS = "/etc/frr/daemons";

export interface ServiceSpec {
  unit: string; // "frr", "ssh", ...
  enabled: boolean;
  active: boolean;
  frrDaemons?: Record<string, "yes" | "no">; // only for unit "frr"
}

export interface ServiceLive {
  enabled: boolean;
  active: boolean;
  daemonsFile: string | null; // null when not asked for or absent
}

export interface ServicePrev {
  enabled: boolean;
  active: boolean;
  daemonsFile: string | null;
}

function daemonsDrift(spec: ServiceSpec, live: ServiceLive): string[] {
  if (!spec.frrDaemons) return [];
  const have = parseFrrDaemons(live.daemonsFile ?? "");
  return Object.entries(spec.frrDaemons)
    .filter(([d, v]) => have[d] !== v)
    .map(([d]) => `daemons.${d}`)
    .sort();
}

export function serviceDrift(spec: ServiceSpec, live: ServiceLive): string[] {
  const d: string[] = [];
  if (live.enabled !== spec.enabled) d.push("enabled");
  if (live.active !== spec.active) d.push("active");
  return [...d, ...daemonsDrift(spec, live)];
}

async function readService(s: HostSession, spec: ServiceSpec): Promise<ServiceLive> {
  const unit = `${spec.unit}.service`;
  const p = await s.probe({
    enabled: sh`systemctl is-enabled ${unit}`,
    active: sh`systemctl is-active ${unit}`,
    ...(spec.frrDaemons ? { daemons: sh`cat ${FRR_DAEMONS}` } : {}),
  });
  return {
    enabled: p.enabled.out.trim() === "enabled",
    active: p.active.out.trim() === "active",
    daemonsFile: p.daemons && p.daemons.rc === 0 ? p.daemons.out : null,
  };
}

async function converge(
  s: HostSession,
  unit: string,
  want: { enabled: boolean; active: boolean },
  live: ServiceLive,
  restart: boolean,
) {
  const u = `${unit}.service`;
  if (want.enabled !== live.enabled)
    await s.write(want.enabled ? sh`systemctl enable ${u}` : sh`systemctl disable ${u}`);
  if (want.active && !live.active) await s.write(sh`systemctl start ${u}`);
  else if (want.active && restart) await s.write(sh`systemctl restart ${u}`);
  else if (!want.active && live.active) await s.write(sh`systemctl stop ${u}`);
}

export const kind: HostKind<ServiceSpec, ServiceLive, ServicePrev> = {
  kind: "service",
  schema: (zod) =>
    zod
      .object({
        unit: zod
          .string()
          .regex(
            /^[A-Za-z0-9@_.-]+$/,
            "unit is a systemd unit name without .service (e.g. frr, wg-quick@wg0)",
          ),
        enabled: zod.boolean(),
        active: zod.boolean(),
        frrDaemons: zod
          .record(
            zod.string().regex(/^[a-z0-9]+d$/, "an FRR daemon name such as bgpd"),
            zod.enum(["yes", "no"]),
          )
          .optional(),
      })
      .refine((v) => !v.frrDaemons || v.unit === "frr", {
        message: "frrDaemons applies to unit 'frr' only: drop it or set unit to frr",
        path: ["frrDaemons"],
      }),
  name: (spec) => spec.unit,
  replaceOn: ["unit"],
  read: readService,
  drift: serviceDrift,
  capture: (_s, _spec, live) => ({ ...live }),
  async apply(s, spec, live) {
    const daemons = daemonsDrift(spec, live).length > 0;
    if (daemons && spec.frrDaemons) {
      if (live.daemonsFile === null)
        throw new Error(`${FRR_DAEMONS} is missing: is the frr package installed?`);
      await s.writeFile(FRR_DAEMONS, setFrrDaemons(live.daemonsFile, spec.frrDaemons), {
        mode: "0640",
        owner: "frr",
        group: "frr",
      });
    }
    await converge(s, spec.unit, spec, live, daemons && live.active);
  },
  observe: (_spec, live) => ({
    enabled: live.enabled,
    active: live.active,
    ...(live.daemonsFile !== null ? { daemons: parseFrrDaemons(live.daemonsFile) } : {}),
  }),
  async remove(s, spec, prev, live) {
    if (!prev) return;
    const daemons =
      prev.daemonsFile !== null && live.daemonsFile !== null && prev.daemonsFile !== live.daemonsFile;
    if (daemons)
      await s.writeFile(FRR_DAEMONS, prev.daemonsFile as string, {
        mode: "0640",
        owner: "frr",
        group: "frr",
      });
    await converge(s, spec.unit, prev, live, daemons && live.active && prev.active);
  },
  exists: () => true,
};

export const provider = providerOf(kind);
