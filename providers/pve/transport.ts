// HTTPS transport to one PVE cluster: API-token auth, TLS pinned to a CA or a sha256 fingerprint, the
// `{data: ...}` envelope, typed errors (errors.ts), and the retry policy of STYLE habit 6:
//   - GETs are retried on network errors and on named transient answers;
//   - writes are retried only on named transient answers ("got no worker upid", cfs-lock timeout), which
//     PVE gives before it has changed anything;
//   - 401/403/400/TLS failures are never retried (a wrong token must not become a storm of 3 s-delayed 401s).
import * as https from "https";
import * as tls from "tls";
import type { Duplex } from "stream";
import {
  classify,
  PveError,
  PveNetworkError,
  PveTlsError,
  PveTransient,
  redact,
  type RequestInfo,
} from "./errors";
import { toForm, type ApiParams } from "./encode";

/** How to reach and trust one cluster. `tokenSecret` is a secret: it only ever goes into the auth header. */
export interface ApiConfig {
  /** `https://host:8006/api2/json` (the `/api2/json` suffix is added when missing). */
  url: string;
  /** `user@realm!tokenid` */
  tokenId: string;
  tokenSecret: string;
  /** SHA-256 of the node's certificate (`GET /nodes` → `ssl_fingerprint`), colon-hex or plain hex. */
  fingerprint?: string;
  /** PEM of the cluster CA (`/etc/pve/pve-root-ca.pem`); the hostname is verified too. */
  caPem?: string;
  /** Name used in messages ("on roz"); defaults to the URL's host. */
  site?: string;
}

export interface TransportOptions {
  /** Attempts for retryable failures, first try included. */
  attempts?: number;
  /** First backoff; doubles per attempt. */
  backoffMs?: number;
  timeoutMs?: number;
}

export interface RequestStats {
  GET: number;
  POST: number;
  PUT: number;
  DELETE: number;
  /** Answers that were retried. */
  retries: number;
}

type Method = "GET" | "POST" | "PUT" | "DELETE";

/** Hex, lower-case, no colons; or an error naming the field and the expected shape. */
export function normaliseFingerprint(fp: string): string {
  const hex = fp
    .replace(/^sha256[:/]/i, "")
    .replace(/:/g, "")
    .toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex))
    throw new PveError(
      `api.fingerprint '${fp}' is not a SHA-256 fingerprint: expected 64 hex digits (colons allowed), as shown by ` +
        "`GET /nodes` (ssl_fingerprint) or `openssl x509 -noout -fingerprint -sha256 -in /etc/pve/local/pve-ssl.pem`",
    );
  return hex;
}

/** Checks the TLS settings of a config: exactly one way to trust the server, never "accept anything". */
export function tlsProblems(api: Pick<ApiConfig, "fingerprint" | "caPem">): string[] {
  if (!api.fingerprint && !api.caPem)
    return [
      "api: neither fingerprint nor caPem is set. PVE's certificate is self-signed, so the client must pin it: " +
        "set api.fingerprint to the node's SHA-256 fingerprint or api.caPem to /etc/pve/pve-root-ca.pem",
    ];
  if (api.fingerprint) {
    try {
      normaliseFingerprint(api.fingerprint);
    } catch (e) {
      return [(e as Error).message];
    }
  }
  if (api.caPem && !api.caPem.includes("-----BEGIN CERTIFICATE-----"))
    return ["api.caPem does not contain a PEM certificate (-----BEGIN CERTIFICATE-----)"];
  return [];
}

/**
 * An https.Agent that verifies the peer's leaf fingerprint on `secureConnect`, before the socket is handed to
 * a request: the Authorization header is never written to an unverified peer. (Node's checkServerIdentity
 * only runs after chain verification, which a self-signed cert fails, so it cannot do this.)
 */
class FingerprintAgent extends https.Agent {
  constructor(
    private readonly pin: string,
    private readonly site: string,
  ) {
    super({ keepAlive: true, maxSockets: 4 });
  }
  createConnection(
    options: https.RequestOptions,
    cb?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const socket = tls.connect({ ...(options as tls.ConnectionOptions), rejectUnauthorized: false });
    socket.once("secureConnect", () => {
      const got = (socket.getPeerCertificate()?.fingerprint256 ?? "").replace(/:/g, "").toLowerCase();
      if (got !== this.pin) {
        socket.destroy();
        cb?.(
          new PveTlsError(
            `TLS pin mismatch for ${this.site} (${options.host}:${options.port}): the server presented sha256 ` +
              `${colonHex(got)}, the config pins ${colonHex(this.pin)}. If the node's certificate was renewed, ` +
              "update api.fingerprint; otherwise something else answers on that address",
          ),
          socket,
        );
      } else cb?.(null, socket);
    });
    socket.once("error", (e) => cb?.(e, socket));
    return null;
  }
}

