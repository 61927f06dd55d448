// A two-site fabric brought up BY HAND, the way the seed's author did it before any automation: a lab
// (lab/lab.ts) with sites roz and wro (one node each), then on every host WireGuard (wg genkey + wg-quick),
// sysctls and FRR with bgpd; then through each site's Proxmox API emulator the EVPN controller, zone, vnet,
// subnet (SNAT on), apply, and the sdntest VM (net0 on the vnet, net1 on vmbr0). No firewall is configured
// (everything is allowed): part B's tests add theirs on top.
//
//   const f = await fabricByHand({ lab: "rz123" });   // ~15 s; throws with what is missing
//   f.sh("roz", "vtysh -c 'show bgp l2vpn evpn summary'")   // a shell command on roz's host
//   f.sh("roz/vm", "ping -c1 10.2.1.9")                     // in roz's VM stand-in
//   await f.api("roz", "PUT", "/cluster/sdn/zones/crossite", { "exitnodes-local-routing": 1 });
//   await f.apply("roz");                                    // PUT /cluster/sdn + wait for the task
//   await f.down();
//
// Values are the seed's (shared/seed/facts.md): wg0 10.k.0.1/16 with the peer's /16 as AllowedIPs, port
// 51820, keepalive 25; controller evpnctl (ASN 65000, peers = both tunnel addresses); zone crossite
// (vrf-vxlan 99999, mtu 1370, the site's node as exit node, advertise-subnets); vnet crossvnt (tag
// 100000); subnets 10.1.1.0/24 and 10.2.1.0/24 with gateway .1 and snat; VMs 10.1.1.9 and 10.2.1.9.
// An HTTP server stands in for "the internet" on the internet namespace's operator-side address
// (`f.httpUrl`), reachable from a VM only through its site's SNAT (the internet has no route to 10.x).
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { down, enterArgs, up, type LabStatus } from "../../lab/lab";
import { q } from "../../lab/host";

export const SITES = [
  { name: "roz", k: 1 },
  { name: "wro", k: 2 },
] as const;
export type SiteName = (typeof SITES)[number]["name"];
export const tunnelIp = (k: number) => `10.${k}.0.1`;
export const vmIp = (k: number) => `10.${k}.1.9`;
export const gatewayIp = (k: number) => `10.${k}.1.1`;
export const ZONE = "crossite";
export const VNET = "crossvnt";

export interface FabricOptions {
  lab: string;
  /** exitnodes-local-routing on the zones from the start (default off, as the seed ended up). */
  localRouting?: boolean;
  log?: (l: string) => void;
}

