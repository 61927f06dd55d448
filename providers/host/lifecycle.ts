// The one lifecycle every host resource shares (DESIGN §3.2): check validates with zod, diff and read look
// at the live host (drift shows in `pulumi preview`), create/update converge by writing only what drifted
// and then read back, delete restores what the host had before. A resource kind supplies the reads, a pure
// drift function and the writes (sysctls.ts, packages.ts, service.ts, wireguard.ts).
//
// Runs in the provider process only, loaded through providers/runtime.ts (see resources.ts).
import type { z } from "zod";
import { reported } from "../engine-errors";
import { HostError, unable } from "./errors";
import { pool, probe, targetId, type ExecOptions, type SshTarget } from "./ssh";

/** What the engine puts in place of a value that is not known yet (preview of a first run). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export class HostSession {
  readonly id: string;
  constructor(readonly target: SshTarget) {
    this.id = targetId(target);
  }
  exec(command: string, opts?: ExecOptions) {
    return pool.exec(this.target, command, opts);
  }
  write(command: string, opts: Omit<ExecOptions, "write"> = {}) {
    return pool.exec(this.target, command, { ...opts, write: true });
  }
  writeFile(path: string, content: string, o: { mode: string; owner?: string; group?: string }) {
    return pool.writeFile(this.target, path, content, o);
  }
  probe(sections: Record<string, string>) {
    return probe(pool, this.target, sections);
  }
}

export interface HostKind<Spec, Live, Prev = null> {
  kind: string; // user-facing noun: "sysctls", "packages", "service", "WireGuard interface"
  schema(zod: typeof z): z.ZodType<Spec>;
  name(spec: Spec): string;
  replaceOn: (keyof Spec & string)[];
  read(s: HostSession, spec: Spec): Promise<Live>;
  /** Pure: the names of the knobs where the host differs from the spec; [] when converged. */
  drift(spec: Spec, live: Live): string[];
  /** The host's state before the first create, kept in the outputs so delete can restore it. */
  capture(s: HostSession, spec: Spec, live: Live): Promise<Prev> | Prev;
  /** Update only: extend the captured state with what a grown spec now manages (restored on delete too). */
  widen?(prev: Prev, spec: Spec, live: Live): Prev;
  /** Converge; writes only what drift() reports (a converged host gets zero writes). */
  apply(s: HostSession, spec: Spec, live: Live, old?: Spec): Promise<void>;
  observe(spec: Spec, live: Live): Record<string, unknown>;
  remove(s: HostSession, spec: Spec, prev: Prev, live: Live): Promise<void>;
  /** Whether the managed object exists at all (read returns no id when it does not). */
  exists(live: Live): boolean;
}

type Props = Record<string, unknown> & { connection: SshTarget };

function connectionSchema(zod: typeof z) {
  return zod.object({
    host: zod.string().min(1, "connection.host must name the host (address or DNS name)"),
    port: zod.number().int().min(1).max(65535).optional(),
    user: zod
      .string()
      .regex(/^[a-z_][a-z0-9_-]*$/, "connection.user must be a login name such as root")
      .optional(),
    hostKey: zod
      .string()
      .regex(
        /^(SHA256:[A-Za-z0-9+/]{43}|(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/]+={0,2}( .*)?)$/,
        "connection.hostKey must pin the host key: the line of /etc/ssh/ssh_host_ed25519_key.pub or its " +
          "SHA256 fingerprint (ssh-keygen -lf <file>)",
      ),
    privateKey: zod.string().optional(),
    agentSocket: zod.string().optional(),
  });
}

function hasUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(hasUnknown);
  if (v && typeof v === "object") return Object.values(v).some(hasUnknown);
  return false;
}

function valueAt(obj: unknown, path: PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (o, k) => (o && typeof o === "object" ? (o as Record<PropertyKey, unknown>)[k] : undefined),
    obj,
  );
}

/** Stable JSON (sorted keys) for comparing specs. */
function canon(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );
}

