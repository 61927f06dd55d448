// Typed errors for the Proxmox VE API, classified once (STYLE habit 3).
//
// PVE has no 404s: a missing object is an HTTP 500 whose text says "does not exist" (reference §1.6), digest
// mismatches are 500s too, and a parameter error raised inside an SDN lock comes back as a 500 whose body holds
// "400 Parameter verification failed." plus the field lines (§2.11). `classify` is the only place that reads
// that text; everything above it branches on the error class.

/** Where the request went, for messages. Never holds parameters: bodies may carry secrets (cipassword, sshkeys). */
export interface RequestInfo {
  method: string;
  path: string;
  site: string;
}

export class PveError extends Error {
  readonly status: number;
  /** Per-parameter messages of a 400 (body `errors`, or the field lines of a re-thrown param exception). */
  readonly fieldErrors: Record<string, string>;
  readonly request?: RequestInfo;
  constructor(message: string, status = 0, fieldErrors: Record<string, string> = {}, request?: RequestInfo) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.fieldErrors = fieldErrors;
    this.request = request;
  }
  /** The PVE text without our request prefix, e.g. "sdn 'z1' does not exist". */
  get detail(): string {
    const i = this.message.indexOf(": ");
    return this.request && i >= 0 ? this.message.slice(i + 2) : this.message;
  }
}

/** The object does not exist (PVE: 500 "... does not exist", "no rule at position N", "no such ..."). */
export class PveNotFound extends PveError {}
/** Create of an id that exists ("sdn zone object ID 'z1' already defined", "IPSet 'x' already exists"). */
export class PveAlreadyExists extends PveError {}
/** Optimistic-lock failure: the digest we sent no longer matches. Re-read and retry. */
export class PveDigestMismatch extends PveError {}
/** A named transient answer ("got no worker upid", cfs-lock timeout, 59x proxy failures): safe to retry. */
export class PveTransient extends PveError {}
/** 401: the token id or secret is wrong, or the token expired. Never retried (PVE delays each 401 by 3 s). */
export class PveAuthError extends PveError {}
/** 403: the token lacks a privilege on a path ("Permission check failed (/sdn/zones, SDN.Allocate)"). */
export class PvePermissionDenied extends PveError {}
/** 400, or a 500 carrying a re-thrown "400 Parameter verification failed." */
export class PveParamError extends PveError {}
/** 501: the endpoint does not exist on this PVE version. */
export class PveNotImplemented extends PveError {}
/** 9.x global SDN lock held by someone else ("invalid lock token provided!"). */
export class PveLocked extends PveError {}
/** Transport: connection refused/reset, timeout. GETs are retried, writes are not. */
export class PveNetworkError extends PveError {}
/** TLS: the server certificate does not match the pinned fingerprint or CA. Never retried. */
export class PveTlsError extends PveError {}
/** A task (UPID) ended with an exit status other than OK / WARNINGS. */
export class PveTaskFailed extends PveError {
  constructor(
    message: string,
    readonly upid: string,
    readonly node: string,
    readonly exitstatus: string,
    readonly logTail: string[],
  ) {
    super(message);
  }
}

const NOT_FOUND = [
  /does not exist/,
  /^no rule at position \d+/,
  /^no such (ipset|ipset entry|security group|alias|task|vnet|zone|controller)\b/i,
  /^invalid vnet specified/, // vnet firewall on a vnet that is not in the running config (§3.10)
  /^unable to find configuration file for VM/,
];
const DIGEST = /detected modified configuration - file changed by other user/;
const TRANSIENT = [/got no worker upid/, /got lock request timeout/, /^no quorum!?/m];
const LOCKED = /invalid lock token provided/;
const NESTED_PARAM = /(^|: )400 Parameter verification failed\./;

/** Parses "field: message" lines that follow a re-thrown param exception. */
function nestedFieldErrors(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n").slice(1)) {
    const m = /^([\w-]+): (.+)$/.exec(line.trim());
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/**
 * Turns one HTTP answer into a typed error. `reason` is the status line's phrase (first line only), `body`
 * the parsed JSON body if any: its `message` (pve-http-server >= 5.2.0) holds the full multi-line text.
 */
export function classify(
  status: number,
  reason: string,
  body: { message?: unknown; errors?: unknown } | undefined,
  request: RequestInfo,
): PveError {
  const fullText = typeof body?.message === "string" && body.message.trim() ? body.message : reason;
  const text = fullText.trim();
  const fields =
    body?.errors && typeof body.errors === "object" ? (body.errors as Record<string, string>) : {};
  const fieldText = Object.entries(fields)
    .map(([k, v]) => `${k}: ${String(v).trim()}`)
    .join("; ");
  const msg = `${request.method} ${request.path} on ${request.site} answered ${status}: ${text}${
    fieldText && !text.includes(fieldText) ? ` (${fieldText})` : ""
  }`;
  const make = <T extends PveError>(
    C: new (m: string, s: number, f: Record<string, string>, r: RequestInfo) => T,
    f = fields,
  ) => new C(msg, status, f, request);

  if (status === 401) return make(PveAuthError);
  if (status === 403) return make(PvePermissionDenied);
  if (status === 501) return make(PveNotImplemented);
  if (status >= 590 && status <= 599) return make(PveTransient);
  if (status === 400) {
    if (/^no such task/.test(text)) return make(PveNotFound);
    return make(PveParamError);
  }
  if (DIGEST.test(text)) return make(PveDigestMismatch);
  if (LOCKED.test(text)) return make(PveLocked);
  if (TRANSIENT.some((r) => r.test(text))) return make(PveTransient);
  if (NESTED_PARAM.test(text)) return make(PveParamError, { ...nestedFieldErrors(text), ...fields });
  if (/already (defined|exists)/.test(text)) return make(PveAlreadyExists);
  if (NOT_FOUND.some((r) => r.test(text.replace(/^[^:]*failed: /, "")))) return make(PveNotFound);
  return make(PveError);
}

/** Replaces every occurrence of the given secrets in `text` (defence in depth for error messages). */
export function redact(text: string, secrets: (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("***");
  return out;
}
