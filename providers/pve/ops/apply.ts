// SDN apply, one per site (DESIGN §3.4; reference §2.3, §2.10, §6.6):
//   1. 9.x: take the global SDN lock (allow-pending), so nobody adds edits between our check and the apply;
//   2. refuse when pending changes exist that this stack did not make, naming them (override: allowForeignPending);
//   3. PUT /cluster/sdn (the transport retries the named transient "got no worker upid"), wait for the task on
//      the UPID's node;
//   4. the outer task can end OK while a node's reload failed: check every online node's zone status and fail
//      naming the node and the reason from its srvreload task.
// diff re-applies when the trigger hash changes, when an owned object is still pending, or when a node is not
// `available` — so a failed reload is retried by the next `up`.
import type { PveClient } from "../client";
import { PveError, PveNotFound, PveTaskFailed, PveTransient } from "../errors";
import type { SdnItem } from "../api/cluster/sdn/section";
import type { ApiConfig } from "../transport";
import { apiFailures, canonical, client, wrapError, type CheckFailure, type Lifecycle } from "./common";

export interface ApplySpec {
  trigger: string;
  owned: string[];
  zones: string[];
  allowForeignPending: boolean;
  mode: "apply" | "finalizer";
  taskTimeoutSeconds: number;
}

type Props = ApplySpec & { api: ApiConfig };

export interface PendingChange {
  /** `zones/<id>`, `vnets/<id>`, `controllers/<id>`, `subnets/<vnet>/<id>` */
  key: string;
  state: string;
}