export function providerOf<Spec, Live, Prev>(k: HostKind<Spec, Live, Prev>) {
  const zod = () => (require("zod") as { z: typeof z }).z;
  const full = () =>
    zod()
      .object({ connection: connectionSchema(zod()) })
      .and(k.schema(zod()));
  const specOf = (p: Props): Spec => {
    const rest = Object.fromEntries(
      Object.entries(p).filter(([key]) => !["connection", "observed", "previous"].includes(key)),
    );
    return k.schema(zod()).parse(rest);
  };
  const fail = (action: string, p: Props, e: unknown): never => {
    let name = "?";
    try {
      name = k.name(specOf(p));
    } catch {
      /* the spec itself is broken: keep "?" */
    }
    throw unable(
      action,
      k.kind,
      name,
      p.connection?.host ?? "?",
      e instanceof HostError || e instanceof Error ? e : String(e),
    );
  };
  const outputs = (news: Props, spec: Spec, live: Live, previous: Prev) => ({
    ...news,
    observed: k.observe(spec, live),
    previous,
  });

  // Failures reach the engine through engine-errors.ts: the message once, no stack trace.
  return reported({
    async check(_olds: Props, news: Props) {
      const r = full().safeParse(news);
      const failures = r.success
        ? []
        : r.error.issues
            .map((i) => {
              const value = valueAt(news, i.path);
              const secret = i.path.includes("privateKey");
              return {
                property: i.path.join("."),
                reason: `${i.path.join(".")}: ${i.message}${secret || value === undefined ? "" : ` (got ${JSON.stringify(value)})`}`,
                unknown: hasUnknown(value),
              };
            })
            .filter((f) => !f.unknown)
            .map(({ property, reason }) => ({ property, reason }));
      return { inputs: news, failures };
    },

    async diff(_id: string, olds: Props, news: Props) {
      const o = olds as Record<string, unknown>;
      const n = news as Record<string, unknown>;
      const replaces = [
        ...(["host", "port", "user"] as const)
          .filter((f) => (olds.connection?.[f] ?? null) !== (news.connection?.[f] ?? null))
          .map((f) => `connection.${f}`),
        ...k.replaceOn.filter((f) => canon(o[f]) !== canon(n[f])),
      ];
      if (replaces.length > 0) return { changes: true, replaces, deleteBeforeReplace: true };
      if (hasUnknown(news)) return { changes: true };
      const spec = specOf(news);
      try {
        const live = await k.read(new HostSession(news.connection), spec);
        const drift = k.drift(spec, live);
        const inputs =
          canon(specOf(olds)) !== canon(spec) || canon(olds.connection) !== canon(news.connection);
        return { changes: drift.length > 0 || inputs };
      } catch (e) {
        return fail("read", news, e);
      }
    },

    async read(id: string, props: Props) {
      const spec = specOf(props);
      try {
        const live = await k.read(new HostSession(props.connection), spec);
        if (!k.exists(live)) return { id: "", props: {} };
        return { id, props: { ...props, observed: k.observe(spec, live) } };
      } catch (e) {
        return fail("read", props, e);
      }
    },

    async create(news: Props) {
      const spec = specOf(news);
      const s = new HostSession(news.connection);
      let previous: Prev | undefined;
      try {
        const before = await k.read(s, spec);
        previous = await k.capture(s, spec, before);
        await k.apply(s, spec, before);
        const live = await k.read(s, spec);
        const left = k.drift(spec, live);
        if (left.length > 0) throw new Error(`still differs after applying: ${left.join(", ")}`);
        return { id: `${s.id}/${k.kind}/${k.name(spec)}`, outs: outputs(news, spec, live, previous) };
      } catch (e) {
        // All-or-nothing: put back what was there before, then report the first failure.
        if (previous !== undefined) {
          await k
            .read(s, spec)
            .then((live) => k.remove(s, spec, previous as Prev, live))
            .catch(() => {});
        }
        return fail("create", news, e);
      }
    },

    async update(_id: string, olds: Props, news: Props) {
      const spec = specOf(news);
      const s = new HostSession(news.connection);
      try {
        const before = await k.read(s, spec);
        const previous = k.widen ? k.widen(olds.previous as Prev, spec, before) : (olds.previous as Prev);
        await k.apply(s, spec, before, specOf(olds));
        const live = await k.read(s, spec);
        const left = k.drift(spec, live);
        if (left.length > 0) throw new Error(`still differs after applying: ${left.join(", ")}`);
        return { outs: outputs(news, spec, live, previous) };
      } catch (e) {
        return fail("update", news, e);
      }
    },

    async delete(_id: string, props: Props) {
      const spec = specOf(props);
      const s = new HostSession(props.connection);
      try {
        await k.remove(s, spec, props.previous as Prev, await k.read(s, spec));
      } catch (e) {
        fail("delete", props, e);
      }
    },
  });
}
