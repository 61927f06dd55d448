// The Proxmox VE API emulator as a library: `createEmulator(options)` gives an HTTPS server speaking
// `/api2/json` like pveproxy (envelope, auth, encodings, status codes, error texts of reference §1), the
// route tables of sdn.ts / firewall.ts / nodes.ts, a task engine, fault injection through a file in the
// state directory (never through /api2), and the seams later issues plug into (`realize`, `vmBackend`).
import { createHmac, randomUUID, timingSafeEqual, X509Certificate } from "node:crypto";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { PveError } from "./errors";
import { validate, type Params, type RawValue, type Schema } from "./schema";
import { Store, type FirewallState, type RunningConfig, type State, type Task } from "./state";
import { sdnRoutes } from "./sdn";
import { firewallRoutes } from "./firewall";
import { nodeRoutes } from "./nodes";

export type PveVersion = "9.1" | "8.4";

export interface NodeSpec {
  name: string;
  /** Management/underlay address reported by /cluster/status and on vmbr0. */
  ip: string;
}

/** Realisation seam (issue 5): bring `node` to `running`; throw to fail that node's reload. */
export type Realize = (node: string, running: RunningConfig) => Promise<void>;

/** VM seam: the default only records state; the lab wires a namespace-backed VM in later. */
export interface VmBackend {
  create(node: string, vmid: number, config: Record<string, string | number>): Promise<void>;
  start(node: string, vmid: number, config: Record<string, string | number>): Promise<void>;
  stop(node: string, vmid: number): Promise<void>;
  destroy(node: string, vmid: number): Promise<void>;
}

export interface EmulatorOptions {
  site: string;
  stateDir: string;
  nodes: NodeSpec[];
  version?: PveVersion;
  token: { tokenid: string; secret: string };
  /** Password accepted by POST /access/ticket for root@pam; without one every ticket login fails. */
  rootPassword?: string;
  /** PVE delays every 401 by 3 s (pve-http-server); tests may shorten it. */
  authFailureDelayMs?: number;
  realize?: Realize;
  /**
   * Firewall seam (issue 5, lab/fw): called after every successful write under a `…/firewall` path, i.e.
   * whenever the firewall config changes (PVE's daemons pick such changes up within 5–10 s, no apply).
   */
  firewallChanged?: () => void;
  vmBackend?: VmBackend;
  /** Address used when generating the certificate's subjectAltName. */
  certHost?: string;
}

export interface Faults {
  /** The next N applies answer 500 "got no worker upid - start worker failed". */
  applyNoWorker?: number;
  /** Node name → error text: that node's reload (srvreload) fails on every apply until cleared. */
  reloadFail?: Record<string, string>;
  /** Added to every API answer. */
  latencyMs?: number;
  /** Nodes that are down: their proxied calls answer 595, apply skips them with a warning. */
  offline?: string[];
}

export interface Ctx {
  emu: Emulator;
  params: Params;
  user: string;
  isToken: boolean;
}

export interface Route {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** `/cluster/sdn/zones/{zone}`; a trailing `{name*}` swallows the rest of the path. */
  path: string;
  schema: (v: PveVersion) => Schema | undefined;
  handler: (ctx: Ctx) => unknown;
  /** Proxied to the node named by the `node` path parameter (fails when it is offline). */
  proxied?: boolean;
  /** Declares no permissions: root@pam only (a token gets 403). */
  rootOnly?: boolean;
  /** Exists only on PVE 9.x (8.4 answers 501 "not implemented"). */
  v9only?: boolean;
}

const VERSIONS: Record<PveVersion, { version: string; release: string; repoid: string }> = {
  "9.1": { version: "9.1.2", release: "9.1", repoid: "9d3b7c1e" },
  "8.4": { version: "8.4.1", release: "8.4", repoid: "2a5fa54a8503f96d" },
};

export class Emulator {
  readonly version: PveVersion;
  readonly store: Store;
  readonly nodes: NodeSpec[];
  readonly vmBackend: VmBackend;
  readonly realize: Realize;
  /** Set by createEmulator once the certificate exists; `/nodes` reports it as `ssl_fingerprint`. */
  fingerprint?: string;
  private readonly routes: Route[];
  private readonly secret: Buffer;
  private applyChain: Promise<void> = Promise.resolve();
  private readonly running = new Set<Promise<unknown>>();

