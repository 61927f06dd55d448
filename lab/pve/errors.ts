// How the emulator fails, shaped like pve-http-server: an HTTP status, a message (whose first line becomes
// the reason phrase, the whole text goes into the body's `message`), and for 400s a per-parameter map.

export class PveError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
    // 401s and transport-level refusals (pve-http-server's `$self->error`) carry no JSON body at all.
    readonly bare = false,
  ) {
    super(message);
  }
}

/** A plain `die "...\n"` inside a handler: HTTP 500 with the text. */
export function die(message: string): never {
  throw new PveError(500, message.endsWith("\n") ? message : `${message}\n`);
}

/**
 * A `die "..."` without a trailing newline: Perl appends the source location. Kept because clients see
 * exactly this text (e.g. `invalid lock token provided! at /usr/share/perl5/PVE/Network/SDN.pm line 291.`).
 */
export function dieAt(message: string, file: string, line: number): never {
  throw new PveError(500, `${message} at /usr/share/perl5/${file} line ${line}.\n`);
}

/** `raise_param_exc`: 400 "Parameter verification failed." with the per-field messages. */
export function paramError(errors: Record<string, string>): never {
  throw new PveError(400, "Parameter verification failed.\n", errors);
}

/**
 * PVE's SDN handlers run inside `lock_sdn_config(sub {...}, "<op> failed")`, which re-dies with
 * "<op> failed: <err>". A param exception becomes its stringified form: "400 Parameter verification
 * failed.\n<field>: <msg>\n" — so it surfaces as a 500 whose detail is only in the body (reference §2.11).
 */
export function wrapLocked<T>(op: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof PveError)) throw e;
    let inner = e.message;
    if (e.status === 400 && e.errors) {
      inner =
        `400 ${e.message}` +
        Object.entries(e.errors)
          .map(([k, v]) => `${k}: ${v}\n`)
          .join("");
    }
    throw new PveError(500, `${op}: ${inner}`);
  }
}
