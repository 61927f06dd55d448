// Readers of what the probes print (wg, sysctl, bridge, ip, FRR's vtysh, ping): text in, plain data out.
// Each is pinned by recorded output in tests/unit/components-check.test.ts. A reader never throws: output it
// cannot read (a daemon down, "% not found") reads as empty, and the evaluation reports what is missing.

/** `wg show <if> latest-handshakes`: public key → epoch seconds (0 = never). */
export function parseHandshakes(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const [key, t] = line.trim().split(/\s+/);
    if (key && t !== undefined && /^\d+$/.test(t)) out[key] = Number(t);
  }
  return out;
}

/** `sysctl a b`: "a = 1" lines. */
export function parseSysctls(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^\s*(\S+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

/** vtysh's `… json` output as an object; {} when it printed something else (FRR down, "% not found"). */
function vtyshJson(text: string): Record<string, unknown> {
  try {
    const doc: unknown = JSON.parse(text);
    return doc && typeof doc === "object" ? (doc as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** `show bgp l2vpn evpn summary json` → neighbour → state. FRR nests "peers" at the top or per AFI. */
export function parseBgpPeers(text: string): Record<string, string> {
  const doc = vtyshJson(text);
  const out: Record<string, string> = {};
  const visit = (o: unknown) => {
    if (!o || typeof o !== "object") return;
    const rec = o as Record<string, unknown>;
    if (rec.peers && typeof rec.peers === "object") {
      for (const [addr, p] of Object.entries(rec.peers as Record<string, { state?: string }>))
        out[addr] = p?.state ?? "unknown";
    }
    for (const [k, v] of Object.entries(rec)) if (k !== "peers") visit(v);
  };
  visit(doc);
  return out;
}

/** `bridge fdb show` → VTEP addresses per VXLAN device (vxlan_<vnet>, vrfvx_<zone>). */
export function parseFdb(text: string): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const line of text.split("\n")) {
    const dev = / dev (\S+)/.exec(line)?.[1];
    const dst = / dst (\S+)/.exec(line)?.[1];
    if (dev && dst) (out[dev] ??= new Set()).add(dst);
  }
  return Object.fromEntries(Object.entries(out).map(([d, s]) => [d, [...s].sort()]));
}

/** `ip -d -o link show type vxlan` → device → its local (VTEP) address. */
export function parseVxlanLocal(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const dev = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1];
    const local = / local (\S+)/.exec(line)?.[1];
    if (dev && local) out[dev] = local;
  }
  return out;
}

/** An IPv4-mapped IPv6 next hop (`::ffff:a01:1`, `::ffff:10.1.0.1`) as the IPv4 VTEP it stands for. */
export function unmapV4(ip: string): string {
  const dotted = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (dotted) return dotted[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (!hex) return ip;
  const [hi, lo] = [parseInt(hex[1], 16), parseInt(hex[2], 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}

/**
 * `show evpn next-hops vni all json` or `show evpn rmac vni all json` (FRR: L3 VNI → entry per next hop or
 * router MAC) → VTEP → the router MACs listed for it. IPv6 routes' IPv4-mapped next hops count for their VTEP.
 */
export function parseEvpnRouterMacs(text: string): Record<string, string[]> {
  const doc = vtyshJson(text);
  const out: Record<string, Set<string>> = {};
  for (const vni of Object.values(doc)) {
    if (!vni || typeof vni !== "object") continue;
    for (const e of Object.values(vni as Record<string, unknown>)) {
      const { nexthopIp, vtepIp, routerMac } = (e ?? {}) as Record<string, unknown>;
      const vtep = typeof nexthopIp === "string" ? unmapV4(nexthopIp) : vtepIp;
      if (typeof vtep === "string" && typeof routerMac === "string") (out[vtep] ??= new Set()).add(routerMac);
    }
  }
  return Object.fromEntries(Object.entries(out).map(([v, m]) => [v, [...m].sort()]));
}

/** `show ip route vrf X 0.0.0.0/0 json` → the next hops of the BGP (EVPN) default route. */
export function parseBgpDefaultNextHops(text: string): string[] {
  const routes = vtyshJson(text)["0.0.0.0/0"] as
    { protocol?: string; nexthops?: { ip?: string }[] }[] | undefined;
  return (routes ?? [])
    .filter((r) => r.protocol === "bgp")
    .flatMap((r) => (r.nexthops ?? []).map((n) => n.ip).filter((ip): ip is string => !!ip))
    .sort();
}

/**
 * `vtysh -c 'show version'` → the FRR version ("8.4.4", "10.3.1"); undefined when vtysh printed no version
 * line (lib/command.c show_version: "FRRouting <version> (<host>) on ..."; vtysh exits without it when no FRR
 * daemon runs, and then zebra has no routes whose router MAC could be lost either).
 */
export function parseFrrVersion(text: string): string | undefined {
  return /^FRRouting (\d+\.\d+(?:\.\d+)?\S*)/m.exec(text)?.[1];
}

/** What a ping printed: whether it got replies, the loss it reports, and the error that explains a failure. */
export interface PingReply {
  replied: boolean;
  loss?: string;
  error?: string;
}

/** ping's summary and exit code (the exit code is the verdict: 0 = replies came back). */
export function parsePing(out: string, rc: number): PingReply {
  const loss = /(\d+)% packet loss/.exec(out)?.[1];
  const error =
    /(message too long|mtu=\d+|Network is unreachable|Destination \S+ Unreachable|Frag needed[^\n]*)/i.exec(
      out,
    )?.[1];
  return { replied: rc === 0, ...(loss ? { loss: `${loss}%` } : {}), ...(error ? { error } : {}) };
}
