// WireGuard interface: a key pair made on the host (the private key never leaves it: generated under umask
// 077 into /etc/wireguard/<if>.key, loaded by the config's PostUp, and only `wg pubkey` output is read),
// the wg-quick config rendered from the fabric, brought up with wg-quick@<if>. Peer, port and endpoint
// changes go through `systemctl reload` (the unit's ExecReload is `wg syncconf`), so the tunnel stays up;
// only address and MTU changes restart it. Bumping keyGeneration rotates the key in place (`wg set`).
import { renderWgConfig, wgConfigPath, wgKeyPath, type WgInterface, type WgPeer } from "../render/wireguard";
import { providerOf, type HostKind, type HostSession } from "./lifecycle";
import { sh } from "./quote";
import { cidrContains, cidrOf } from "../../fabric/net";

export interface WgSpec extends WgInterface {
  keyGeneration?: number; // bump to rotate the key pair
}

export interface WgRunningPeer {
  publicKey: string;
  endpoint: string | null;
  allowedIps: string[];
  latestHandshake: number; // unix seconds, 0 = never
  persistentKeepalive: number; // 0 = off
}

export interface WgLive {
  config: string | null;
  keyPublic: string | null; // public key of the key file, null when there is no key
  enabled: boolean;
  active: boolean;
  running: { publicKey: string | null; listenPort: number; peers: WgRunningPeer[] } | null;
  link: { mtu: number; addresses: string[] } | null;
  routes: { dst: string; kernel: boolean }[]; // routes via the interface (main table)
  resolved: Record<string, string[]>; // endpoint host name -> IPv4 addresses as the host resolves them
}

export interface WgPrev {
  configBefore: string | null;
}

const MANAGED = "# Managed by pve-fabric";

/** Parses `wg show <if> dump | tail -n +2 | cut -f1,3,4,5,8` (the preshared-key column is never read). */
export function parseWgPeers(text: string): WgRunningPeer[] {
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const [publicKey, endpoint, allowed, hs, ka] = l.split("\t");
      return {
        publicKey,
        endpoint: endpoint === "(none)" ? null : endpoint,
        allowedIps: allowed === "(none)" ? [] : allowed.split(",").sort(),
        latestHandshake: Number(hs) || 0,
        persistentKeepalive: ka === "off" ? 0 : Number(ka) || 0,
      };
    });
}