  constructor(readonly options: EmulatorOptions) {
    this.version = options.version ?? "9.1";
    this.nodes = options.nodes;
    this.store = new Store(
      options.stateDir,
      options.nodes.map((n) => n.name),
    );
    this.vmBackend = options.vmBackend ?? recordingVmBackend;
    this.realize = options.realize ?? (async () => {});
    this.routes = [...nodeRoutes(), ...sdnRoutes(), ...firewallRoutes()];
    const keyFile = path.join(options.stateDir, "ticket.key");
    if (!fs.existsSync(keyFile)) fs.writeFileSync(keyFile, randomUUID(), { mode: 0o600 });
    this.secret = fs.readFileSync(keyFile);
    // A task that was running when the previous process died never finishes (PVE shows the same).
    for (const t of this.state.tasks)
      if (t.status === "running") Object.assign(t, { status: "stopped", exitstatus: "unexpected status" });
  }

  get state(): State {
    return this.store.state;
  }
  get versionInfo() {
    return VERSIONS[this.version];
  }
  isV9(): boolean {
    return this.version.startsWith("9");
  }
  save(): void {
    this.store.save();
  }

  // ---- faults (a JSON file, so a lab process and its tests share them) ----
  private get faultFile(): string {
    return path.join(this.options.stateDir, "faults.json");
  }
  readFaults(): Faults {
    try {
      return JSON.parse(fs.readFileSync(this.faultFile, "utf8")) as Faults;
    } catch {
      return {};
    }
  }
  writeFaults(f: Faults): void {
    const tmp = `${this.faultFile}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(f));
    fs.renameSync(tmp, this.faultFile);
  }
  isOnline(node: string): boolean {
    return !(this.readFaults().offline ?? []).includes(node);
  }
  node(name: string): NodeSpec {
    const n = this.nodes.find((x) => x.name === name);
    if (!n)
      throw new PveError(
        500,
        `hostname lookup '${name}' failed - failed to get address info for: ${name}: Name or service not known\n`,
      );
    return n;
  }

  // ---- tasks ----
  /** Start a worker like `fork_worker`: the UPID is returned at once, `work` runs in the background. */
  startTask(
    node: string,
    type: string,
    id: string,
    user: string,
    work: (log: (l: string) => void) => Promise<string | void>,
    chain?: "apply",
  ): string {
    const st = this.state;
    st.counter += 1;
    const pid = 10000 + st.counter;
    const starttime = Math.floor(Date.now() / 1000);
    const pstart = 1000000 + st.counter;
    const hex = (n: number, w: number) => n.toString(16).toUpperCase().padStart(w, "0");
    const upid = `UPID:${node}:${hex(pid, 8)}:${hex(pstart, 8)}:${hex(starttime, 8)}:${type}:${id}:${user}:`;
    const task: Task = { upid, node, pid, pstart, starttime, type, id, user, status: "running", log: [] };
    st.tasks.push(task);
    if (st.tasks.length > 500) st.tasks.splice(0, st.tasks.length - 500);
    this.save();
    const run = async () => {
      let exit: string;
      try {
        const res = await work((l) => task.log.push(l));
        exit = typeof res === "string" ? res : "OK";
      } catch (e) {
        exit = (e instanceof Error ? e.message : String(e)).trim().split("\n")[0];
        task.log.push(`TASK ERROR: ${exit}`);
      }
      if (exit === "OK") task.log.push("TASK OK");
      else if (exit.startsWith("WARNINGS")) task.log.push(`TASK ${exit}`);
      Object.assign(task, { status: "stopped", exitstatus: exit, endtime: Math.floor(Date.now() / 1000) });
      this.save();
    };
    let p: Promise<void>;
    if (chain === "apply") {
      // Applies are serialised: a second apply's worker starts after the first one ends.
      p = this.applyChain = this.applyChain.then(run);
    } else p = run();
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    return upid;
  }
  findTask(upid: string): Task | undefined {
    return this.state.tasks.find((t) => t.upid === upid);
  }
  /** Resolves when every started worker has ended (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** The firewall as one plain object (issue 5's nftables compiler reads this), incl. SDN ipsets. */
  firewallState(): FirewallState & { sdnIpsets: Record<string, { cidr: string; nomatch?: number }[]> } {
    return JSON.parse(JSON.stringify({ ...this.state.fw, sdnIpsets: sdnIpsets(this.state.running) }));
  }
  runningConfig(): RunningConfig {
    return JSON.parse(JSON.stringify(this.state.running)) as RunningConfig;
  }

  // ---- tickets (HMAC-signed like PVE's RSA-signed ones; same wire shape) ----
  private sign(data: string): string {
    return createHmac("sha256", this.secret).update(data).digest("base64");
  }
  makeTicket(user: string): { ticket: string; csrf: string } {
    const t = Math.floor(Date.now() / 1000)
      .toString(16)
      .toUpperCase();
    const plain = `PVE:${user}:${t}`;
    return {
      ticket: `${plain}::${this.sign(plain)}`,
      csrf: `${t}:${this.sign(`${t}:${user}`).slice(0, 43)}`,
    };
  }
  verifyTicket(ticket: string): string | undefined {
    const m = /^(PVE:([^:]+):([0-9A-F]{8}))::(.+)$/.exec(ticket);
    if (!m || !safeEq(this.sign(m[1]), m[4])) return undefined;
    if (Date.now() / 1000 - parseInt(m[3], 16) > 7200) return undefined; // 2 h validity
    return m[2];
  }
  verifyCsrf(token: string | undefined, user: string): boolean {
    if (!token) return false;
    const m = /^([0-9A-F]{8}):(.+)$/.exec(token);
    return !!m && safeEq(this.sign(`${m[1]}:${user}`).slice(0, 43), m[2]);
  }

  // ---- request handling ----
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, reason: string, body?: unknown, delayMs = 0) => {
      const text = body === undefined ? "" : JSON.stringify(body);
      const headers: Record<string, string | number> = {
        "Content-Length": Buffer.byteLength(text),
        "Cache-Control": "max-age=0",
        Pragma: "no-cache",
        Server: "pve-api-daemon/3.0",
      };
      if (body !== undefined) headers["Content-Type"] = "application/json;charset=UTF-8";
      if (status >= 400) headers["Connection"] = "close";
      const go = () => {
        res.writeHead(status, reason.split("\n")[0], headers);
        res.end(text);
      };
      if (delayMs > 0) setTimeout(go, delayMs);
      else go();
    };
    const fail = (e: PveError, delayMs = 0) => {
      if (e.bare) return send(e.status, e.message, undefined, delayMs);
      const body: Record<string, unknown> = { data: null, message: e.message };
      if (e.errors) body.errors = e.errors;
      send(e.status, e.message, body, delayMs);
    };

    const faults = this.readFaults();
    if (faults.latencyMs) await new Promise((r) => setTimeout(r, faults.latencyMs));

    const method = req.method ?? "GET";
    const url = new URL(req.url ?? "/", "https://x");
    // PVE unescapes the path before routing, so %2F becomes a separator (reference §1.4).
    let pathname: string;
    try {
      pathname = decodeURIComponent(url.pathname);
    } catch {
      pathname = url.pathname;
    }
    const m = /^\/api2\/([a-z][a-z0-9]+)(\/.*)?$/.exec(pathname);
    if (!["GET", "POST", "PUT", "DELETE"].includes(method))
      return fail(new PveError(501, `method '${method}' not available`, undefined, true));
    if (!m) return fail(new PveError(501, "no such uri", undefined, true));
    if (m[1] !== "json") return fail(new PveError(501, `Unknown format '${m[1]}'`, undefined, true));
    const rel = (m[2] ?? "/").replace(/\/+$/, "") || "/";

    const body = await readBody(req);
    const authDelay = this.options.authFailureDelayMs ?? 3000;
    let user: string;
    let isToken = false;
    try {
      ({ user, isToken } = this.authenticate(req, method, rel));
    } catch (e) {
      if (e instanceof PveError) return fail(e, authDelay);
      throw e;
    }
    if (body.length > 0 && method !== "POST" && method !== "PUT")
      return fail(new PveError(501, `Unexpected content for method '${method}'`, undefined, true));
    const limit = this.version === "8.4" || this.isV9() ? 512 * 1024 : 64 * 1024;
    if (body.length > limit) return fail(new PveError(501, "for data too large", undefined, true));

    try {
      const raw = parseParams(url, body, req.headers["content-type"]);
      if (rel === "/access/ticket" && method === "POST") {
        const data = this.ticketLogin(raw);
        if (!data) return fail(new PveError(401, "authentication failure", undefined, true), authDelay);
        return send(200, "OK", { data });
      }
      const found = this.route(method, rel);
      if (!found) return fail(new PveError(501, `Method '${method} ${rel}' not implemented`));
      const [route, pathParams] = found;
      if (route.rootOnly && user !== "root@pam")
        throw new PveError(403, "Permission check failed (user != root@pam)\n");
      for (const [k, v] of Object.entries(pathParams)) {
        if (k in raw && String(raw[k]) !== v)
          throw new PveError(400, "Parameter verification failed.\n", {
            [k]: `duplicate parameter (path and body differ)`,
          });
        raw[k] = v;
      }
      const schema = route.schema(this.version) ?? {};
      const params = validate(raw, schema);
      if (route.proxied && typeof params.node === "string") {
        this.node(params.node);
        if (!this.isOnline(params.node)) throw new PveError(595, `No route to host\n`, undefined, true);
      }
      const data = await route.handler({ emu: this, params, user, isToken });
      if (method !== "GET" && /\/firewall(\/|$)/.test(rel)) this.options.firewallChanged?.();
      send(200, "OK", { data: data === undefined ? null : data });
    } catch (e) {
      if (e instanceof PveError) return fail(e);
      const msg = e instanceof Error ? e.message : String(e);
      return fail(new PveError(500, `internal emulator error: ${msg}\n`));
    }
  }

  private route(method: string, rel: string): [Route, Record<string, string>] | undefined {
    const segs = rel.split("/").filter((s) => s !== "");
    for (const r of this.routes) {
      if (r.method !== method || (r.v9only && !this.isV9())) continue;
      const pat = r.path.split("/").filter((s) => s !== "");
      const wild = pat.at(-1)?.endsWith("*}") ?? false;
      if (wild ? segs.length < pat.length : segs.length !== pat.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      pat.forEach((p, i) => {
        if (!ok) return;
        if (p.endsWith("*}")) params[p.slice(1, -2)] = segs.slice(i).join("/");
        else if (p.startsWith("{")) params[p.slice(1, -1)] = segs[i];
        else if (p !== segs[i]) ok = false;
      });
      if (ok) return [r, params];
    }
    return undefined;
  }

  private authenticate(
    req: IncomingMessage,
    method: string,
    rel: string,
  ): { user: string; isToken: boolean } {
    if (rel === "/access/ticket" && (method === "POST" || method === "GET"))
      return { user: "", isToken: false };
    if (rel === "/access/domains" && method === "GET") return { user: "", isToken: false };
    const auth = req.headers.authorization ?? "";
    const cookie = req.headers.cookie ?? "";
    const ticket =
      /(?:^|[\s;])PVEAuthCookie=([^;\s]*)/.exec(cookie)?.[1] ?? /^PVEAuthCookie=(\S+)/.exec(auth)?.[1];
    if (ticket) {
      const user = this.verifyTicket(decodeURIComponent(ticket));
      if (!user) throw new PveError(401, "authentication failure", undefined, true);
      // CSRF is required for every write made with a ticket (reference §1.2).
      if (
        method !== "GET" &&
        !this.verifyCsrf(req.headers["csrfpreventiontoken"] as string | undefined, user)
      )
        throw new PveError(401, "Permission denied - invalid csrf token", undefined, true);
      return { user, isToken: false };
    }
    const tm = /^PVEAPIToken[= ](.+)$/.exec(auth);
    if (!tm) throw new PveError(401, "No ticket", undefined, true);
    let value: string;
    try {
      value = decodeURIComponent(tm[1]);
    } catch {
      value = tm[1];
    }
    const vm = /^([^=\s]+)[=\s](.*)$/.exec(value);
    if (!vm) throw new PveError(401, "no tokenid specified", undefined, true);
    const [tokenid, secret] = [vm[1], vm[2]];
    const [userPart, tokenName] = tokenid.split("!");
    if (tokenid !== this.options.token.tokenid)
      throw new PveError(401, `no such token '${tokenName ?? ""}' for user '${userPart}'`, undefined, true);
    if (!safeEq(secret, this.options.token.secret))
      throw new PveError(401, "invalid token value!", undefined, true);
    return { user: tokenid, isToken: true };
  }

  private ticketLogin(raw: Record<string, RawValue>): Record<string, unknown> | undefined {
    let username = String(raw.username ?? "");
    if (raw.realm && !username.includes("@")) username = `${username}@${String(raw.realm)}`;
    const password = String(raw.password ?? "");
    let ok =
      username === "root@pam" &&
      this.options.rootPassword !== undefined &&
      safeEq(password, this.options.rootPassword);
    // Renewal: an existing valid ticket as password.
    if (!ok && this.verifyTicket(password) === username) ok = true;
    if (!ok) return undefined;
    const { ticket, csrf } = this.makeTicket(username);
    return { username, ticket, CSRFPreventionToken: csrf, clustername: this.options.site, cap: {} };
  }
}

function safeEq(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Query string merged with a form or JSON body; repeated keys become arrays (joined later for lists). */
export function parseParams(
  url: URL,
  body: Buffer,
  contentType: string | undefined,
): Record<string, RawValue> {
  const out: Record<string, RawValue> = {};
  const add = (k: string, v: RawValue) => {
    if (k in out) {
      const prev = out[k];
      out[k] = [...(Array.isArray(prev) ? prev : [prev]), v] as RawValue[];
    } else out[k] = v;
  };
  for (const [k, v] of url.searchParams) add(k, v);
  if (body.length === 0) return out;
  const text = body.toString("utf8");
  if ((contentType ?? "").startsWith("application/json")) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      throw new PveError(400, "Parameter verification failed.\n", { body: "unable to parse JSON body" });
    }
    if (obj && typeof obj === "object" && !Array.isArray(obj))
      for (const [k, v] of Object.entries(obj)) add(k, v as RawValue);
  } else {
    for (const [k, v] of new URLSearchParams(text)) add(k, v);
  }
  return out;
}

export const recordingVmBackend: VmBackend = {
  create: async () => {},
  start: async () => {},
  stop: async () => {},
  destroy: async () => {},
};

/** `+sdn/<vnet>-all|-gateway|-no-gateway|-dhcp` from the running config (reference §3.11). */
export function sdnIpsets(running: RunningConfig): Record<string, { cidr: string; nomatch?: number }[]> {
  const sets: Record<string, { cidr: string; nomatch?: number }[]> = {};
  for (const vnet of Object.keys(running.vnets.ids).sort()) {
    const all: { cidr: string; nomatch?: number }[] = [];
    const gw: { cidr: string }[] = [];
    const nogw: { cidr: string; nomatch?: number }[] = [];
    const dhcp: { cidr: string }[] = [];
    for (const [id, s] of Object.entries(running.subnets.ids).sort()) {
      if (s.vnet !== vnet) continue;
      const [, net, mask] = id.split("-");
      const cidr = `${net}/${mask}`;
      all.push({ cidr });
      nogw.push({ cidr });
      if (typeof s.gateway === "string") {
        gw.push({ cidr: s.gateway });
        nogw.push({ cidr: s.gateway, nomatch: 1 });
      }
      for (const r of (s["dhcp-range"] as string[] | undefined) ?? []) {
        const kv = Object.fromEntries(r.split(",").map((p) => p.split("=")));
        dhcp.push({ cidr: `${kv["start-address"]}-${kv["end-address"]}` });
      }
    }
    Object.assign(sets, {
      [`${vnet}-all`]: all,
      [`${vnet}-gateway`]: gw,
      [`${vnet}-no-gateway`]: nogw,
      [`${vnet}-dhcp`]: dhcp,
    });
  }
  return sets;
}

export interface RunningEmulator {
  emulator: Emulator;
  server: https.Server;
  url: string;
  port: number;
  fingerprint: string;
  /** Fault injection for tests (the same file a lab process reads). */
  faults: { set(f: Faults): void; get(): Faults };
  close(): Promise<void>;
}

/** Self-signed certificate, generated once per state dir so a restart keeps the pinned fingerprint. */
export function ensureCertificate(
  stateDir: string,
  site: string,
  host: string,
): { cert: string; key: string; fingerprint: string } {
  const certFile = path.join(stateDir, "cert.pem");
  const keyFile = path.join(stateDir, "key.pem");
  if (!fs.existsSync(certFile) || !fs.existsSync(keyFile)) {
    const san = /^[\d.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`;
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "3650",
        "-subj",
        `/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=${site}`,
        "-addext",
        `subjectAltName=${san}`,
        "-keyout",
        keyFile,
        "-out",
        certFile,
      ],
      { stdio: "ignore" },
    );
    fs.chmodSync(keyFile, 0o600);
  }
  const cert = fs.readFileSync(certFile, "utf8");
  const fingerprint = new X509Certificate(cert).fingerprint256; // colon-hex, upper-case, as PVE shows it
  fs.writeFileSync(path.join(stateDir, "fingerprint"), `${fingerprint}\n`);
  return { cert, key: fs.readFileSync(keyFile, "utf8"), fingerprint };
}

export async function createEmulator(
  options: EmulatorOptions & { host?: string; port?: number },
): Promise<RunningEmulator> {
  fs.mkdirSync(options.stateDir, { recursive: true });
  const host = options.host ?? "127.0.0.1";
  const tls = ensureCertificate(options.stateDir, options.site, options.certHost ?? host);
  const emulator = new Emulator(options);
  emulator.fingerprint = tls.fingerprint;
  const server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    emulator.handle(req, res).catch((e) => {
      res.writeHead(500, "internal emulator error");
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    emulator,
    server,
    port,
    url: `https://${host.includes(":") ? `[${host}]` : host}:${port}/api2/json`,
    fingerprint: tls.fingerprint,
    faults: { set: (f) => emulator.writeFaults(f), get: () => emulator.readFaults() },
    close: async () => {
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
      await emulator.idle();
    },
  };
}
