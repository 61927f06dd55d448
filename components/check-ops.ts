// The FabricCheck provider's methods (loaded in the provider process through providers/runtime.ts, so the
// SSH pool is the one the host resources use: no extra handshakes). Read-only on every host and in the VM.
//
// The checks run in `diff` too: a converged, healthy fabric gives the same verdicts, so a second `up` has
// nothing to do; a layer that broke since the last run turns the check into an update, and the update fails
// with the diagnosis (unless check.enforce is false). Verdicts, not measurements, are compared (a
// handshake's age changes every second).
import { execFile } from "node:child_process";
import {
  evaluate,
  formatTable,
  hostProbe,
  summarise,
  vmProbe,
  type CheckResult,
  type CheckSpec,
} from "./check";
import type { FirewallView, HostAnswers, VmAnswers } from "./check";
import { pool, probe, probeScript, parseProbe, type SshTarget } from "../providers/host/ssh";
import { clientFor } from "../providers/pve/client";
import type { ApiConfig } from "../providers/pve/transport";
import { fromBool } from "../providers/pve/encode";

export type Probe = { netns: string } | { ssh: SshTarget & { privateKeyEnv?: string } } | undefined;

export interface CheckProps {
  spec: CheckSpec;
  /** The site's PVE API (secret in state): the firewall is read from it. */
  api?: ApiConfig;
  /** node → SSH target (secret in state). */
  connections: Record<string, SshTarget>;
  probe?: Probe;
  enforce: boolean;
  /** How long an update waits for failing checks to pass (the fabric settling after an apply). */
  settleSeconds?: number;
  results?: CheckResult[];
}

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const hasUnknown = (v: unknown): boolean =>
  v === UNKNOWN ||
  (Array.isArray(v) ? v.some(hasUnknown) : !!v && typeof v === "object" && Object.values(v).some(hasUnknown));

function runInNetns(netns: string, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "ip",
      ["netns", "exec", netns, "sh", "-c", script],
      { timeout: 60_000, maxBuffer: 1 << 20 },
      (err, stdout) => {
        // The script frames each command's exit code itself; only a failure to enter the netns is an error.
        if (err && !stdout) reject(new Error(`cannot run in netns ${netns}: ${err.message.split("\n")[0]}`));
        else resolve(stdout);
      },
    );
  });
}

async function probeVm(spec: CheckSpec, p: Probe): Promise<VmAnswers> {
  const sections = vmProbe(spec);
  if (!p) return { none: true };
  if (Object.keys(sections).length === 0) return { sections: {} };
  try {
    if ("netns" in p) return { sections: parseProbe(await runInNetns(p.netns, probeScript(sections))) };
    const { privateKeyEnv, ...target } = p.ssh;
    const key = privateKeyEnv ? process.env[privateKeyEnv] : undefined;
    return { sections: await probe(pool, { ...target, ...(key ? { privateKey: key } : {}) }, sections) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

export async function runChecks(p: CheckProps): Promise<CheckResult[]> {
  const hosts: HostAnswers[] = await Promise.all(
    p.spec.hosts.map(async (h) => {
      const t = p.connections[h.node];
      try {
        return { node: h.node, sections: await probe(pool, t, hostProbe(p.spec, h)) };
      } catch (e) {
        return { node: h.node, error: (e as Error).message };
      }
    }),
  );
  return evaluate(p.spec, hosts, await probeVm(p.spec, p.probe), p.api ? await readFirewall(p) : undefined);
}

async function readFirewall(p: CheckProps): Promise<FirewallView | { error: string }> {
  try {
    const c = clientFor(p.api!);
    const fw = c.cluster.firewall;
    const clusterRules = await fw.rules.list();
    const groups: FirewallView["groups"] = {};
    for (const r of clusterRules)
      if (r.type === "group" && !(r.action in groups))
        groups[r.action] = await fw.groups.rules(r.action).list();
    const nftables: Record<string, boolean> = {};
    for (const h of p.spec.hosts)
      nftables[h.node] = fromBool((await c.nodes.firewall.options(h.node).get()).nftables) === true;
    return {
      clusterEnabled: fromBool((await fw.options.get()).enable) === true,
      nftables,
      clusterRules,
      groups,
    };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const verdicts = (rs: CheckResult[] | undefined) =>
  JSON.stringify((rs ?? []).map((r) => [r.id, r.status]).sort());

const specKey = (p: CheckProps) =>
  JSON.stringify([p.spec, p.probe ?? null, p.enforce, p.settleSeconds ?? 60]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function converge(p: CheckProps) {
  // Right after an SDN apply FRR reloads and BGP exchanges routes in the next seconds (measured in the lab:
  // the first cross-site ping fails, the DF probe 1 s later passes). An update re-runs failing checks until
  // they pass or settleSeconds are up; preview and a no-op up (diff) read once.
  const deadline = Date.now() + (p.settleSeconds ?? 60) * 1000;
  let results = await runChecks(p);
  while (!summarise(results).ok && Date.now() < deadline) {
    await sleep(3000);
    results = await runChecks(p);
  }
  const summary = summarise(results);
  // While the bootstrap is under way (a peer pending, ADR 003) a failure may be its consequence, and failing
  // the update would also withhold this site's outputs (its public keys) that the other sites wait for.
  if (!summary.ok && p.enforce && summary.pending === 0) {
    throw new Error(
      `the fabric check failed on ${p.spec.site}: ${summary.fail} check(s) failed.\n${formatTable(p.spec.site, results)}`,
    );
  }
  return { ...p, results, summary, table: formatTable(p.spec.site, results) };
}

export const provider = {
  async check(_olds: CheckProps, news: CheckProps) {
    const failures: { property: string; reason: string }[] = [];
    if (!hasUnknown(news.spec) && (!news.spec || !Array.isArray(news.spec.hosts)))
      failures.push({ property: "spec", reason: "spec.hosts must list the site's nodes" });
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: CheckProps, news: CheckProps) {
    if (hasUnknown(news)) return { changes: true };
    if (specKey(olds) !== specKey(news)) return { changes: true };
    try {
      return { changes: verdicts(await runChecks(news)) !== verdicts(olds.results) };
    } catch {
      return { changes: true };
    }
  },
  async read(id: string, props: CheckProps) {
    const results = await runChecks(props);
    return {
      id,
      props: { ...props, results, summary: summarise(results), table: formatTable(props.spec.site, results) },
    };
  },
  async create(news: CheckProps) {
    return { id: `fabric-check/${news.spec.site}`, outs: await converge(news) };
  },
  async update(_id: string, _olds: CheckProps, news: CheckProps) {
    return { outs: await converge(news) };
  },
  async delete() {
    // Nothing to remove: the check only reads.
  },
};
