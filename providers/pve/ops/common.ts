// The generic lifecycle behind every PVE dynamic resource (DESIGN §3.2). A resource kind supplies pure
// validation, a live read, and three writes; this module turns that into the dynamic-provider methods:
//   check  validates (zod built here, at run time) and names field, value, rule and fix;
//   diff   compares the desired spec with a LIVE read, so drift shows in preview;
//   read   returns what PVE reports (no id when the object is gone), keeping the connection props;
//   create is all-or-nothing and builds outputs by reading back; update re-creates a vanished object;
//   delete treats "already gone" as success.
// Loaded with loadRuntime() inside provider methods: one instance per provider process.
import type { z } from "zod";
import { clientFor, type PveClient } from "../client";
import { PveAuthError, PveError, PveLocked, PvePermissionDenied } from "../errors";
import { tlsProblems, type ApiConfig } from "../transport";

/** The engine's placeholder for a value not known during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export interface CheckFailure {
  property: string;
  reason: string;
}

export interface Kind<S> {
  /** "EVPN zone" — used in messages. */
  what: string;
  /** Zod schema of the resource's inputs (without `api`). Built on call: zod lives in the provider process. */
  schema(): z.ZodType<S>;
  /** Extra rules zod cannot express; each names field, value, rule and fix. */
  problems?(spec: S): CheckFailure[];
  idOf(spec: S): string;
  /** Spec fields whose change replaces the object (ids, parents). */
  replaceOn: (keyof S & string)[];
  /** The live object, normalised to the spec shape, plus read-only extras; undefined when gone. */
  read(c: PveClient, id: string, hint: S): Promise<{ spec: S; extra?: Record<string, unknown> } | undefined>;
  create(c: PveClient, spec: S): Promise<void>;
  update(c: PveClient, id: string, live: S, want: S): Promise<void>;
  remove(c: PveClient, id: string, spec: S): Promise<void>;
  /** Spec fields that differ between live and desired (default: deep-equal per field). */
  differences?(live: S, want: S): string[];
}

type Props<S> = S & { api: ApiConfig };

function hasUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(hasUnknown);
  if (v && typeof v === "object") return Object.values(v).some(hasUnknown);
  return false;
}

export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${k}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v ?? null);
}

export function fieldDifferences<S>(live: S, want: S): string[] {
  const keys = new Set([...Object.keys(live as object), ...Object.keys(want as object)]);
  return [...keys]
    .filter(
      (k) =>
        canonical((live as Record<string, unknown>)[k]) !== canonical((want as Record<string, unknown>)[k]),
    )
    .sort();
}

/** What to do, by error class. */
function fixFor(e: PveError): string {
  if (e instanceof PveAuthError)
    return ". Check api.tokenId and api.tokenSecret (the token may be expired or deleted: `pveum user token list <user>`)";
  if (e instanceof PvePermissionDenied)
    return ". Grant the token the privilege named above on that path (providers/pve/README.md lists the least-privilege role)";
  if (e instanceof PveLocked)
    return ". Someone holds PVE 9's global SDN lock: wait for their apply to finish, or break a stale lock with `pvesh delete /cluster/sdn/lock --force 1`";
  return "";
}

/** `Unable to <action> <kind> '<id>' on <site>: <cause>` (STYLE habit 4). Keeps the typed class. */
export function wrapError(e: unknown, action: string, what: string, id: string, site: string): Error {
  const cause = e instanceof PveError ? e.detail : e instanceof Error ? e.message : String(e);
  const status = e instanceof PveError && e.status ? ` (HTTP ${e.status})` : "";
  const msg = `Unable to ${action} ${what} '${id}' on ${site}: ${cause}${status}${e instanceof PveError ? fixFor(e) : ""}`;
  if (e instanceof PveError) {
    const C = e.constructor as new (m: string, s: number, f: Record<string, string>) => PveError;
    return new C(msg, e.status, e.fieldErrors);
  }
  return new Error(msg, { cause: e });
}

export function zodFailures(error: z.ZodError, inputs: unknown): CheckFailure[] {
  return error.issues.map((i) => {
    const path = i.path.map(String).join(".");
    let value: unknown = inputs;
    for (const p of i.path) value = (value as Record<string | number, unknown> | undefined)?.[p as string];
    return { property: path, reason: `${path} = ${JSON.stringify(value)}: ${i.message}` };
  });
}

export function apiFailures(api: unknown): CheckFailure[] {
  const a = api as Partial<ApiConfig> | undefined;
  if (!a || typeof a !== "object")
    return [
      { property: "api", reason: "api is required: { url, tokenId, tokenSecret, fingerprint | caPem }" },
    ];
  if (hasUnknown(a)) return [];
  const out: CheckFailure[] = [];
  for (const k of ["url", "tokenId", "tokenSecret"] as const)
    if (typeof a[k] !== "string" || !a[k])
      out.push({ property: `api.${k}`, reason: `api.${k} is required (a non-empty string)` });
  if (typeof a.tokenId === "string" && a.tokenId && !/^[^@!\s]+@[^!\s]+![A-Za-z][\w.-]*$/.test(a.tokenId))
    out.push({
      property: "api.tokenId",
      reason: `api.tokenId = '${a.tokenId}' is not a token id: expected user@realm!tokenname, e.g. fabric@pve!pulumi`,
    });
  for (const p of tlsProblems(a)) out.push({ property: "api", reason: p });
  return out;
}

