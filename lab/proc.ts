// Running the commands the lab is built from, with one error type for all of them.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";

export class LabCommandError extends Error {
  constructor(
    readonly command: string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    const tail = stderr.trim().split("\n").slice(-8).join("\n");
    super(`lab: '${command.join(" ")}' failed (exit ${exitCode ?? "signal"})${tail ? `:\n${tail}` : ""}`);
  }
}

export interface RunOptions {
  input?: string;
  allowFail?: boolean;
}

/** Runs a command to completion; throws LabCommandError on a non-zero exit unless allowFail. */
export function run(
  argv: string[],
  opts: RunOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0], argv.slice(1), {
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout!.on("data", (d) => (stdout += d));
    p.stderr!.on("data", (d) => (stderr += d));
    p.on("error", (e) => reject(new LabCommandError(argv, null, e.message)));
    p.on("close", (code) => {
      if (code !== 0 && !opts.allowFail) reject(new LabCommandError(argv, code, stderr || stdout));
      else resolve({ code: code ?? -1, stdout, stderr });
    });
    if (p.stdin) {
      // A command may exit without reading its input; that EPIPE is its exit status's business, not ours.
      p.stdin.on("error", () => {});
      p.stdin.end(opts.input);
    }
  });
}

/** Synchronous variant for the few calls that sit in plain control flow (down, status). */
export function runSync(
  argv: string[],
  opts: RunOptions = {},
): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(argv[0], argv.slice(1), { input: opts.input ?? "", encoding: "utf8" });
  const code = r.status ?? -1;
  if (r.error) throw new LabCommandError(argv, null, r.error.message);
  if (code !== 0 && !opts.allowFail) throw new LabCommandError(argv, code, r.stderr || r.stdout);
  return { code, stdout: r.stdout, stderr: r.stderr };
}

/** Starts a long-lived process detached from us, stdout+stderr into a log file; returns its pid. */
export function startDetached(argv: string[], logFile: string, cwd?: string): number {
  const fd = fs.openSync(logFile, "a", 0o600);
  try {
    const p = spawn(argv[0], argv.slice(1), { detached: true, stdio: ["ignore", fd, fd], cwd });
    if (p.pid === undefined) throw new LabCommandError(argv, null, "spawn failed");
    p.unref();
    return p.pid;
  } finally {
    fs.closeSync(fd);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls until check() returns a value, or fails with what() after timeoutMs. */
export async function waitFor<T>(
  check: () => T | undefined | false,
  timeoutMs: number,
  what: () => string,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(what());
    await sleep(15);
  }
}

// ---------------------------------------------------------------------------------------------------
// Processes, by namespace membership (never by name)

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  state: string;
  startTime: string;
}

export function procInfo(pid: number): ProcInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const rest = stat.slice(close + 2).split(" ");
    return {
      pid,
      comm: stat.slice(stat.indexOf("(") + 1, close),
      state: rest[0],
      ppid: Number(rest[1]),
      startTime: rest[19],
    };
  } catch {
    return undefined;
  }
}

/** True while pid runs (zombies count as gone) and, if given, started at startTime (no pid reuse). */
export function alive(pid: number, startTime?: string): boolean {
  const p = procInfo(pid);
  return !!p && p.state !== "Z" && p.state !== "X" && (startTime === undefined || p.startTime === startTime);
}

/** Inode of a namespace file (/run/netns/x, /proc/<pid>/ns/mnt), or undefined if it is gone. */
export function nsInode(path: string): number | undefined {
  try {
    return fs.statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** Pids whose net or mount namespace is one of the given inodes. Zombies have no namespaces: not listed. */
export function pidsInNamespaces(netInodes: Set<number>, mntInodes: Set<number>): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(e) || Number(e) === process.pid) continue;
    for (const [kind, set] of [
      ["net", netInodes],
      ["mnt", mntInodes],
    ] as const) {
      if (!set.size) continue;
      try {
        const m = /\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${e}/ns/${kind}`));
        if (m && set.has(Number(m[1]))) {
          out.push(Number(e));
          break;
        }
      } catch {
        // exited meanwhile, or a zombie
      }
    }
  }
  return out;
}
