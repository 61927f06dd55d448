// The host layer's errors, classified once, here. Providers branch on these types, never on message text.
// None of them ever carries stdin (where secrets travel) or a private key: commands hold no secrets by
// construction (secrets go on stdin), and stderr is cut to a tail.

export const STDERR_TAIL_LINES = 15;
const STDERR_TAIL_CHARS = 2000;

/** The last lines of a command's stderr, bounded in lines and characters. */
export function tail(text: string, lines = STDERR_TAIL_LINES): string {
  const t = text.trimEnd().split("\n").slice(-lines).join("\n");
  return t.length > STDERR_TAIL_CHARS ? "…" + t.slice(-STDERR_TAIL_CHARS) : t;
}

export abstract class HostError extends Error {
  constructor(
    message: string,
    readonly host: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A remote command exited non-zero (or died of a signal) where that was not allowed. */
export class RemoteCommandError extends HostError {
  readonly stderrTail: string;
  constructor(
    host: string,
    readonly command: string,
    readonly exitCode: number | null,
    stderr: string,
    readonly signal: string | null = null,
  ) {
    const how = exitCode === null ? `was killed by ${signal ?? "a signal"}` : `exited ${exitCode}`;
    const t = tail(stderr);
    super(`command on ${host} ${how}: ${command}${t ? `\n${t}` : " (no stderr)"}`, host);
    this.stderrTail = t;
  }
}

/** The host presented a key other than the pinned one: never retried, never overridden. */
export class HostKeyMismatchError extends HostError {
  constructor(
    host: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `host key of ${host} does not match the pinned key: expected ${expected}, the host presented ${actual}. ` +
        `If the host was reinstalled, verify ${actual} out of band (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub ` +
        `on its console) and update the pinned hostKey; otherwise treat this as a man-in-the-middle.`,
      host,
    );
  }
}

/** Every dial attempt failed (refused, unreachable, timed out, authentication refused). */
export class SshConnectError extends HostError {
  constructor(
    host: string,
    readonly attempts: number,
    readonly cause: string,
  ) {
    super(
      `cannot connect to ${host} over SSH after ${attempts} attempt(s): ${cause}. ` +
        `Check that sshd listens there, that the address and port are right and that the key is authorised.`,
      host,
    );
  }
}

/** An established connection died under a running command (a reset, or silence ended by keepalives). */
export class SshLostError extends HostError {
  constructor(
    host: string,
    readonly command: string,
    readonly cause: string,
  ) {
    super(
      `the SSH connection to ${host} was lost while running: ${command} (${cause}). The command may or may not ` +
        "have run; files are replaced atomically, so the host holds the old or the new version of each. Run " +
        "`pulumi up` again once the host is reachable: it reads the host and finishes the work.",
      host,
    );
  }
}

/** Bad input to the host layer itself (a pinned key that is not a key, a relative path, ...). */
export class HostInputError extends HostError {}

/** The user-facing shape (STYLE §4): "Unable to <action> <kind> '<id>' on <host>: <cause>". */
export function unable(action: string, kind: string, id: string, host: string, cause: unknown): Error {
  const text = cause instanceof Error ? cause.message : String(cause);
  return new Error(`Unable to ${action} ${kind} '${id}' on ${host}: ${text}`, { cause });
}
