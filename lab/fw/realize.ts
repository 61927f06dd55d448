// Firewall realisation: what pve-firewall/proxmox-firewall do on a node every few seconds, done by the lab at
// once. On every firewall write (and on lab start, and after each node's SDN reload, which changes the +sdn
// sets) each node's ruleset is compiled (compile.ts) and loaded with `nft -f -`: one transaction that
// replaces the lab's own tables and leaves every other table alone. It is loaded into the node's network
// namespace and into each zone-VRF namespace the lab's SDN realisation made for it (on PVE a VRF is a device
// in the node's one network stack, so the node's forward and input hooks see VRF traffic too).
//
// A failure (compile error or `nft` refusing the script) leaves the previous ruleset in place, as
// proxmox-firewall does, and is never silent: it is logged, kept in `status`, and reported through
// `onResult` (the emulator marks the node's SDN status `error`).
import { spawn } from "node:child_process";
import { compileFirewall, type Backend } from "./compile";
import { FirewallCompileError, type FirewallView } from "./model";

export interface NodeRunner {
  /** Runs argv in the node's host (network + mount namespace); resolves stdout, rejects on non-zero exit. */
  run(node: string, argv: string[], input?: string): Promise<string>;
  /** False when this runner cannot reach the node at all (then only a no-op ruleset is skipped quietly). */
  reaches(node: string): boolean;
}

export interface FirewallSource {
  firewallState(): FirewallView;
  readonly version: string;
  readonly nodes: { name: string; ip: string }[];
}

export interface NodeFirewallStatus {
  ok: boolean;
  backend?: Backend;
  /** The namespaces the ruleset was loaded into (host first, then VRFs). */
  namespaces?: string[];
  error?: string;
  at: number;
}

export interface RealizerOptions {
  source: () => FirewallSource;
  runner: NodeRunner;
  /** Sources that may always reach SSH/API besides local_network (the lab operator; see the README). */
  extraManagement?: string[];
  /** Zone-VRF namespaces of a node. Default: `ip netns list` on the node, names starting with `vrf_`. */
  vrfNamespaces?: (node: string) => Promise<string[]>;
  onResult?: (node: string, error: string | undefined) => void;
  log?: (line: string) => void;
  now?: () => number;
}

export class FirewallRealizer {
  readonly status: Record<string, NodeFirewallStatus> = {};
  private chain: Promise<void> = Promise.resolve();
  private pending = false;
  private timer?: NodeJS.Timeout;

  constructor(private readonly opts: RealizerOptions) {}

  /** Fire-and-forget: apply every node, serialised; bursts of writes coalesce into one more pass. */
  changed(): void {
    if (this.pending) return;
    this.pending = true;
    this.chain = this.chain.then(async () => {
      this.pending = false;
      for (const n of this.opts.source().nodes) await this.applyNode(n.name).catch(() => undefined);
    });
  }

