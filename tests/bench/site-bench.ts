// Benchmark (not part of `npm test`), DESIGN §5: a no-op `pulumi preview` of one site of the real program,
// against a naive baseline with one `remote.Command` per step, reported as a ratio; and SSH handshakes per
// host per run (the bar: one).
//
// What is measured. The lab "bench…" (per checkout) with the seed's two sites (fabric.yaml), converged by the bootstrap of
// ADR 003 (lab/main.ts); then N (default 3) no-op `pulumi preview -s roz` of index.ts by the real engine in
// the lab's operator namespace, and N no-op previews of the baseline there (a temp stack, scripts/engine.ts).
// Time is wall time of each preview; handshakes and commands come from the PVE_FABRIC_SSH_AUDIT trail of
// providers/host/ssh.ts (every provider process appends to it). The bench fails if our preview shows a
// change or writes to a host; it asserts nothing about time.
//
// Why the baseline is a stand-in. `@pulumi/command`'s provider binary cannot be obtained here (ADR 001), so
// remote.Command cannot run. And a real remote.Command does not read the host on preview at all (its diff
// compares inputs only, so it is blind to drift): timing it would compare a drift-blind preview with one that
// reads every host, which flatters the naive side dishonestly. So the baseline (naive-program/) has
// remote.Command's cost model and ours' duty: every step is its own resource that dials its OWN SSH connection
// (node-ssh, pinned host key, the same private key: a fresh SshPool per step) and runs ONE command, in diff as
// well, so its preview reads the host as ours does. The steps are exactly the commands our providers sent
// during the first measured preview (the audit trail records each command's text; file contents and secrets
// travel on stdin and are never in it). What the baseline leaves out, and so the ratio understates: our PVE
// API reads (the SDN and firewall resources, the check's firewall view) and the check's probe of the VM
// stand-in (`ip netns exec`, not SSH) have no step in it, and its program is smaller than index.ts.
//
// Rows. "one step per command" is the baseline as defined above, and the printed ratio. But our providers
// batch a resource's reads into one probe script (probeScript() in ssh.ts), so that is only a handful of steps;
// "one step per probe read" splits every probe script into its reads, as a program with one remote.Command per
// read would run them. "no step" is the same program without resources: the fixed cost of any preview here
// (CLI, language host, program start, provider process), for reading the other rows. The engine calls Diff
// one resource after another in a preview, so per-step costs add up.
//
// Run (root, the lab needs it): bash scripts/with-env.sh ts-node --transpile-only tests/bench/site-bench.ts [runs]
// PVE_FABRIC_KEEP_LAB=1 keeps the lab and its converged stacks (a rerun then skips most of the bootstrap).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { down, enterArgs, REPO_ROOT } from "../../lab/lab";
import { initStacks, prepare, programDir, pulumi, upSite, type LabProgram } from "../../lab/main";
import { changesOf, tempStack } from "../../scripts/engine";
import { checkoutLabName } from "../lab-name";

const LAB = checkoutLabName("bench");
const SITE = "roz";
const NAIVE = path.join(__dirname, "naive-program");
const keepLab = process.env.PVE_FABRIC_KEEP_LAB === "1";
const log = (l: string) => console.error(l);

interface AuditEvent {
  pid: number;
  host: string;
  event: "handshake" | "exec" | "write";
  command?: string;
}
interface Run {
  seconds: number;
  events: AuditEvent[];
}
interface Step {
  connection: { host: string; port: number; user: string; hostKey: string };
  command: string;
}

/** The audit trail's events so far; the file is removed, so the next run starts empty. */
function takeAudit(file: string): AuditEvent[] {
  const text = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  fs.rmSync(file, { force: true });
  return text
    .split("\n")
    .filter((l) => l)
    .map((l) => JSON.parse(l) as AuditEvent);
}