function colonHex(hex: string): string {
  return (hex.toUpperCase().match(/../g) ?? []).join(":") || "(none)";
}

export class Transport {
  readonly base: URL;
  readonly site: string;
  readonly stats: RequestStats = { GET: 0, POST: 0, PUT: 0, DELETE: 0, retries: 0 };
  private readonly agent: https.Agent;
  private readonly auth: string;
  private readonly opts: Required<TransportOptions>;
  private readonly secrets: string[];

  constructor(api: ApiConfig, opts: TransportOptions = {}) {
    const problems = tlsProblems(api);
    if (problems.length) throw new PveTlsError(problems.join("; "));
    const url = api.url.replace(/\/+$/, "");
    this.base = new URL(url.endsWith("/api2/json") ? url : `${url}/api2/json`);
    if (this.base.protocol !== "https:")
      throw new PveError(`api.url '${api.url}' must be https:// (pveproxy serves TLS only, port 8006)`);
    this.site = api.site ?? this.base.hostname;
    this.agent = api.fingerprint
      ? new FingerprintAgent(normaliseFingerprint(api.fingerprint), this.site)
      : new https.Agent({ keepAlive: true, maxSockets: 4, ca: api.caPem });
    this.auth = `PVEAPIToken=${api.tokenId}=${api.tokenSecret}`;
    this.secrets = [api.tokenSecret];
    this.opts = { attempts: 4, backoffMs: 200, timeoutMs: 30_000, ...opts };
  }

  /** Closes pooled sockets (tests; the provider process just exits). */
  close(): void {
    this.agent.destroy();
  }

  get<T = unknown>(path: string, params: ApiParams = {}): Promise<T> {
    return this.request<T>("GET", path, params);
  }
  post<T = unknown>(path: string, params: ApiParams = {}): Promise<T> {
    return this.request<T>("POST", path, params);
  }
  put<T = unknown>(path: string, params: ApiParams = {}): Promise<T> {
    return this.request<T>("PUT", path, params);
  }
  delete<T = unknown>(path: string, params: ApiParams = {}): Promise<T> {
    return this.request<T>("DELETE", path, params);
  }

  /** `data` of the envelope. GET/DELETE carry params in the query (a DELETE body is a 501, §1.4). */
  async request<T>(method: Method, path: string, params: ApiParams = {}): Promise<T> {
    const info: RequestInfo = { method, path, site: this.site };
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.once(method, path, params, info)) as T;
      } catch (e) {
        const retry =
          attempt < this.opts.attempts &&
          // A 59x (node-to-node proxy failure) may come after a proxied write was delivered: only GETs retry it.
          ((e instanceof PveTransient && (method === "GET" || e.status < 590)) ||
            (method === "GET" && e instanceof PveNetworkError));
        if (!retry) throw e;
        this.stats.retries++;
        await new Promise((r) => setTimeout(r, this.opts.backoffMs * 2 ** (attempt - 1)));
      }
    }
  }

  private once(method: Method, path: string, params: ApiParams, info: RequestInfo): Promise<unknown> {
    const query = method === "GET" || method === "DELETE" ? toForm(params) : "";
    const body = method === "POST" || method === "PUT" ? toForm(params) : undefined;
    const url = new URL(this.base.pathname + path + (query ? `?${query}` : ""), this.base);
    this.stats[method]++;
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        {
          method,
          agent: this.agent,
          timeout: this.opts.timeoutMs,
          headers: {
            Authorization: this.auth,
            Accept: "application/json",
            ...(body !== undefined
              ? {
                  "Content-Type": "application/x-www-form-urlencoded",
                  "Content-Length": Buffer.byteLength(body),
                }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", (e) => reject(this.networkError(e, info)));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let json: { data?: unknown; message?: unknown; errors?: unknown } | undefined;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = undefined;
            }
            const status = res.statusCode ?? 0;
            if (status === 200) return resolve(json?.data ?? null);
            const err = classify(status, res.statusMessage ?? "", json, info);
            err.message = redact(err.message, this.secrets);
            reject(err);
          });
        },
      );
      req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })));
      req.on("error", (e) => reject(e instanceof PveError ? e : this.networkError(e, info)));
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  private networkError(e: Error & { code?: string }, info: RequestInfo): PveError {
    const text = redact(
      `${info.method} ${info.path} on ${info.site}: ${e.code ?? ""} ${e.message}`,
      this.secrets,
    );
    // Chain/hostname failures in CA mode: a trust problem, never retried.
    if (e.code && /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(e.code))
      return new PveTlsError(
        `${text}. The server's certificate does not chain to api.caPem (or does not name this host): ` +
          "check the CA file, or pin api.fingerprint instead",
        0,
        {},
        info,
      );
    return new PveNetworkError(text, 0, {}, info);
  }
}