  /** Resolves when every requested pass has run. */
  async idle(): Promise<void> {
    let last: Promise<void>;
    do {
      last = this.chain;
      await last;
    } while (last !== this.chain);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  /** Compiles and loads one node's ruleset; throws (after recording it) when that fails. */
  async applyNode(node: string): Promise<NodeFirewallStatus> {
    const src = this.opts.source();
    const at = Date.now();
    try {
      const spec = src.nodes.find((n) => n.name === node);
      if (!spec) throw new Error(`unknown node '${node}'`);
      const run = this.opts.runner;
      const reachable = run.reaches(node);
      const localNetwork = reachable
        ? localNetworks(await run.run(node, ["ip", "-j", "addr", "show"]), spec.ip)
        : [];
      const compiled = compileFirewall({
        fw: src.firewallState(),
        node,
        pveVersion: src.version,
        localNetwork,
        extraManagement: this.opts.extraManagement,
        now: Math.floor((this.opts.now?.() ?? Date.now()) / 1000),
      });
      if (!reachable) {
        if (compiled.backend === "off")
          return this.record(node, { ok: true, backend: "off", namespaces: [], at });
        throw new Error(`the lab cannot reach node '${node}' from where the emulator runs`);
      }
      const vrfs = await (this.opts.vrfNamespaces ?? ((n) => this.listVrfs(n)))(node);
      await run.run(node, ["nft", "-f", "-"], compiled.script);
      for (const ns of vrfs)
        await run.run(node, ["ip", "netns", "exec", ns, "nft", "-f", "-"], compiled.script);
      if (compiled.recompileAt) this.schedule(compiled.recompileAt);
      return this.record(node, { ok: true, backend: compiled.backend, namespaces: ["host", ...vrfs], at });
    } catch (e) {
      const what =
        e instanceof FirewallCompileError ? "firewall config not compiled" : "firewall ruleset not loaded";
      const error = `${what}: ${e instanceof Error ? e.message : String(e)}`.trim();
      this.record(node, { ok: false, error, at });
      throw new Error(error);
    }
  }

  private record(node: string, s: NodeFirewallStatus): NodeFirewallStatus {
    this.status[node] = s;
    this.opts.log?.(
      s.ok
        ? `firewall ${node}: ${s.backend} loaded into ${s.namespaces?.join(", ") || "nothing"}`
        : `firewall ${node}: FAILED: ${s.error}`,
    );
    this.opts.onResult?.(node, s.ok ? undefined : s.error);
    return s;
  }

  private async listVrfs(node: string): Promise<string[]> {
    const out = await this.opts.runner.run(node, ["ip", "netns", "list"]);
    return out
      .split("\n")
      .map((l) => l.split(" ")[0])
      .filter((n) => n.startsWith("vrf_"))
      .sort();
  }

  /** The pve-firewall enable probe ends on its own: compile again then. */
  private schedule(epoch: number) {
    if (this.timer) clearTimeout(this.timer);
    const ms = Math.max(0, epoch * 1000 - (this.opts.now?.() ?? Date.now())) + 50;
    this.timer = setTimeout(() => this.changed(), ms);
    this.timer.unref();
  }
}

/**
 * proxmox-firewall's management_ips(): the network of every interface address that contains one of the
 * node's own addresses (IPv4 here; the lab has no IPv6 node addresses). `ip -j addr show` output in.
 */
export function localNetworks(ipJson: string, nodeIp: string): string[] {
  const links = JSON.parse(ipJson) as {
    addr_info?: { family: string; local: string; prefixlen: number }[];
  }[];
  const ip = v4(nodeIp);
  const out = new Set<string>();
  for (const l of links)
    for (const a of l.addr_info ?? []) {
      if (a.family !== "inet" || ip === undefined) continue;
      const mask = a.prefixlen === 0 ? 0 : (0xffffffff << (32 - a.prefixlen)) >>> 0;
      const net = (v4(a.local)! & mask) >>> 0;
      if ((ip & mask) >>> 0 === net)
        out.add(`${[24, 16, 8, 0].map((s) => (net >>> s) & 255).join(".")}/${a.prefixlen}`);
    }
  return [...out].sort();
}

function v4(a: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  return m ? m.slice(1).reduce((n, o) => n * 256 + Number(o), 0) : undefined;
}

export type ScriptExec = (
  node: string,
  script: string,
) => Promise<{ code: number; stdout: string; stderr: string }>;

/**
 * A runner over "run this sh script on that node" (the lab's SSH/nsenter plumbing, e.g. lab/realize's
 * execOn): argv is quoted, the input goes in as a quoted here-document.
 */
export function scriptRunner(exec: ScriptExec, reaches: (node: string) => boolean = () => true): NodeRunner {
  return {
    reaches,
    async run(node, argv, input) {
      const cmd = argv.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(" ");
      const script =
        input === undefined ? `${cmd}\n` : `${cmd} <<'PVE_FABRIC_FW_EOF'\n${input}PVE_FABRIC_FW_EOF\n`;
      const r = await exec(node, script);
      if (r.code !== 0)
        throw new Error(
          `${argv.join(" ")} on ${node} exited ${r.code}: ${r.stderr.trim().split("\n").slice(-5).join(" | ")}`,
        );
      return r.stdout;
    },
  };
}

/** Runs a script with `sh -s` here (prefix: e.g. nsenter arguments that enter a lab host). */
export function shExec(
  prefix: string[] = [],
): (script: string) => Promise<{ code: number; stdout: string; stderr: string }> {
  return (script) =>
    new Promise((resolve) => {
      const argv = [...prefix, "/bin/sh", "-s"];
      const p = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      p.on("error", (e) => resolve({ code: -1, stdout, stderr: e.message }));
      p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
      p.stdin.end(script);
    });
}

/** The emulator runs inside its first node's host: that node's commands run right here. */
export function localRunner(localNode: string): NodeRunner {
  const sh = shExec();
  return scriptRunner(
    (_node, script) => sh(script),
    (node) => node === localNode,
  );
}

interface NodeStatusHolder {
  state: { nodeSdn: Record<string, { version: number; failed: boolean; message?: string }> };
  save(): void;
}

/**
 * Shows a firewall failure as the node's failure where the program already looks after an apply (the node's
 * SDN status, `error`); a later success clears only a failure this module set. PVE itself only logs it.
 */
export function reportOnNode(emu: NodeStatusHolder, node: string, error: string | undefined): void {
  const st = emu.state.nodeSdn[node];
  if (!st) return;
  const ours = (m?: string) => /^firewall (config|ruleset) not/.test(m ?? "");
  if (error) Object.assign(st, { failed: true, message: error });
  else if (st.failed && ours(st.message)) {
    st.failed = false;
    delete st.message;
  } else return;
  emu.save();
}
