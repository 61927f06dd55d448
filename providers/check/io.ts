// How the fabric check reaches what it measures, for the provider process: the nodes over the shared SSH pool
// (one probe round = one exec on the connection the host resources already opened: no extra handshakes), the
// sdntest VM over SSH or, in the lab, in its network namespace on this machine, and the firewall through the
// PVE API. Read-only everywhere. The check's logic (components/check/) only sees the CheckIO it builds.
import { execFile } from "node:child_process";
import type { CheckIO, FirewallView, Sections } from "../../components/check";
import { pool, probe, probeScript, parseProbe, type SshTarget } from "../host/ssh";
import { clientFor } from "../pve/client";
import { fromBool } from "../pve/encode";
import type { ApiConfig } from "../pve/transport";

/** How the check runs commands in the sdntest VM (pve-fabric-site:sdntest.probe). */
export type Probe = { netns: string } | { ssh: SshTarget & { privateKeyEnv?: string } } | undefined;

export interface CheckReach {
  /** node → SSH target. */
  connections: Record<string, SshTarget>;
  probe?: Probe;
  /** The site's PVE API: the firewall is read from it. */
  api?: ApiConfig;
}

/** Runs a probe script in a network namespace of this machine (the lab's VM stand-in). */
function runInNetns(netns: string, script: string): Promise<Sections> {
  return new Promise((resolve, reject) => {
    // argv, no shell between us and `ip`: the namespace name is one argument, the script is sh's own.
    execFile(
      "ip",
      ["netns", "exec", netns, "sh", "-c", script],
      { timeout: 60_000, maxBuffer: 1 << 20 },
      (err, stdout) => {
        // The script frames each command's exit code itself; only a failure to enter the netns is an error.
        if (err && !stdout) reject(new Error(`cannot run in netns ${netns}: ${err.message.split("\n")[0]}`));
        else resolve(parseProbe(stdout));
      },
    );
  });
}

function vmRunner(p: NonNullable<Probe>): NonNullable<CheckIO["vm"]> {
  if ("netns" in p) return (commands) => runInNetns(p.netns, probeScript(commands));
  const { privateKeyEnv, ...target } = p.ssh;
  return (commands) => {
    const key = privateKeyEnv ? process.env[privateKeyEnv] : undefined;
    return probe(pool, { ...target, ...(key ? { privateKey: key } : {}) }, commands);
  };
}

async function readFirewall(api: ApiConfig, nodes: string[]): Promise<FirewallView> {
  const c = clientFor(api);
  const fw = c.cluster.firewall;
  const clusterRules = await fw.rules.list();
  const groups: FirewallView["groups"] = {};
  for (const r of clusterRules)
    if (r.type === "group" && !(r.action in groups))
      groups[r.action] = await fw.groups.rules(r.action).list();
  const nftables: Record<string, boolean> = {};
  for (const node of nodes)
    nftables[node] = fromBool((await c.nodes.firewall.options(node).get()).nftables) === true;
  return {
    clusterEnabled: fromBool((await fw.options.get()).enable) === true,
    nftables,
    clusterRules,
    groups,
  };
}

export function checkIO(r: CheckReach): CheckIO {
  return {
    host: (node, commands) => {
      const t = r.connections[node];
      if (!t) return Promise.reject(new Error(`no connection configured for node ${node}`));
      return probe(pool, t, commands);
    },
    ...(r.probe ? { vm: vmRunner(r.probe) } : {}),
    ...(r.api ? { firewall: (nodes: string[]) => readFirewall(r.api!, nodes) } : {}),
  };
}