async function timed<T>(f: () => Promise<T>): Promise<{ value: T; seconds: number }> {
  const t = process.hrtime.bigint();
  const value = await f();
  return { value, seconds: Number(process.hrtime.bigint() - t) / 1e9 };
}

/** ADR 003: every stack first, then every site twice in the same order; round 2 must succeed. */
async function bootstrap(p: LabProgram) {
  await initStacks(p);
  for (const round of [1, 2])
    for (const site of p.sites) {
      const r = await upSite(p, site, () => {});
      log(`[bench] up -s ${site} round ${round}: exit ${r.code} in ${r.seconds.toFixed(1)} s`);
      if (r.code !== 0 && round === 2)
        throw new Error(`up -s ${site} failed:\n${(r.stdout + r.stderr).slice(-4000)}`);
    }
}

/** N no-op previews of the real program; throws if one shows a change or writes. */
async function previewOurs(p: LabProgram, runs: number, audit: string): Promise<Run[]> {
  const withAudit = { ...p, env: { ...p.env, PVE_FABRIC_SSH_AUDIT: audit } };
  const out: Run[] = [];
  takeAudit(audit);
  for (let i = 0; i < runs; i++) {
    const { value: r, seconds } = await timed(() =>
      pulumi(withAudit, ["preview", "--json", "-s", SITE, "--non-interactive"]),
    );
    const events = takeAudit(audit);
    if (r.code !== 0)
      throw new Error(`preview -s ${SITE} failed (exit ${r.code}):\n${r.stderr.slice(-4000)}`);
    const steps = (JSON.parse(r.stdout) as { steps: { op: string; urn: string }[] }).steps;
    const changed = steps.filter((s) => !["same", "read"].includes(s.op)).map((s) => `${s.op} ${s.urn}`);
    if (changed.length > 0)
      throw new Error(
        `the no-op preview of ${SITE} shows changes (run ${i + 1}):\n  ${changed.join("\n  ")}`,
      );
    const writes = events.filter((e) => e.event === "write");
    if (writes.length > 0) throw new Error(`the no-op preview of ${SITE} wrote to a host: ${writes[0].host}`);
    log(`[bench] ours run ${i + 1}/${runs}: ${seconds.toFixed(2)} s, ${events.length} audit events`);
    out.push({ seconds, events });
  }
  return out;
}

/** The baseline's steps: one per command our first preview sent, with that host's pinned key. */
function naiveSteps(p: LabProgram, ours: Run): Step[] {
  const keys = new Map(p.status.sites.flatMap((s) => s.hosts.map((h) => [h.address, h.hostKeyFingerprint])));
  return ours.events
    .filter((e) => e.event === "exec")
    .map((e) => {
      const m = /^(.+)@(.+):(\d+)$/.exec(e.host);
      if (!m || !keys.has(m[2])) throw new Error(`audit names an unknown host ${e.host}`);
      return {
        connection: { user: m[1], host: m[2], port: Number(m[3]), hostKey: keys.get(m[2])! },
        command: e.command!,
      };
    });
}

// The framing of providers/host/ssh.ts probeScript(): one section per read.
const SECTION =
  /echo @@pve-fabric-probe@@ \S+; \( ([\s\S]*?) \) 2>\/dev\/null; rc=\$\?; echo; echo @@pve-fabric-probe@@rc \$rc/g;

/** The same steps with every probe script split into its reads: one step per read. */
function perRead(steps: Step[]): Step[] {
  return steps.flatMap((s) => {
    const reads = [...s.command.matchAll(SECTION)].map((m) => m[1]);
    if (reads.length !== s.command.split("echo @@pve-fabric-probe@@ ").length - 1)
      throw new Error(`cannot split the probe script (has probeScript() changed?):\n${s.command}`);
    return reads.length > 0 ? reads.map((command) => ({ ...s, command })) : [s];
  });
}

/** The running `--naive` child: on a signal it gets SIGTERM and removes its temp stack before we go on. */
let naiveChild: { kill(): void; done: Promise<unknown> } | undefined;

