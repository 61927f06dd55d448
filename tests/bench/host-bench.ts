// Benchmark (not part of `npm test`): one lab host converged by the host providers under the REAL engine.
// Prints SSH handshakes per host (counted by the pool's audit trail, across every provider process) and wall
// time for `up` from scratch, a no-op `up` and a no-op `preview`; then destroys and checks the host.
// Run: bash scripts/with-env.sh ts-node --transpile-only tests/bench/host-bench.ts
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { changesOf, tempStack } from "../../scripts/engine";
import { byHand, labDown, labUp, LAB, runInOperator, statusOf } from "../providers/host-lab";

const PROGRAM = path.join(__dirname, "host-program");

async function inOperator() {
  const s = statusOf(LAB);
  const roz = s.sites[0].hosts[0];
  // The audit trail counts handshakes across every provider process of every run.
  const audit = path.join(os.tmpdir(), `host-bench-audit-${process.pid}.jsonl`);
  const {
    stack,
    stateDir: backend,
    dispose,
  } = await tempStack(PROGRAM, "bench", { PVE_FABRIC_SSH_AUDIT: audit });
  const sshKey = fs.readFileSync(s.operator!.sshPrivateKeyFile, "utf8");
  await stack.setAllConfig({
    host: { value: roz.address },
    hostKey: { value: roz.hostKey },
    sshPrivateKey: { value: sshKey, secret: true },
    peerPublicKey: { value: "Nq5Xm6y7Fq1V3o1H0cQ9bq0gC2Tt8pR3nH8xk2bqz0s=" },
    peerEndpoint: { value: `${s.sites[1].hosts[0].address}:51820` },
  });
  const handshakes = () => {
    const lines = fs.existsSync(audit)
      ? fs
          .readFileSync(audit, "utf8")
          .trim()
          .split("\n")
          .filter((l) => l)
      : [];
    fs.rmSync(audit, { force: true });
    const ev = lines.map((l) => JSON.parse(l) as { host: string; event: string; pid: number });
    const per: Record<string, number> = {};
    for (const e of ev.filter((x) => x.event === "handshake")) per[e.host] = (per[e.host] ?? 0) + 1;
    return {
      per,
      writes: ev.filter((x) => x.event === "write").length,
      commands: ev.length - Object.values(per).reduce((a, b) => a + b, 0),
      pids: new Set(ev.map((x) => x.pid)).size,
    };
  };
  const timed = async <T>(f: () => Promise<T>) => {
    const t = Date.now();
    const v = await f();
    return { v, s: (Date.now() - t) / 1000 };
  };
  const rows: string[] = [];
  const row = (name: string, s: number, h: ReturnType<typeof handshakes>, extra = "") =>
    rows.push(
      `${name.padEnd(16)} ${s.toFixed(1).padStart(6)} s  handshakes/host ${JSON.stringify(h.per)}  commands ${h.commands}  writes ${h.writes}  provider processes ${h.pids}${extra}`,
    );
  try {
    handshakes();
    const up1 = await timed(() => stack.up());
    row("up (scratch)", up1.s, handshakes(), `  ${JSON.stringify(changesOf(up1.v.summary.resourceChanges))}`);
    const up2 = await timed(() => stack.up());
    row("up (no-op)", up2.s, handshakes(), `  ${JSON.stringify(changesOf(up2.v.summary.resourceChanges))}`);
    const pv = await timed(() => stack.preview());
    row("preview (no-op)", pv.s, handshakes(), `  ${JSON.stringify(changesOf(pv.v.changeSummary))}`);
    byHand(s, roz, "sysctl -q -w net.ipv4.conf.all.rp_filter=2");
    const pd = await timed(() => stack.preview());
    row(
      "preview (drift)",
      pd.s,
      handshakes(),
      `  ${JSON.stringify(changesOf(pd.v.changeSummary))} after rp_filter=2 by hand`,
    );
    // The state file as the backend stores it (exportStack() would decrypt: it passes --show-secrets).
    const stateDir = path.join(backend, ".pulumi/stacks/host-bench");
    const state = fs
      .readdirSync(stateDir)
      .map((f) => fs.readFileSync(path.join(stateDir, f), "utf8"))
      .join("\n");
    const wgKey = byHand(s, roz, "cat /etc/wireguard/wg0.key").trim();
    const body = sshKey.split("\n").filter((l) => l && !l.startsWith("-----"));
    rows.push(
      `state secrets    WireGuard private key in state: ${state.includes(wgKey)}; SSH key lines in state: ${body.filter((l) => state.includes(l)).length}/${body.length}`,
    );
    const d = await timed(() => stack.destroy());
    row("destroy", d.s, handshakes());
  } finally {
    await dispose();
    fs.rmSync(audit, { force: true });
  }
  console.log(rows.join("\n"));
}

async function main() {
  if (process.argv[2] === "--inside") return inOperator();
  await labDown();
  await labUp();
  try {
    const r = await runInOperator("tests/bench/host-bench.ts", ["--inside"]);
    process.stdout.write(r.stdout);
    if (r.code !== 0) process.stderr.write(r.stderr);
  } finally {
    await labDown();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