/** Parses `ip -j addr show dev <if>`. */
export function parseIpAddr(json: string): { mtu: number; addresses: string[] } | null {
  try {
    const [l] = JSON.parse(json) as { mtu: number; addr_info?: { local: string; prefixlen: number }[] }[];
    return l ? { mtu: l.mtu, addresses: (l.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`) } : null;
  } catch {
    return null;
  }
}

/** Parses `ip -j route show dev <if>`. */
export function parseRoutes(json: string): { dst: string; kernel: boolean }[] {
  try {
    return (JSON.parse(json) as { dst: string; protocol?: string }[]).map((r) => ({
      dst: r.dst,
      kernel: r.protocol === "kernel",
    }));
  } catch {
    return [];
  }
}

/** "host:port" or "[v6]:port" split; host is lower-cased. */
export function splitEndpoint(ep: string): { host: string; port: string } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(ep) ?? /^([^:]+):(\d+)$/.exec(ep);
  if (!m) throw new Error(`endpoint '${ep}' is not host:port`);
  return { host: m[1].toLowerCase(), port: m[2] };
}

const isIp = (h: string) => /^\d+\.\d+\.\d+\.\d+$/.test(h) || h.includes(":");

/** The live endpoints that satisfy a wanted endpoint; undefined when the name does not resolve (no verdict). */
export function acceptableEndpoints(want: string, resolved: Record<string, string[]>): string[] | undefined {
  const { host, port } = splitEndpoint(want);
  if (isIp(host)) return [host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`];
  const ips = resolved[host] ?? [];
  return ips.length > 0 ? ips.map((ip) => `${ip}:${port}`) : undefined;
}

/** Whether prefix `outer` contains prefix `inner` (IPv4; IPv6 only when equal). */
export function covers(outer: string, inner: string): boolean {
  if (outer === inner) return true;
  const o = cidrOf(outer);
  const i = cidrOf(inner);
  return !!o && !!i && o.prefix <= i.prefix && cidrContains(o, i.network);
}

/**
 * Routes the peers' AllowedIPs need, as wg-quick would add them at `up` (a prefix already covered by a
 * route via the interface, such as its own connected subnet, needs none; /0 is left to the operator).
 * `wg syncconf` never touches routes, so peer changes must add and remove them here.
 */
export function routePlan(spec: WgSpec, routes: { dst: string; kernel: boolean }[]) {
  const norm = (d: string) =>
    d === "default" ? "0.0.0.0/0" : d.includes("/") ? d : `${d}/${d.includes(":") ? 128 : 32}`;
  const live = routes.map((r) => ({ dst: norm(r.dst), kernel: r.kernel }));
  const want = [...new Set(spec.peers.flatMap((p) => p.allowedIps))].filter((c) => !c.endsWith("/0")).sort();
  const missing = want.filter((c) => !live.some((r) => covers(r.dst, c)));
  const stale = live
    .filter((r) => !r.kernel && !want.includes(r.dst) && !r.dst.endsWith("/0"))
    .map((r) => r.dst);
  return { missing, stale };
}

export function wgDrift(spec: WgSpec, live: WgLive): string[] {
  const d: string[] = [];
  if (live.keyPublic === null) d.push("key");
  if (live.config !== renderWgConfig(spec)) d.push("config");
  if (!live.enabled) d.push("enabled");
  if (!live.active) d.push("active");
  if (!live.running || !live.link) return [...d, "interface"];
  if (live.running.publicKey !== live.keyPublic) d.push("publicKey");
  if (live.running.listenPort !== spec.listenPort) d.push("listenPort");
  if (!live.link.addresses.includes(spec.address)) d.push("address");
  if (spec.mtu !== undefined && live.link.mtu !== spec.mtu) d.push("mtu");
  const rp = routePlan(spec, live.routes);
  d.push(...rp.missing.map((c) => `route ${c}: missing`), ...rp.stale.map((c) => `route ${c}: stale`));
  const byKey = new Map(live.running.peers.map((p) => [p.publicKey, p]));
  const wanted = new Set(spec.peers.map((p) => p.publicKey));
  for (const p of live.running.peers)
    if (!wanted.has(p.publicKey)) d.push(`peer ${p.publicKey.slice(0, 8)}: unexpected`);
  for (const p of spec.peers) d.push(...peerDrift(p, byKey.get(p.publicKey), live.resolved));
  return d;
}

function peerDrift(
  want: WgPeer,
  have: WgRunningPeer | undefined,
  resolved: Record<string, string[]>,
): string[] {
  const tag = `peer ${want.publicKey.slice(0, 8)}`;
  if (!have) return [`${tag}: missing`];
  const d: string[] = [];
  if ([...want.allowedIps].sort().join(",") !== have.allowedIps.join(",")) d.push(`${tag}.allowedIps`);
  if ((want.persistentKeepalive ?? 0) !== have.persistentKeepalive) d.push(`${tag}.persistentKeepalive`);
  if (want.endpoint) {
    const ok = acceptableEndpoints(want.endpoint, resolved);
    if (have.endpoint === null || (ok !== undefined && !ok.includes(have.endpoint)))
      d.push(`${tag}.endpoint`);
  }
  return d;
}

async function readWg(s: HostSession, spec: WgSpec): Promise<WgLive> {
  const i = spec.name;
  const unit = `wg-quick@${i}.service`;
  const names = [
    ...new Set(
      spec.peers.flatMap((p) => (p.endpoint ? [splitEndpoint(p.endpoint).host] : [])).filter((h) => !isIp(h)),
    ),
  ];
  const p = await s.probe({
    config: sh`cat ${wgConfigPath(i)}`,
    key: sh`test -s ${wgKeyPath(i)} && wg pubkey <${wgKeyPath(i)}`,
    enabled: sh`systemctl is-enabled ${unit}`,
    active: sh`systemctl is-active ${unit}`,
    pub: sh`wg show ${i} public-key`,
    port: sh`wg show ${i} listen-port`,
    peers: sh`wg show ${i} dump | tail -n +2 | cut -f1,3,4,5,8`,
    link: sh`ip -j addr show dev ${i}`,
    routes: sh`ip -j route show dev ${i}`,
    ...Object.fromEntries(
      names.map((n, k) => [`dns${k}`, sh`getent ahostsv4 ${n} | cut -d' ' -f1 | sort -u`]),
    ),
  });
  const up = p.pub.rc === 0 && p.port.rc === 0;
  const pub = p.pub.out.trim();
  return {
    config: p.config.rc === 0 ? p.config.out : null,
    keyPublic: p.key.rc === 0 ? p.key.out.trim() : null,
    enabled: p.enabled.out.trim() === "enabled",
    active: p.active.out.trim() === "active",
    running: up
      ? {
          publicKey: pub === "(none)" ? null : pub,
          listenPort: Number(p.port.out.trim()),
          peers: parseWgPeers(p.peers.out),
        }
      : null,
    link: p.link.rc === 0 ? parseIpAddr(p.link.out) : null,
    routes: p.routes.rc === 0 ? parseRoutes(p.routes.out) : [],
    resolved: Object.fromEntries(names.map((n, k) => [n, p[`dns${k}`].out.split("\n").filter((x) => x)])),
  };
}

const KEY_SCRIPT = (i: string) =>
  // umask 077 before the key exists; only `wg genkey` sees it, and it goes straight to the file.
  sh`set -e; umask 077; install -d -m 0700 /etc/wireguard; wg genkey >${wgKeyPath(i) + ".new"}; ` +
  sh`mv -f ${wgKeyPath(i) + ".new"} ${wgKeyPath(i)}`;

/**
 * Applies the config to the running interface without taking it down: `wg syncconf` changes only what
 * differs (peers, port, key). Not `systemctl reload wg-quick@`: its `wg syncconf <(wg-quick strip)` feeds
 * a config without PrivateKey, and syncconf then *clears* the running key (measured: the interface kept
 * running with public key "(none)"). So the stripped config gets the key added on the host, by awk reading
 * the key file: the key is in no argv and never leaves the host; the temp file is 0600 and removed.
 */
const SYNC_SCRIPT = (i: string) =>
  sh`set -e; umask 077; t=$(mktemp); trap 'rm -f "$t"' EXIT; wg-quick strip ${i} | ` +
  sh`awk -v kf=${wgKeyPath(i)} 'BEGIN { getline k < kf } { print } /^\\[Interface\\]/ { print "PrivateKey = " k }' >"$t"; ` +
  sh`wg syncconf ${i} "$t"`;

export const kind: HostKind<WgSpec, WgLive, WgPrev> = {
  kind: "WireGuard interface",
  schema: (zod) => {
    const key = zod
      .string()
      .regex(
        /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$/,
        "a WireGuard public key (44 base64 characters, from `wg pubkey`)",
      );
    const cidr = zod
      .string()
      .regex(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$|^[0-9a-fA-F:]+\/\d{1,3}$/, "a CIDR such as 10.1.0.0/16");
    return zod.object({
      name: zod
        .string()
        .regex(/^[A-Za-z0-9_=+.-]{1,15}$/, "an interface name of at most 15 characters (e.g. wg0)"),
      address: cidr,
      listenPort: zod.number().int().min(1).max(65535),
      mtu: zod.number().int().min(1280, "WireGuard needs mtu >= 1280 for IPv6").max(9000).optional(),
      keyGeneration: zod.number().int().min(0).optional(),
      peers: zod.array(
        zod.object({
          publicKey: key,
          endpoint: zod
            .string()
            .regex(
              /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/,
              "an endpoint host:port (DNS names are re-resolved on apply)",
            )
            .optional(),
          allowedIps: zod.array(cidr).min(1, "a peer needs at least one AllowedIPs range"),
          persistentKeepalive: zod.number().int().min(0).max(65535).optional(),
        }),
      ),
    });
  },
  name: (spec) => spec.name,
  replaceOn: ["name"],
  read: readWg,
  drift: wgDrift,
  capture(s, spec, live) {
    if (live.config !== null && !live.config.startsWith(MANAGED)) {
      throw new Error(
        `${wgConfigPath(spec.name)} exists and was not written by pve-fabric: refusing to take it over. ` +
          `Fix: choose another interface name, or move the file away (and bring the interface down) first.`,
      );
    }
    return { configBefore: live.config };
  },
  async apply(s, spec, live, old) {
    const i = spec.name;
    const unit = `wg-quick@${i}.service`;
    const rotate = old !== undefined && (old.keyGeneration ?? 0) !== (spec.keyGeneration ?? 0);
    const newKey = live.keyPublic === null || rotate;
    if (newKey) await s.write(KEY_SCRIPT(i));
    const text = renderWgConfig(spec);
    const configChanged = live.config !== text;
    if (configChanged) await s.writeFile(wgConfigPath(i), text, { mode: "0600" });
    if (!live.enabled) await s.write(sh`systemctl enable ${unit}`);

    const d = wgDrift(spec, live);
    if (!live.running || !live.link) {
      // Not up: bring it up (an "active" oneshot whose interface vanished needs a restart, not a start).
      // (not `restart`: its stop runs `wg-quick down`, which fails on a vanished interface.)
      await s.write(
        live.active ? sh`systemctl stop ${unit}; systemctl start ${unit}` : sh`systemctl start ${unit}`,
      );
      return;
    }
    if (!live.active) {
      // Up by hand, not through the unit: hand it over to the unit.
      await s.write(sh`wg-quick down ${i} && systemctl start ${unit}`);
      return;
    }
    if (d.includes("address") || d.includes("mtu")) {
      await s.write(sh`systemctl restart ${unit}`);
      return;
    }
    const peers = d.some((x) => x.startsWith("peer ") || x === "listenPort");
    if (configChanged || peers || newKey || d.includes("publicKey")) await s.write(SYNC_SCRIPT(i));
    const rp = routePlan(spec, live.routes);
    if (rp.missing.length + rp.stale.length > 0) {
      const cmds = [
        ...rp.missing.map((c) => sh`ip route replace ${c} dev ${i}`),
        ...rp.stale.map((c) => sh`ip route del ${c} dev ${i}`),
      ];
      await s.write(cmds.join(" && "));
    }
  },
  observe: (_spec, live) => ({
    publicKey: live.keyPublic,
    listenPort: live.running?.listenPort ?? null,
    addresses: live.link?.addresses ?? [],
    mtu: live.link?.mtu ?? null,
    peers: (live.running?.peers ?? []).map((p) => ({
      publicKey: p.publicKey,
      endpoint: p.endpoint,
      allowedIps: p.allowedIps,
    })),
  }),
  async remove(s, spec, _prev, live) {
    const i = spec.name;
    const unit = `wg-quick@${i}.service`;
    // An "active" unit whose interface is already gone fails to stop (wg-quick down): gone is fine here.
    if (live.active) await s.write(sh`systemctl stop ${unit}`, { okExits: live.running ? [0] : [0, 1] });
    if (live.enabled) await s.write(sh`systemctl disable ${unit}`);
    if (!live.active && live.running) await s.write(sh`wg-quick down ${i}`);
    if (live.config !== null || live.keyPublic !== null)
      await s.write(sh`rm -f ${wgConfigPath(i)} ${wgKeyPath(i)}`);
  },
  exists: (live) => live.config !== null || live.keyPublic !== null || live.running !== null,
};

export const provider = providerOf(kind);