/** Runs this file with `--naive` inside the operator namespace (tempStack drives the CLI from Node). */
function naiveInOperator(p: LabProgram, stepsFile: string, runs: number): Promise<Run[]> {
  const argv = [
    ...enterArgs(LAB, "operator"),
    process.execPath,
    "-r",
    "ts-node/register/transpile-only",
    __filename,
    "--naive",
    stepsFile,
    String(runs),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: REPO_ROOT,
      env: { ...process.env, PVE_FABRIC_LAB_SSH_KEY: p.env.PVE_FABRIC_LAB_SSH_KEY },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    const done = new Promise((closed) => child.on("close", closed));
    naiveChild = { kill: () => child.kill("SIGTERM"), done };
    child.on("close", (code) => {
      naiveChild = undefined;
      if (code === 0) resolve(JSON.parse(stdout) as Run[]);
      else reject(new Error(`the naive baseline failed (exit ${code})`));
    });
  });
}

/** `--naive` mode, in the operator namespace: a temp stack of naive-program/, one up, N previews. */
async function naive(stepsFile: string, runs: number): Promise<void> {
  const audit = path.join(os.tmpdir(), `site-bench-naive-${process.pid}.jsonl`);
  const t = await tempStack(NAIVE, "naive", { PVE_FABRIC_SSH_AUDIT: audit });
  // On a signal the running CLI gets SIGINT (the engine's own graceful cancel, which stops its plugins); the
  // run then fails and `finally` removes the stack. (A listener must stay registered: without one, the
  // automation API's exit hook would re-raise the signal and kill us before that.)
  const abort = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => abort.abort());
  try {
    const steps = (JSON.parse(fs.readFileSync(stepsFile, "utf8")) as Step[]).length;
    await t.stack.setAllConfig({
      stepsFile: { value: stepsFile },
      sshPrivateKey: { value: process.env.PVE_FABRIC_LAB_SSH_KEY!, secret: true },
    });
    const up = await timed(() => t.stack.up({ signal: abort.signal }));
    const created = changesOf(up.value.summary.resourceChanges).create ?? 0;
    if (created !== steps + 1)
      throw new Error(`naive up created ${created} resources, expected ${steps + 1}`);
    log(`[bench] naive up: ${steps} steps created in ${up.seconds.toFixed(1)} s`);
    takeAudit(audit);
    const out: Run[] = [];
    for (let i = 0; i < runs; i++) {
      const { value: pv, seconds } = await timed(() => t.stack.preview({ signal: abort.signal }));
      const changes = changesOf(pv.changeSummary);
      if (Object.keys(changes).length > 0)
        throw new Error(`the naive no-op preview shows changes: ${JSON.stringify(changes)}`);
      const events = takeAudit(audit);
      log(`[bench] naive run ${i + 1}/${runs}: ${seconds.toFixed(2)} s, ${events.length} audit events`);
      out.push({ seconds, events });
    }
    process.stdout.write(JSON.stringify(out));
  } finally {
    await t.dispose();
    fs.rmSync(audit, { force: true });
  }
}

const secondsOf = (runs: Run[]) => runs.map((r) => r.seconds).sort((a, b) => a - b);
const median = (xs: number[]) =>
  xs.length % 2 ? xs[(xs.length - 1) / 2] : (xs[xs.length / 2 - 1] + xs[xs.length / 2]) / 2;

