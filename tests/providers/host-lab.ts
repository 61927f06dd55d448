// Lab plumbing for the host provider tests and the benchmark: a lab of our own (name "hostp" + a hash of the checkout), OpenSSH
// "by hand" access for drift injection, and running a script inside the operator namespace (lab hosts are
// reachable only from there).
import { execFileSync, spawn } from "node:child_process";
import * as path from "node:path";
import { down, enterArgs, statusOf, up, type LabStatus } from "../../lab/lab";
import { checkoutLabName } from "../lab-name";

export const LAB = process.env.HOST_TEST_LAB ?? checkoutLabName("hostp");
const ROOT = path.resolve(__dirname, "../..");

export async function labUp(): Promise<LabStatus> {
  const s = await up({ name: LAB, sites: [{ name: "roz" }, { name: "wro" }] }, { api: false });
  if (s.state !== "up") throw new Error(`lab ${LAB} is ${s.state}: ${s.problems.join("; ")}`);
  return s;
}

export async function labDown(): Promise<void> {
  await down(LAB);
}

export { statusOf };

/** Runs `ts-node <script> <args>` inside the operator namespace; resolves with its stdout and stderr. */
export function runInOperator(script: string, args: string[], env: Record<string, string> = {}) {
  const argv = [
    ...enterArgs(LAB, "operator"),
    process.execPath,
    "-r",
    "ts-node/register/transpile-only",
    path.join(ROOT, script),
    ...args,
  ];
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const p = spawn(argv[0], argv.slice(1), { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A command on a lab host through plain OpenSSH, host key pinned: how a person would change it by hand. */
export function byHand(s: LabStatus, host: { address: string }, cmd: string): string {
  const op = s.operator;
  if (!op) throw new Error(`lab ${LAB} has no operator`);
  return execFileSync(
    "ssh",
    [
      "-i",
      op.sshPrivateKeyFile,
      "-o",
      `UserKnownHostsFile=${op.knownHostsFile}`,
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "BatchMode=yes",
      `root@${host.address}`,
      cmd,
    ],
    { encoding: "utf8" },
  );
}
