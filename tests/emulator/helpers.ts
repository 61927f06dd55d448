// Test harness for the PVE API emulator: an in-process HTTPS instance on 127.0.0.1 (ephemeral port,
// fresh state dir) and a small client that speaks the wire format directly (form or JSON bodies,
// query strings for GET/DELETE), pinned to the emulator's own certificate.
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { createEmulator, type EmulatorOptions, type RunningEmulator } from "../../lab/pve/server";

export const TOKEN = { tokenid: "root@pam!fabric", secret: "6f1f2a9e-2c1e-4b7c-9d5e-0a1b2c3d4e5f" };
export const AUTH = `PVEAPIToken=${TOKEN.tokenid}=${TOKEN.secret}`;

export interface Reply {
  status: number;
  reason: string;
  body: { data?: unknown; message?: string; errors?: Record<string, string> } | undefined;
  raw: string;
}

export type Params = Record<string, string | number | boolean | string[]>;

export interface Harness {
  emu: RunningEmulator;
  dir: string;
  call(
    method: string,
    p: string,
    params?: Params,
    opts?: { json?: boolean; headers?: Record<string, string>; noAuth?: boolean; rawBody?: string },
  ): Promise<Reply>;
  /** call() that must succeed; returns `data`. */
  ok<T = unknown>(method: string, p: string, params?: Params, opts?: { json?: boolean }): Promise<T>;
  /** Poll a UPID until stopped; returns the task status object. */
  waitTask(upid: string): Promise<Record<string, unknown>>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

export function request(
  emu: RunningEmulator,
  method: string,
  p: string,
  params: Params = {},
  opts: { json?: boolean; headers?: Record<string, string>; noAuth?: boolean; rawBody?: string } = {},
): Promise<Reply> {
  const cert = fs.readFileSync(path.join(emu.emulator.options.stateDir, "cert.pem"), "utf8");
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    for (const x of Array.isArray(v) ? v : [v]) qs.append(k, String(x));
  const hasBody = (method === "POST" || method === "PUT") && Object.keys(params).length > 0;
  let body = opts.rawBody ?? (hasBody ? (opts.json ? JSON.stringify(params) : qs.toString()) : undefined);
  const url = `/api2/json${p}${!hasBody && qs.size > 0 ? `?${qs}` : ""}`;
  const headers: Record<string, string> = {
    ...(opts.noAuth ? {} : { Authorization: AUTH }),
    ...opts.headers,
  };
  if (body !== undefined) {
    headers["Content-Type"] ??= opts.json ? "application/json" : "application/x-www-form-urlencoded";
    headers["Content-Length"] = String(Buffer.byteLength(body));
  } else body = undefined;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port: emu.port,
        path: url,
        method,
        headers,
        ca: cert,
        servername: "localhost",
        checkServerIdentity: () => undefined,
      },
      (res) => {
        let raw = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (raw += c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            reason: res.statusMessage ?? "",
            body: raw ? JSON.parse(raw) : undefined,
            raw,
          }),
        );
      },
    );
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export async function startHarness(opts: Partial<EmulatorOptions> = {}): Promise<Harness> {
  const dir = opts.stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "pve-emu-"));
  const options: EmulatorOptions = {
    site: "roz",
    stateDir: dir,
    nodes: [
      { name: "pve1", ip: "10.1.0.1" },
      { name: "pve2", ip: "10.1.0.2" },
    ],
    token: TOKEN,
    authFailureDelayMs: 0,
    ...opts,
  };
  let emu = await createEmulator(options);
  const h: Harness = {
    get emu() {
      return emu;
    },
    dir,
    call: (m, p, params, o) => request(emu, m, p, params, o),
    async ok<T>(m: string, p: string, params?: Params, o?: { json?: boolean }) {
      const r = await request(emu, m, p, params, o);
      if (r.status !== 200) throw new Error(`${m} ${p} -> ${r.status} ${r.reason}: ${r.raw}`);
      return r.body?.data as T;
    },
    async waitTask(upid: string) {
      const node = upid.split(":")[1];
      for (;;) {
        const st = (await h.ok(`GET`, `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`)) as Record<
          string,
          unknown
        >;
        if (st.status === "stopped") return st;
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async restart() {
      await emu.close();
      emu = await createEmulator(options);
    },
    async close() {
      await emu.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return h;
}

/** controller → zone → vnet → subnet, the seed's shape. */
export async function seedSdn(h: Harness): Promise<void> {
  await h.ok("POST", "/cluster/sdn/controllers", {
    type: "evpn",
    controller: "evpnctl",
    asn: 65000,
    peers: "10.1.0.1,10.2.0.1",
  });
  await h.ok("POST", "/cluster/sdn/zones", {
    type: "evpn",
    zone: "crossite",
    controller: "evpnctl",
    "vrf-vxlan": 99999,
    mtu: 1370,
    exitnodes: "pve2,pve1",
    ipam: "pve",
  });
  await h.ok("POST", "/cluster/sdn/vnets", { vnet: "crossvnt", zone: "crossite", tag: 100000 });
  await h.ok("POST", "/cluster/sdn/vnets/crossvnt/subnets", {
    type: "subnet",
    subnet: "10.1.1.0/24",
    gateway: "10.1.1.1",
    snat: 1,
  });
}

export async function applySdn(h: Harness): Promise<Record<string, unknown>> {
  const upid = await h.ok<string>("PUT", "/cluster/sdn");
  return h.waitTask(upid);
}