/** A table row: times, handshakes per host and commands per run (a range when runs differ), ratio to ours. */
function row(name: string, runs: Run[], ours: Run[], hostName: (id: string) => string): string[] {
  const s = secondsOf(runs);
  const perHost = new Map<string, Set<number>>();
  const commands = new Set<number>();
  for (const r of runs) {
    const count: Record<string, number> = {};
    for (const e of r.events) if (e.event === "handshake") count[e.host] = (count[e.host] ?? 0) + 1;
    for (const [h, n] of Object.entries(count)) perHost.set(h, (perHost.get(h) ?? new Set()).add(n));
    commands.add(r.events.filter((e) => e.event !== "handshake").length);
  }
  const range = (xs: Set<number>) =>
    xs.size === 1 ? `${[...xs][0]}` : `${Math.min(...xs)}-${Math.max(...xs)}`;
  return [
    name,
    median(s).toFixed(2),
    s[0].toFixed(2),
    s[s.length - 1].toFixed(2),
    [...perHost].map(([h, n]) => `${hostName(h)} ${range(n)}`).join(", ") || "-",
    range(commands),
    runs === ours ? "1" : (median(s) / median(secondsOf(ours))).toFixed(2),
  ];
}

async function main() {
  if (process.argv[2] === "--naive") return naive(process.argv[3], Number(process.argv[4]));
  const runs = Number(process.argv[2] ?? 3);
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`runs must be a positive integer, got ${process.argv[2]}`);
  const t0 = Date.now();
  const audit = path.join(os.tmpdir(), `site-bench-ours-${process.pid}.jsonl`);
  const stepsFile = path.join(os.tmpdir(), `site-bench-steps-${process.pid}.json`);
  let cleaned: Promise<void> | undefined;
  const cleanup = () => (cleaned ??= tearDown());
  const tearDown = async () => {
    fs.rmSync(audit, { force: true });
    fs.rmSync(stepsFile, { force: true });
    if (keepLab)
      return log(`[bench] PVE_FABRIC_KEEP_LAB=1: lab ${LAB} stays up (npm run lab -- down --name ${LAB})`);
    await down(LAB);
    fs.rmSync(programDir(LAB), { recursive: true, force: true });
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.on(sig, () => {
      naiveChild?.kill();
      void (naiveChild?.done ?? Promise.resolve()).then(cleanup).finally(() => process.exit(130));
    });
  try {
    if (!keepLab) {
      await down(LAB);
      fs.rmSync(programDir(LAB), { recursive: true, force: true });
    }
    const p = await prepare({ name: LAB, log: () => {} });
    log(`[bench] lab ${LAB} up in ${((Date.now() - t0) / 1000).toFixed(1)} s; bootstrap (ADR 003)`);
    await bootstrap(p);
    const ours = await previewOurs(p, runs, audit);
    const commands = naiveSteps(p, ours[0]);
    const baseline = async (label: string, steps: Step[]) => {
      log(`[bench] naive baseline, ${label}: ${steps.length} steps`);
      fs.writeFileSync(stepsFile, JSON.stringify(steps));
      return naiveInOperator(p, stepsFile, runs);
    };
    const naiveCommands = await baseline("one step per command", commands);
    const naiveReads = await baseline("one step per read", perRead(commands));
    const floor = await baseline("no steps (the engine floor)", []);

    const names = new Map(
      p.status.sites.flatMap((s) =>
        s.hosts.map((h) => [`${h.sshUser}@${h.address}:22`, `${s.name}/${h.name}`]),
      ),
    );
    const hostName = (h: string) => names.get(h) ?? h;
    const table = [
      ["", "median s", "min s", "max s", "SSH handshakes per host per run", "commands per run", "/ ours"],
      row("ours (index.ts)", ours, ours, hostName),
      row("naive, one step per command", naiveCommands, ours, hostName),
      row("naive, one step per probe read", naiveReads, ours, hostName),
      row("naive program with no step", floor, ours, hostName),
    ];
    const widths = table[0].map((_, c) => Math.max(...table.map((r) => r[c].length)));
    console.log(`no-op \`pulumi preview -s ${SITE}\`, lab ${LAB} (2 sites, converged), ${runs} runs each`);
    for (const r of table)
      console.log(r.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join("  "));
    console.log(
      `ratio naive/ours (median): ${(median(secondsOf(naiveCommands)) / median(secondsOf(ours))).toFixed(2)}`,
    );
  } finally {
    await cleanup();
    log(`[bench] done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
