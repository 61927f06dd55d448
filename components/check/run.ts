// One check round: run the probes through the I/O it is given, evaluate, render. How the check reaches the
// nodes, the sdntest VM and the PVE API is passed in (providers/check/io.ts in the provider; recorded
// answers in the tests), so everything here runs without a network.
import { evaluate } from "./evaluate";
import { hostProbe, vmProbe } from "./probes";
import { render } from "./report";
import type { Answers, CheckResult, CheckSpec, FirewallView, HostAnswers, Sections, VmAnswers } from "./spec";

export interface CheckIO {
  /** Runs the commands on a node in one probe round (one SSH exec); rejects when the node is unreachable. */
  host(node: string, commands: Record<string, string>): Promise<Sections>;
  /** Runs the commands inside the sdntest VM; absent when no probe is configured (VM checks skipped). */
  vm?(commands: Record<string, string>): Promise<Sections>;
  /** Reads the PVE firewall (cluster rules, groups, options; nftables per node); absent without an API. */
  firewall?(nodes: string[]): Promise<FirewallView>;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Every probe of one round, concurrently; a failure to reach something is an answer, not an exception. */
export async function gather(spec: CheckSpec, io: CheckIO): Promise<Answers> {
  const hosts = Promise.all(
    spec.hosts.map(async (h): Promise<HostAnswers> => {
      try {
        return { node: h.node, sections: await io.host(h.node, hostProbe(spec, h)) };
      } catch (e) {
        return { node: h.node, error: message(e) };
      }
    }),
  );
  const vm = (async (): Promise<VmAnswers> => {
    if (!io.vm) return { none: true };
    const commands = vmProbe(spec);
    if (Object.keys(commands).length === 0) return { sections: {} };
    try {
      return { sections: await io.vm(commands) };
    } catch (e) {
      return { error: message(e) };
    }
  })();
  const firewall = (async (): Promise<Answers["firewall"]> => {
    if (!io.firewall) return undefined;
    try {
      return await io.firewall(spec.hosts.map((h) => h.node));
    } catch (e) {
      return { error: message(e) };
    }
  })();
  return { hosts: await hosts, vm: await vm, firewall: await firewall };
}

/** One round: probe, evaluate, render the published rows. */
export async function runChecks(spec: CheckSpec, io: CheckIO): Promise<CheckResult[]> {
  return evaluate(spec, await gather(spec, io)).map(render);
}
