// The emulator's `realize(node, running)` seam for lab hosts: what PVE's `srvreload` does on a node after an
// SDN apply — generate /etc/network/interfaces.d/sdn and /etc/frr/frr.conf from the running config and the
// node's live routing table, write them, reload the network (ifreload -a) and FRR — with the lab's
// translation step (translate.ts) in between, because this kernel has no VRF devices. Any step that fails
// makes the node's SDN status `error` with the step and its output as the reason.
//
// Where it runs: the emulator lives in the site's first host (its namespaces), so that node is reached by
// running commands directly; every other node of the site over SSH with the lab's operator key, the way PVE
// nodes of one cluster reach each other as root.
import { spawn } from "node:child_process";
import type { RunningConfig } from "../pve/state";
import { generateSdn } from "../sdn/generate";
import type { RouteAnswer } from "../sdn/interfaces";
import { q } from "../host";
import { translate } from "./translate";

export interface NodeTarget {
  name: string;
  /** Absent: this process already runs inside the node's namespaces. */
  ssh?: { address: string; keyFile: string; knownHostsFile: string };
}

export class RealiseFailure extends Error {}

/** Runs a shell script on a node; resolves with its output, whatever its exit code. */
export function execOn(
  t: NodeTarget,
  script: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = t.ssh
    ? [
        "ssh",
        "-i",
        t.ssh.keyFile,
        "-o",
        `UserKnownHostsFile=${t.ssh.knownHostsFile}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=5",
        `root@${t.ssh.address}`,
        "sh -s",
      ]
    : ["/bin/sh", "-s"];
  return new Promise((resolve) => {
    const p = spawn(argv[0], argv.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", (e) => resolve({ code: -1, stdout, stderr: e.message }));
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.on("error", () => {});
    p.stdin.end(script);
  });
}

const SEP = "\n--8<-- lab --8<--\n";
const ROUTE_TARGETS_V = ["8.8.8.8", "2001:4860:4860::8888"];

/** The first peer of every EVPN controller: what PVE may ask `ip route get` for (the VTEP fallback). */
function routeTargets(running: RunningConfig): string[] {
  const t = new Set(ROUTE_TARGETS_V);
  for (const c of Object.values(running.controllers.ids)) {
    if (c.type !== "evpn" || typeof c.peers !== "string") continue;
    const first = c.peers.split(/[,; ]+/).filter(Boolean)[0];
    if (first) t.add(first);
  }
  return [...t];
}

/** `ip -j route get` output → what the generator's routeLookup answers. */
function routeAnswer(json: string): RouteAnswer | undefined {
  try {
    const r = (JSON.parse(json) as { dev?: string; prefsrc?: string }[])[0];
    return r ? { dev: r.dev, src: r.prefsrc } : undefined;
  } catch {
    return undefined; // "Network is unreachable": no JSON
  }
}

const file = (path: string, content: string, mode = "644") =>
  `t=$(mktemp ${q(path)}.XXXXXX) && printf %s ${q(Buffer.from(content).toString("base64"))} | base64 -d >"$t" && ` +
  `chmod ${mode} "$t" && mv "$t" ${q(path)}`;

export interface RealiseReport {
  warnings: string[];
  log: string;
}

/** Brings one node to `running`. Throws RealiseFailure naming the node, the step and the output. */
export async function realiseNode(t: NodeTarget, running: RunningConfig): Promise<RealiseReport> {
  // One line, like a PVE task's exit status: the step, then ifupdown2's `error:` lines (else the tail).
  const fail = (step: string, out: string): never => {
    const lines = out
      .trim()
      .split("\n")
      .filter((l) => l.trim());
    const errors = lines.filter((l) => /^error:/.test(l));
    const why = (errors.length ? errors : lines.slice(-3)).join(" | ");
    throw new RealiseFailure(
      `Unable to realise SDN on node '${t.name}': ${step} failed${why ? `: ${why}` : ""}`,
    );
  };
  // 1. What PVE reads from the node while generating: the interfaces file, the old sdn file, routes, MACs.
  const targets = routeTargets(running);
  const facts = await execOn(
    t,
    [
      "cat /etc/network/interfaces",
      `printf %s ${q(SEP)}`,
      "cat /etc/network/interfaces.d/sdn 2>/dev/null || true",
      ...targets.flatMap((x) => [`printf %s ${q(SEP)}`, `ip -j route get ${q(x)} 2>/dev/null || true`]),
      `printf %s ${q(SEP)}`,
      "ip -j link show",
    ].join("\n"),
  );
  if (facts.code !== 0) fail("reading /etc/network/interfaces", facts.stderr);
  const parts = facts.stdout.split(SEP);
  const [interfacesText, previousSdn] = parts;
  const routes = new Map(targets.map((x, i) => [x, routeAnswer(parts[2 + i])]));
  const links = JSON.parse(parts[2 + targets.length] || "[]") as {
    ifname: string;
    address?: string;
    master?: string;
  }[];
  const mac = (i: string) => {
    const l = links.find((x) => x.ifname === i);
    return (l?.master ? links.find((x) => x.ifname === l.master)?.address : undefined) ?? l?.address;
  };

  // 2. Generate exactly what PVE writes, then translate it for this kernel and FRR.
  let gen;
  let tr;
  try {
    gen = generateSdn(running, t.name, interfacesText, { routeLookup: (x) => routes.get(x), ifaceMac: mac });
    tr = translate({ interfacesSdn: gen.interfacesSdn, previousSdn, frrConf: gen.frrConf });
  } catch (e) {
    return fail("generating the config", e instanceof Error ? e.message : String(e));
  }

  // 3. Write the files as PVE does; check the node's interfaces as `ifreload -a` would (the generated
  //    stanzas excluded: their VRF parts fail on this kernel and the translation owns them).
  const ifreload = ["ifreload -a", ...tr.sdnIfaces.map((i) => `-X ${q(i)}`)].join(" ");
  const write = await execOn(
    t,
    [
      "set -e",
      "mkdir -p /etc/network/interfaces.d",
      file("/etc/network/interfaces.d/sdn", gen.interfacesSdn),
      file("/etc/frr/frr.conf.pve", gen.frrConf),
      file("/etc/frr/frr.conf", tr.frrConf),
      "chown frr:frr /etc/frr/frr.conf /etc/frr/frr.conf.pve 2>/dev/null || true",
      `${ifreload} 2>&1`,
    ].join("\n"),
  );
  if (write.code !== 0)
    fail("writing the files and `ifreload -a` (generated stanzas excluded)", write.stdout + write.stderr);

  // 4. The kernel: the translated script (idempotent).
  const kernel = await execOn(t, tr.script);
  if (kernel.code !== 0) fail("bringing the kernel to the generated state", kernel.stderr);

  // 5. FRR: zebra needs the netns VRF backend (-n); a running FRR is reloaded the way PVE reloads it.
  const frr = await execOn(
    t,
    [
      "set -e",
      "d=/etc/frr/daemons",
      "restart=0",
      `if ! grep -Eq '^zebra_options=.*[[:space:]]-n([[:space:]"]|$)' "$d"; then`,
      `  sed -i -E 's/^(zebra_options="[^"]*)"/\\1 -n"/' "$d"; restart=1; fi`,
      'if [ -e /run/frr/watchfrr.pid ] && kill -0 "$(cat /run/frr/watchfrr.pid)" 2>/dev/null; then',
      "  if [ $restart = 1 ]; then /usr/lib/frr/frrinit.sh restart >/dev/null 2>&1",
      "  else /usr/lib/frr/frr-reload.py --reload /etc/frr/frr.conf >/var/log/frr/lab-reload.log 2>&1 ||",
      "    { echo 'frr-reload.py failed, restarting frr (as PVE does)' >&2; /usr/lib/frr/frrinit.sh restart >/dev/null 2>&1; }",
      "  fi",
      "fi",
    ].join("\n"),
  );
  if (frr.code !== 0) fail("reloading FRR", frr.stderr + frr.stdout);
  return {
    warnings: [...gen.warnings, ...kernel.stderr.split("\n").filter((l) => l.startsWith("warning:"))],
    log: kernel.stderr,
  };
}

export interface LabRealiseConfig {
  /** The node this process runs in (the site's first), then the others with their SSH addresses. */
  local: string;
  nodes: Record<string, string>; // name -> address
  keyFile: string;
  knownHostsFile: string;
}

export function targetOf(cfg: LabRealiseConfig, node: string): NodeTarget {
  if (node === cfg.local) return { name: node };
  const address = cfg.nodes[node];
  if (!address) throw new RealiseFailure(`Unable to realise SDN on node '${node}': the lab has no such node`);
  return { name: node, ssh: { address, keyFile: cfg.keyFile, knownHostsFile: cfg.knownHostsFile } };
}

/** The emulator's `realize` seam for a lab site. */
export function labRealizer(cfg: LabRealiseConfig, log: (l: string) => void = () => {}) {
  return async (node: string, running: RunningConfig): Promise<void> => {
    const r = await realiseNode(targetOf(cfg, node), running);
    for (const w of r.warnings) log(`${node}: ${w}`);
  };
}
