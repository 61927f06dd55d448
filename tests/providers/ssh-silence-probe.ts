// Runs inside a lab's operator namespace (ssh-silence.test.ts): starts a command on a host through the
// SshPool, silences the link while it runs (the argv in SILENCE_ARGV, nft on the host), and prints one JSON
// line: how the command ended, or that it still hung when the watchdog fired.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { SshPool } from "../../providers/host/ssh";

const a = JSON.parse(process.argv[2]) as {
  host: string;
  hostKey: string;
  keyFile: string;
  silence?: string[];
  watchdogMs: number;
};
const t = { host: a.host, hostKey: a.hostKey, privateKey: fs.readFileSync(a.keyFile, "utf8") };
const report = (r: Record<string, unknown>) => {
  console.log(JSON.stringify(r));
  process.exit(0);
};

(async () => {
  const pool = new SshPool({ attempts: 1, attemptTimeoutMs: 3000, log: () => {} });
  await pool.exec(t, "true");
  const t0 = Date.now();
  const running = pool.exec(t, "sleep 2; echo done");
  await new Promise((r) => setTimeout(r, 300));
  if (a.silence) {
    const s = spawnSync(a.silence[0], a.silence.slice(1), { encoding: "utf8" });
    if (s.status !== 0) report({ setupError: s.stderr });
  }
  setTimeout(() => report({ hung: true, seconds: (Date.now() - t0) / 1000 }), a.watchdogMs);
  try {
    const r = await running;
    report({ ok: true, stdout: r.stdout.trim() });
  } catch (e) {
    report({ name: (e as Error).name, message: (e as Error).message });
  }
})();
