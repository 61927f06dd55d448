// The SSH layer: one connection per host per process (DESIGN §3.3), pinned host keys, bounded dial retries,
// quoted commands, typed errors, atomic file writes, secrets on stdin only.
//
// Provider methods reach this module through loadRuntime("providers/host/ssh"), so every resource of a
// provider process shares the one `pool` below (tests/bench/host-bench.ts counts the handshakes).
import * as fs from "node:fs";
import type { NodeSSH } from "node-ssh";
import {
  HostError,
  HostInputError,
  HostKeyMismatchError,
  RemoteCommandError,
  SshConnectError,
  SshLostError,
} from "./errors";
import { sh } from "./quote";
import { fingerprintOfBlob, parseHostKey } from "../../fabric/hostkey";

export interface SshTarget {
  host: string;
  port?: number;
  user?: string;
  /** The pinned host key: an OpenSSH public key line ("ssh-ed25519 AAAA…") or its "SHA256:…" fingerprint. */
  hostKey: string;
  /** OpenSSH private key text (a secret input). Without it, the agent at agentSocket / $SSH_AUTH_SOCK. */
  privateKey?: string;
  agentSocket?: string;
}

export interface ExecOptions {
  stdin?: string; // where secrets and file contents travel; never logged, never in errors
  okExits?: number[]; // exit codes that are not failures (default: [0])
  write?: boolean; // the command changes the host (counted; a converged run performs none)
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface PoolOptions {
  attempts?: number;
  attemptTimeoutMs?: number;
  retryDelayMs?: number;
  /** SSH keepalive interval; three missed end the connection (0 turns keepalives off). */
  keepaliveMs?: number;
  log?: (line: string) => void;
}

/** Counters per host ("user@host:port"): what a run cost. */
export interface HostStats {
  handshakes: number;
  commands: number;
  writes: number;
}

export { fingerprintOfBlob };

/** The fingerprint a pinned hostKey stands for (fabric/hostkey.ts); a clear error for anything else. */
export function pinnedFingerprint(hostKey: string): string {
  const k = parseHostKey(hostKey);
  if (k.ok) return k.fingerprint;
  const shown = /PRIVATE KEY/.test(hostKey) ? "[hidden]" : hostKey.trim().slice(0, 40);
  throw new HostInputError(
    `hostKey '${shown}' is not a host key: ${k.reason}. ` +
      `Fix: copy /etc/ssh/ssh_host_ed25519_key.pub from the host's console, or its 'ssh-keygen -lf' fingerprint.`,
    "(config)",
  );
}

export function targetId(t: SshTarget): string {
  return `${t.user ?? "root"}@${t.host}:${t.port ?? 22}`;
}

function audit(entry: Record<string, unknown>) {
  // An append-only trail for tests and benchmarks that run providers under the engine (another process):
  // handshakes, commands and writes. Commands carry no secrets by construction (those go on stdin).
  const file = process.env.PVE_FABRIC_SSH_AUDIT;
  if (file) fs.appendFileSync(file, JSON.stringify({ pid: process.pid, ...entry }) + "\n");
}

/** Why a pooled connection died (ssh2 'error' event), for the command that was running on it. */
const lostReason = new WeakMap<object, string>();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class SshPool {
  private conns = new Map<string, Promise<NodeSSH>>();
  readonly stats = new Map<string, HostStats>();

  constructor(private readonly opts: PoolOptions = {}) {}

  private statsOf(id: string): HostStats {
    let s = this.stats.get(id);
    if (!s) this.stats.set(id, (s = { handshakes: 0, commands: 0, writes: 0 }));
    return s;
  }

  /** The pooled connection to a host, dialled on first use. Concurrent callers share one dial. */
  connection(t: SshTarget): Promise<NodeSSH> {
    const id = targetId(t);
    let c = this.conns.get(id);
    if (!c) {
      c = this.dial(t);
      this.conns.set(id, c);
      // A failed dial must not poison the pool: the next call dials again.
      c.catch(() => this.conns.get(id) === c && this.conns.delete(id));
    }
    return c;
  }

  private async dial(t: SshTarget): Promise<NodeSSH> {
    const { NodeSSH } = require("node-ssh") as typeof import("node-ssh");
    const id = targetId(t);
    const expected = pinnedFingerprint(t.hostKey);
    const attempts = this.opts.attempts ?? Number(process.env.PVE_FABRIC_SSH_ATTEMPTS ?? 4);
    const timeout = this.opts.attemptTimeoutMs ?? Number(process.env.PVE_FABRIC_SSH_TIMEOUT_MS ?? 8000);
    const delay = this.opts.retryDelayMs ?? 1000;
    const keepalive = this.opts.keepaliveMs ?? Number(process.env.PVE_FABRIC_SSH_KEEPALIVE_MS ?? 5000);
    const log = this.opts.log ?? ((l: string) => process.stderr.write(l + "\n"));
    const agent = t.privateKey ? undefined : (t.agentSocket ?? process.env.SSH_AUTH_SOCK);
    if (!t.privateKey && !agent) {
      throw new HostInputError(
        `no credentials for ${id}: give connection.privateKey (a secret) or an agent (connection.agentSocket or SSH_AUTH_SOCK)`,
        id,
      );
    }
    let last = "";
    for (let n = 1; n <= attempts; n++) {
      let presented: string | undefined;
      const ssh = new NodeSSH();
      try {
        await ssh.connect({
          host: t.host,
          port: t.port ?? 22,
          username: t.user ?? "root",
          privateKey: t.privateKey,
          agent,
          readyTimeout: timeout,
          // A connection that goes silent (a WAN link down, no RST) would hang the update for ever: SSH
          // keepalives declare it dead after ~15 s, the running command fails with "connection lost".
          keepaliveInterval: keepalive,
          keepaliveCountMax: 3,
          hostVerifier: (key: Buffer) => {
            presented = fingerprintOfBlob(key);
            return presented === expected;
          },
        });
      } catch (e) {
        ssh.dispose();
        if (presented !== undefined && presented !== expected)
          throw new HostKeyMismatchError(id, expected, presented);
        const err = e as Error & { level?: string };
        last = err.message;
        // Refused credentials do not get better by retrying.
        if (err.level === "client-authentication")
          throw new SshConnectError(id, n, `authentication refused (${last})`);
        log(`ssh ${id}: attempt ${n}/${attempts} failed after at most ${timeout} ms: ${last}`);
        if (n < attempts) await sleep(delay * n);
        continue;
      }
      this.statsOf(id).handshakes++;
      audit({ host: id, event: "handshake" });
      // A dropped connection leaves the pool, so the next command dials a fresh one.
      ssh.connection?.on("close", () => this.conns.delete(id));
      // ssh2 reports a dead link (keepalive timeout, reset) as an 'error' event on the client: unheard, it
      // crashes the provider process or leaves a running command waiting for ever. Record why and close the
      // socket, so the running command ends now and exec() names the cause.
      ssh.connection?.on("error", (e: Error) => {
        lostReason.set(ssh, e.message);
        this.conns.delete(id);
        ssh.connection?.destroy();
      });
      return ssh;
    }
    throw new SshConnectError(id, attempts, last);
  }

  async exec(t: SshTarget, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const id = targetId(t);
    const ssh = await this.connection(t);
    const s = this.statsOf(id);
    s.commands++;
    if (opts.write) s.writes++;
    audit({ host: id, event: opts.write ? "write" : "exec", command });
    let r;
    try {
      r = await ssh.execCommand(command, { stdin: opts.stdin, noTrim: true });
    } catch (e) {
      if (e instanceof HostError) throw e;
      this.conns.delete(id);
      throw new SshLostError(id, command, lostReason.get(ssh) ?? (e as Error).message);
    }
    // A channel cut by a dead link ends without an exit status.
    const lost = lostReason.get(ssh);
    if (lost && r.code === null) throw new SshLostError(id, command, lost);
    const code = r.code ?? -1;
    if (r.code === null || !(opts.okExits ?? [0]).includes(code)) {
      throw new RemoteCommandError(id, command, r.code, r.stderr, r.signal);
    }
    return { stdout: r.stdout, stderr: r.stderr, code };
  }

  /**
   * Writes a file atomically: a temp file in the same directory (so rename is atomic), mode and owner set
   * before the rename, content on stdin. The directory must exist.
   */
  async writeFile(
    t: SshTarget,
    path: string,
    content: string,
    o: { mode: string; owner?: string; group?: string },
  ): Promise<void> {
    if (!path.startsWith("/")) throw new HostInputError(`path '${path}' must be absolute`, targetId(t));
    const owner = `${o.owner ?? "root"}:${o.group ?? "root"}`;
    const dir = path.replace(/\/[^/]+$/, "") || "/";
    const cmd =
      sh`set -e; umask 077; tmp=$(mktemp ${dir + "/.pve-fabric.XXXXXX"}); trap 'rm -f "$tmp"' EXIT; ` +
      sh`cat >"$tmp"; chmod ${o.mode} "$tmp"; chown ${owner} "$tmp"; mv -f "$tmp" ${path}; trap - EXIT`;
    await this.exec(t, cmd, { stdin: content, write: true });
  }

  /** Closes every connection (end of a process or a test). */
  async closeAll(): Promise<void> {
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((c) => c.then((s) => s.dispose()).catch(() => {})));
  }
}