export function client(api: ApiConfig): PveClient {
  return clientFor(api);
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the dynamic-provider contract passes untyped props */
/** The dynamic-provider methods, as the engine calls them (pulumi.dynamic.ResourceProvider). */
export interface Lifecycle {
  check(olds: any, news: any): Promise<{ inputs: any; failures: CheckFailure[] }>;
  diff(
    id: string,
    olds: any,
    news: any,
  ): Promise<{ changes: boolean; replaces?: string[]; deleteBeforeReplace?: boolean }>;
  read(id: string, props: any): Promise<{ id: string; props: any }>;
  create(inputs: any): Promise<{ id: string; outs: any }>;
  update(id: string, olds: any, news: any): Promise<{ outs: any }>;
  delete(id: string, props: any): Promise<void>;
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The dynamic-provider methods for one kind. */
export function lifecycle<S extends object>(kind: Kind<S>): Lifecycle {
  const specOf = (props: Props<S>): S => {
    const rest = { ...props } as Record<string, unknown>;
    delete rest.api;
    delete rest.__provider;
    for (const k of Object.keys(rest)) if (k.startsWith("live")) delete rest[k];
    return rest as S;
  };
  const outputs = (api: ApiConfig, live: { spec: S; extra?: Record<string, unknown> }) => ({
    api,
    ...live.spec,
    ...(live.extra ?? {}),
  });
  const readLive = async (api: ApiConfig, id: string, hint: S, action: string) => {
    const c = client(api);
    try {
      return await kind.read(c, id, hint);
    } catch (e) {
      throw wrapError(e, action, kind.what, id, c.site);
    }
  };

  return {
    async check(_olds: unknown, news: Props<S>) {
      const failures = apiFailures(news.api);
      if (hasUnknown(news)) return { inputs: news, failures };
      const parsed = kind.schema().safeParse(specOf(news));
      if (!parsed.success)
        return { inputs: news, failures: [...failures, ...zodFailures(parsed.error, news)] };
      failures.push(...(kind.problems?.(parsed.data) ?? []));
      return { inputs: { ...parsed.data, api: news.api }, failures };
    },

    async diff(_id: string, olds: Props<S>, news: Props<S>) {
      const want = specOf(news);
      const was = specOf(olds);
      const replaces = kind.replaceOn.filter((k) => canonical(was[k]) !== canonical(want[k]));
      if (replaces.length) return { changes: true, replaces, deleteBeforeReplace: true };
      if (hasUnknown(news)) return { changes: true };
      const live = await readLive(olds.api, kind.idOf(was), was, "read");
      if (!live) return { changes: true };
      const diffs = (kind.differences ?? fieldDifferences)(live.spec, want);
      return { changes: diffs.length > 0 || canonical(olds.api) !== canonical(news.api) };
    },

    async read(id: string, props: Props<S>) {
      const live = await readLive(props.api, id, specOf(props), "read");
      if (!live) return { id: "", props: {} };
      return { id, props: outputs(props.api, live) };
    },

    async create(inputs: Props<S>) {
      const spec = specOf(inputs);
      const id = kind.idOf(spec);
      const c = client(inputs.api);
      try {
        await kind.create(c, spec);
      } catch (e) {
        throw wrapError(e, "create", kind.what, id, c.site);
      }
      const live = await readLive(inputs.api, id, spec, "read back");
      if (!live)
        throw new PveError(`Unable to read back ${kind.what} '${id}' on ${c.site} right after creating it`);
      return { id, outs: outputs(inputs.api, live) };
    },

    async update(id: string, olds: Props<S>, news: Props<S>) {
      const want = specOf(news);
      const c = client(news.api);
      const live = await readLive(news.api, id, want, "read");
      try {
        if (!live) await kind.create(c, want);
        else await kind.update(c, id, live.spec, want);
      } catch (e) {
        throw wrapError(e, "update", kind.what, id, c.site);
      }
      void olds;
      const after = await readLive(news.api, id, want, "read back");
      if (!after)
        throw new PveError(`Unable to read back ${kind.what} '${id}' on ${c.site} after updating it`);
      return { outs: outputs(news.api, after) };
    },

    async delete(id: string, props: Props<S>) {
      const c = client(props.api);
      try {
        await kind.remove(c, id, specOf(props));
      } catch (e) {
        throw wrapError(e, "delete", kind.what, id, c.site);
      }
    },
  };
}