/** Every object of the pending view that has a `state` (reference §2.4: "nothing to apply" ⇔ none has one). */
export async function pendingChanges(c: PveClient): Promise<PendingChange[]> {
  const sdn = c.cluster.sdn;
  const out: PendingChange[] = [];
  const add = (kind: string, idKey: string, items: SdnItem[], prefix = "") => {
    for (const it of items)
      if (it.state) out.push({ key: `${kind}/${prefix}${String(it[idKey])}`, state: it.state });
  };
  add("controllers", "controller", await sdn.controllers.list("pending"));
  add("zones", "zone", await sdn.zones.list("pending"));
  const vnets = await sdn.vnets.list("pending");
  add("vnets", "vnet", vnets);
  for (const v of vnets) {
    const id = String(v.vnet);
    try {
      add("subnets", "id", await sdn.subnets.of(id).list("pending"), `${id}/`);
    } catch (e) {
      if (!(e instanceof PveNotFound)) throw e;
    }
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

/** Pending changes whose object is not in `owned` (pure). */
export function foreignPending(pending: PendingChange[], owned: string[]): PendingChange[] {
  const mine = new Set(owned);
  return pending.filter((p) => !mine.has(p.key));
}

export interface NodeProblem {
  node: string;
  reason: string;
}

/** Per-node zone status; `zones` limits the check to our zones (a zone may be restricted to some nodes). */
export async function nodeStatus(
  c: PveClient,
  zones: string[],
): Promise<{ status: Record<string, string>; problems: NodeProblem[] }> {
  const status: Record<string, string> = {};
  const problems: NodeProblem[] = [];
  for (const n of await c.nodes.list()) {
    if (n.status !== "online") {
      status[n.node] = n.status;
      problems.push({ node: n.node, reason: `node is ${n.status}: its SDN config was not reloaded` });
      continue;
    }
    let zs;
    try {
      zs = await c.nodes.sdn.zones(n.node);
    } catch (e) {
      status[n.node] = "unreachable";
      problems.push({ node: n.node, reason: (e as Error).message });
      continue;
    }
    const bad = zs.filter((z) => zones.includes(z.zone) && z.status !== "available");
    status[n.node] = bad.length ? bad.map((z) => `${z.zone}:${z.status}`).join(",") : "available";
    for (const z of bad) problems.push({ node: n.node, reason: `zone ${z.zone} is ${z.status}` });
  }
  return { status, problems };
}

/** Why a node's reload failed: its newest srvreload task since `since`, exit status and log tail. */
async function reloadFailure(c: PveClient, node: string, since: number): Promise<string | undefined> {
  try {
    const tasks = await c.nodes.tasks.list(node, { typefilter: "srvreload", since });
    // List entries of finished tasks carry the end status in `status` (PVE's task index), not `exitstatus`.
    const end = (x: { status: string; exitstatus?: string }) =>
      x.exitstatus ?? (x.status === "running" || x.status === "stopped" ? undefined : x.status);
    const t = tasks.find((x) => end(x) !== undefined && end(x) !== "OK" && !/^WARNINGS/.test(end(x) ?? ""));
    if (!t) return undefined;
    const log = await c.nodes.tasks.log(t.upid, 5).catch(() => []);
    return `reload task ${t.upid} ended '${end(t)}'${log.length ? `; log: ${log.join(" | ")}` : ""}`;
  } catch {
    return undefined;
  }
}

function specOf(p: Partial<Props>): ApplySpec {
  return {
    trigger: String(p.trigger ?? ""),
    owned: [...(p.owned ?? [])].map(String).sort(),
    zones: [...(p.zones ?? [])].map(String).sort(),
    allowForeignPending: p.allowForeignPending ?? false,
    mode: p.mode ?? "apply",
    taskTimeoutSeconds: p.taskTimeoutSeconds ?? 600,
  };
}

export async function applySdn(c: PveClient, s: ApplySpec): Promise<{ upid: string; exitstatus: string }> {
  const site = c.site;
  const started = Math.floor(Date.now() / 1000) - 1;
  // The global SDN lock exists from 9.0 (reference §0); on 8.x there is nothing to take.
  const major = Number((await c.version()).release.split(".")[0]);
  let token: string | undefined;
  try {
    token = major >= 9 ? await c.cluster.sdn.lock(true) : undefined;
  } catch (e) {
    throw wrapError(e, "lock", "SDN config", "cluster", site);
  }
  let released = false;
  try {
    const foreign = foreignPending(await pendingChanges(c), s.owned);
    if (foreign.length && !s.allowForeignPending)
      throw new PveError(
        `Unable to apply SDN on ${site}: pending changes exist that this stack did not make: ` +
          `${foreign.map((f) => `${f.key} (${f.state})`).join(", ")}. Apply or roll them back in PVE ` +
          "(Datacenter → SDN), or set allowForeignPending: true to apply them together with this stack's",
      );
    let upid: string;
    try {
      upid = await c.cluster.sdn.apply(token);
    } catch (e) {
      const hint = e instanceof PveTransient ? " (retried; PVE could not start the worker)" : "";
      throw new PveError(
        `Unable to apply SDN on ${site}: ${(e as PveError).detail ?? (e as Error).message}${hint}`,
      );
    }
    released = true; // apply with a token releases the lock (release-lock defaults to 1)
    let result;
    try {
      result = await c.nodes.tasks.wait(upid, { timeoutMs: s.taskTimeoutSeconds * 1000 });
    } catch (e) {
      if (e instanceof PveTaskFailed) throw new PveError(`Unable to apply SDN on ${site}: ${e.message}`);
      throw e;
    }
    const { problems } = await settledStatus(c, s.zones);
    if (problems.length) {
      const lines = [];
      for (const p of problems) {
        const why = await reloadFailure(c, p.node, started);
        lines.push(`node ${p.node}: ${p.reason}${why ? ` — ${why}` : ""}`);
      }
      throw new PveError(
        `SDN apply on ${site} finished (${result.exitstatus}) but not every node is available: ${lines.join("; ")}. ` +
          "Fix the node (network config, FRR) and run `pulumi up` again: the apply is retried while a node is not available",
      );
    }
    return { upid, exitstatus: result.exitstatus };
  } finally {
    if (token && !released) await c.cluster.sdn.unlock(token).catch(() => undefined);
  }
}

/** The outer task ends after every node's reload; poll briefly for nodes still `pending`. */
async function settledStatus(c: PveClient, zones: string[]) {
  for (let i = 0; ; i++) {
    const r = await nodeStatus(c, zones);
    if (i >= 10 || !r.problems.some((p) => / is pending$/.test(p.reason))) return r;
    await new Promise((res) => setTimeout(res, 200 * (i + 1)));
  }
}

async function observe(c: PveClient, s: ApplySpec) {
  const pending = (await pendingChanges(c))
    .filter((p) => s.owned.includes(p.key))
    .map((p) => `${p.key} (${p.state})`);
  const { status } = await nodeStatus(c, s.zones);
  return { livePending: pending, liveNodeStatus: status };
}

function outs(api: ApiConfig, s: ApplySpec, live: object, lastTask?: object) {
  return { api, ...s, ...live, lastTask: lastTask ?? null };
}

export const applyLifecycle: Lifecycle = {
  async check(_olds, news) {
    const failures: CheckFailure[] = apiFailures(news.api);
    if (typeof news.trigger !== "string")
      failures.push({
        property: "trigger",
        reason: "trigger is required: a hash of every SDN object this apply covers",
      });
    for (const k of news.owned ?? [])
      if (typeof k === "string" && !/^(controllers|zones|vnets)\/[^/]+$|^subnets\/[^/]+\/[^/]+$/.test(k))
        failures.push({
          property: "owned",
          reason: `owned entry '${k}' is not one of controllers/<id>, zones/<id>, vnets/<id>, subnets/<vnet>/<subnet-id>`,
        });
    if (news.mode !== undefined && news.mode !== "apply" && news.mode !== "finalizer")
      failures.push({ property: "mode", reason: `mode = '${news.mode}': use "apply" or "finalizer"` });
    return { inputs: news, failures };
  },
  async diff(_id, olds, news) {
    const was = specOf(olds);
    const want = specOf(news);
    if (canonical(was) !== canonical(want)) return { changes: true };
    if (want.mode === "finalizer") return { changes: false };
    const live = await observe(client(olds.api), want);
    const healthy =
      live.livePending.length === 0 && Object.values(live.liveNodeStatus).every((v) => v === "available");
    return { changes: !healthy };
  },
  async read(id, props) {
    const s = specOf(props);
    if (s.mode === "finalizer") return { id, props };
    return { id, props: outs(props.api, s, await observe(client(props.api), s), props.lastTask) };
  },
  async create(inputs) {
    const s = specOf(inputs);
    const c = client(inputs.api);
    const task = s.mode === "apply" ? await applySdn(c, s) : undefined;
    const live = s.mode === "apply" ? await observe(c, s) : { livePending: [], liveNodeStatus: {} };
    return { id: `${c.site}-sdn-${s.mode}`, outs: outs(inputs.api, s, live, task) };
  },
  async update(_id, olds, news) {
    const s = specOf(news);
    const c = client(news.api);
    const task = s.mode === "apply" ? await applySdn(c, s) : olds.lastTask;
    const live = s.mode === "apply" ? await observe(c, s) : { livePending: [], liveNodeStatus: {} };
    return { outs: outs(news.api, s, live, task) };
  },
  async delete(_id, props) {
    const s = specOf(props);
    if (s.mode !== "finalizer") return;
    // Destroy: the objects this stack owned are gone from the pending files now; make that real.
    const c = client(props.api);
    const mine = (await pendingChanges(c)).filter((p) => s.owned.includes(p.key));
    if (mine.length) await applySdn(c, s);
  },
};