/** The process-wide pool that every host resource of a provider process shares. */
export const pool = new SshPool();

// --- probes: many reads in one command --------------------------------------------------------------

const MARK = "@@pve-fabric-probe@@";
/** Section names come back as one `\S+` word (parseProbe): the callers' keys, never free text. */
const SECTION_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * One shell script that runs each read and frames its stdout and exit code. Each read is a command line its
 * caller built (with quote.ts's `sh`); the framing quotes the section name like any other value.
 */
export function probeScript(sections: Record<string, string>): string {
  return Object.entries(sections)
    .map(([name, cmd]) => {
      if (!SECTION_NAME.test(name))
        throw new Error(`probe section name ${JSON.stringify(name)} is not a word`);
      return `${sh`echo ${MARK} ${name}`}; ( ${cmd} ) 2>/dev/null; rc=$?; echo; echo ${MARK}rc $rc`;
    })
    .join("\n");
}

export interface ProbeSection {
  out: string;
  rc: number;
}

/** Splits probeScript() output back into sections (the framing newline removed). */
export function parseProbe(text: string): Record<string, ProbeSection> {
  const out: Record<string, ProbeSection> = {};
  const re = new RegExp(`^${MARK} (\\S+)\\n([\\s\\S]*?)\\n${MARK}rc (\\d+)$`, "gm");
  for (const m of text.matchAll(re)) out[m[1]] = { out: m[2], rc: Number(m[3]) };
  return out;
}

export async function probe(p: SshPool, t: SshTarget, sections: Record<string, string>) {
  const r = await p.exec(t, probeScript(sections));
  return parseProbe(r.stdout);
}