export interface ShResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface HandFabric {
  lab: string;
  status: LabStatus;
  httpUrl: string;
  /** Runs `script` with /bin/sh in a lab target ("roz", "roz/vm", "internet", "operator", ...). */
  sh(target: string, script: string, timeoutMs?: number): ShResult;
  /** Like sh, but throws unless the exit code is 0; returns stdout. */
  ok(target: string, script: string): string;
  /** One API call to a site's emulator (token auth, from the operator namespace); returns `data`. */
  api(site: SiteName, method: string, apiPath: string, params?: Record<string, string | number>): unknown;
  /** PUT /cluster/sdn and wait for the apply task; returns the per-node SDN zone status. */
  apply(site: SiteName): Promise<{ zone: string; status: string }[]>;
  /** Polls `check` every 200 ms until it is true or `ms` passes; returns whether it became true. */
  until(check: () => boolean, ms: number): Promise<boolean>;
  down(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function fabricByHand(o: FabricOptions): Promise<HandFabric> {
  const log = o.log ?? (() => {});
  const status = await up({ name: o.lab, sites: SITES.map((s) => ({ name: s.name })) });

  const sh = (target: string, script: string, timeoutMs = 30_000): ShResult => {
    const argv = [...enterArgs(o.lab, target, "/"), "/bin/sh", "-c", script];
    const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: timeoutMs });
    return { code: r.status, stdout: (r.stdout ?? "").trim(), stderr: (r.stderr ?? "").trim() };
  };
  const ok = (target: string, script: string): string => {
    const r = sh(target, script);
    if (r.code !== 0)
      throw new Error(`${target}: '${script}' failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const siteStatus = (name: SiteName) => status.sites.find((s) => s.name === name)!;

  // The API from the operator namespace with curl; the token travels in a header file, never in argv.
  const headerFile = path.join(status.dir, "run", `api-header-${process.pid}`);
  const api = (
    site: SiteName,
    method: string,
    apiPath: string,
    params: Record<string, string | number> = {},
  ) => {
    const s = siteStatus(site);
    fs.writeFileSync(headerFile, `Authorization: PVEAPIToken=${s.api.tokenId}=${s.api.tokenSecret}\n`, {
      mode: 0o600,
    });
    const data = Object.entries(params).flatMap(([k, v]) => ["--data-urlencode", `${k}=${v}`]);
    const get = method === "GET" || method === "DELETE";
    const argv = [
      ...enterArgs(o.lab, "operator", "/"),
      "curl",
      "-sS",
      "-k",
      "-H",
      `@${headerFile}`,
      "-X",
      method,
      ...(get && data.length ? ["-G"] : []),
      ...data,
      "-w",
      "\n%{http_code}",
      `${s.api.url}${apiPath}`,
    ];
    const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
    const lines = r.stdout.trimEnd().split("\n");
    const code = Number(lines.pop());
    const body = lines.join("\n");
    if (code !== 200) throw new Error(`${site}: ${method} ${apiPath} -> HTTP ${code}: ${body}${r.stderr}`);
    return (JSON.parse(body) as { data: unknown }).data;
  };
  const waitTask = async (site: SiteName, upid: string) => {
    const node = upid.split(":")[1];
    for (let i = 0; i < 600; i++) {
      const st = api(site, "GET", `/nodes/${node}/tasks/${encodeURIComponent(upid)}/status`) as {
        status: string;
        exitstatus?: string;
      };
      if (st.status === "stopped") return st.exitstatus ?? "";
      await sleep(100);
    }
    throw new Error(`${site}: task ${upid} did not finish within 60 s`);
  };
  const apply = async (site: SiteName) => {
    const exit = await waitTask(site, api(site, "PUT", "/cluster/sdn") as string);
    if (exit !== "OK") log(`${site}: apply ended ${exit}`);
    const node = siteStatus(site).hosts[0].name;
    return api(site, "GET", `/nodes/${node}/sdn/zones`) as { zone: string; status: string }[];
  };
  const until = async (check: () => boolean, ms: number) => {
    const end = Date.now() + ms;
    for (;;) {
      if (check()) return true;
      if (Date.now() > end) return false;
      await sleep(200);
    }
  };

  // 1. Hosts by hand: sysctls, WireGuard, FRR with bgpd.
  const pub: Record<string, string> = {};
  for (const s of SITES) {
    ok(
      s.name,
      [
        "printf '%s\\n' net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 " +
          "net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1 > /etc/sysctl.d/90-fabric.conf",
        "sysctl -q -p /etc/sysctl.d/90-fabric.conf",
        "umask 077; mkdir -p /etc/wireguard; wg genkey > /etc/wireguard/wg0.key",
      ].join("\n"),
    );
    pub[s.name] = ok(s.name, "wg pubkey < /etc/wireguard/wg0.key");
  }
  for (const s of SITES) {
    const peer = SITES.find((x) => x.name !== s.name)!;
    const peerHost = siteStatus(peer.name).hosts[0];
    const conf = [
      "[Interface]",
      `Address = ${tunnelIp(s.k)}/16`,
      "ListenPort = 51820",
      "PostUp = wg set %i private-key /etc/wireguard/wg0.key",
      "",
      "[Peer]",
      `PublicKey = ${pub[peer.name]}`,
      `AllowedIPs = 10.${peer.k}.0.0/16`,
      `Endpoint = ${peerHost.address}:51820`,
      "PersistentKeepalive = 25",
      "",
    ].join("\n");
    ok(
      s.name,
      [
        `printf %s ${q(conf)} > /etc/wireguard/wg0.conf`,
        "chmod 600 /etc/wireguard/wg0.conf",
        "systemctl start wg-quick@wg0 >/dev/null 2>&1",
        "sed -i 's/^bgpd=no/bgpd=yes/' /etc/frr/daemons",
        "systemctl start frr >/dev/null 2>&1",
      ].join("\n"),
    );
  }
  log("hosts prepared (sysctls, wg-quick, frr)");

  // 2. SDN through each site's API, exactly as a person would with pvesh.
  for (const s of SITES) {
    const node = siteStatus(s.name).hosts[0].name;
    api(s.name, "POST", "/cluster/sdn/controllers", {
      controller: "evpnctl",
      type: "evpn",
      asn: 65000,
      peers: SITES.map((x) => tunnelIp(x.k)).join(","),
    });
    api(s.name, "POST", "/cluster/sdn/zones", {
      zone: ZONE,
      type: "evpn",
      controller: "evpnctl",
      "vrf-vxlan": 99999,
      mtu: 1370,
      exitnodes: node,
      "advertise-subnets": 1,
      ...(o.localRouting ? { "exitnodes-local-routing": 1 } : {}),
    });
    api(s.name, "POST", "/cluster/sdn/vnets", { vnet: VNET, zone: ZONE, tag: 100000 });
    api(s.name, "POST", `/cluster/sdn/vnets/${VNET}/subnets`, {
      subnet: `10.${s.k}.1.0/24`,
      type: "subnet",
      gateway: gatewayIp(s.k),
      snat: 1,
    });
    const zones = await apply(s.name);
    if (zones.some((z) => z.status !== "available"))
      throw new Error(`${s.name}: SDN not available after apply: ${JSON.stringify(zones)}`);
  }
  log("SDN applied on both sites");

  // 3. The sdntest VMs.
  for (const s of SITES) {
    const site = siteStatus(s.name);
    const vm = site.vms[0];
    const upid = api(s.name, "POST", `/nodes/${vm.host}/qemu`, {
      vmid: vm.vmid,
      name: "sdntest",
      memory: 512,
      net0: `virtio=BC:24:11:0${s.k}:01:09,bridge=${VNET}`,
      net1: `virtio=BC:24:11:0${s.k}:02:09,bridge=vmbr0`,
      ipconfig0: `ip=${vmIp(s.k)}/24,gw=${gatewayIp(s.k)}`,
      ipconfig1: `ip=${vm.nics[1].address}`,
      start: 1,
    }) as string;
    const exit = await waitTask(s.name, upid);
    if (exit !== "OK") throw new Error(`${s.name}: VM create/start ended '${exit}'`);
  }

  // 4. "The internet": an HTTP server on the internet namespace's address towards the operator.
  const inetAddr = status.operator!.address.replace(/\.\d+$/, ".1");
  const argv = [
    ...enterArgs(o.lab, "internet", "/"),
    "/usr/bin/python3",
    "-m",
    "http.server",
    "8080",
    "--bind",
    inetAddr,
  ];
  const www = path.join(status.dir, "run", "www");
  fs.mkdirSync(www, { recursive: true });
  fs.writeFileSync(path.join(www, "index.html"), "hello from the internet\n");
  const http = spawn(argv[0], argv.slice(1), { cwd: www, stdio: "ignore", detached: true });
  http.unref();
  const httpPid = http.pid;
  const httpUrl = `http://${inetAddr}:8080/`;

  const f: HandFabric = {
    lab: o.lab,
    status,
    httpUrl,
    sh,
    ok,
    api,
    apply,
    until,
    down: async () => {
      if (httpPid) {
        try {
          process.kill(httpPid, "SIGTERM");
        } catch {
          // already gone
        }
      }
      fs.rmSync(headerFile, { force: true });
      await down(o.lab);
    },
  };
  return f;
}
