// The FabricCheck provider (components/fabric-check.ts is the resource). Loaded in the provider process
// through providers/runtime.ts, so it shares the SSH pool of the host resources: no extra handshakes.
// Read-only on every host, in the VM and in PVE.
//
// The checks run in `diff` too: a converged, healthy fabric gives the same verdicts, so a second `up` has
// nothing to do; a layer that broke since the last run turns the check into an update, and the update fails
// with the diagnosis (unless check.enforce is false). Verdicts, not measurements, are compared (a
// handshake's age changes every second).
import {
  formatTable,
  runChecks,
  summarise,
  type CheckIO,
  type CheckResult,
  type CheckSpec,
} from "../../components/check";
import type { SshTarget } from "../host/ssh";
import type { ApiConfig } from "../pve/transport";
import { checkIO, type Probe } from "./io";

export type { Probe } from "./io";

/**
 * The resource's inputs (and, with results/summary/table, its outputs). Stacks deployed by earlier versions
 * hold exactly this shape: change it only together with a reading of the old one.
 */
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

const ioOf = (p: CheckProps): CheckIO => checkIO({ connections: p.connections, probe: p.probe, api: p.api });

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
  const io = ioOf(p);
  let results = await runChecks(p.spec, io);
  while (!summarise(results).ok && Date.now() < deadline) {
    await sleep(3000);
    results = await runChecks(p.spec, io);
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
      return { changes: verdicts(await runChecks(news.spec, ioOf(news))) !== verdicts(olds.results) };
    } catch {
      return { changes: true };
    }
  },
  async read(id: string, props: CheckProps) {
    const results = await runChecks(props.spec, ioOf(props));
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
