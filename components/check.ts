// The seed's checklist as code (DESIGN §1 [proof]), pure: what to probe, how to read the answers, which layer
// is broken and why. The FabricCheck resource (check-ops.ts) only runs the probe scripts and calls these;
// tests/unit/components-check.test.ts feeds them recorded answers.
//
// Layers, bottom up, and what each result means:
//   underlay       WireGuard handshake per peer, and its age
//   host           the sysctls that make the node a router (forwarding, rp_filter off, bridge netfilter)
//   firewall       read from PVE: with the cluster firewall on, every node on the nftables backend and an
//                  enabled FORWARD ACCEPT between the local vnet and each remote subnet, both ways (a missing
//                  inbound rule breaks only the OTHER site's pings, so this site must read it from PVE)
//   control-plane  a BGP EVPN session Established with every other node's tunnel address
//   vxlan          every remote VTEP present in the FDB of the vnet's VXLAN devices, and every router MAC
//                  that zebra routes through present in its router-MAC table and the zone VXLAN's FDB
//   overlay        sdntest → every remote sdntest (ICMP)
//   snat           sdntest → an outside address through the exit node's SNAT; and on every non-exit node, the
//                  zone's default route leads only to this site's exit nodes (not another site's SNAT)
//   mtu            a don't-fragment probe of exactly the overlay MTU passes, one byte more does not
// A layer that fails makes every layer above it report "blocked by <layer>", so the diagnosis names the
// lowest broken layer, not its symptoms.

export type Layer = "underlay" | "host" | "firewall" | "control-plane" | "vxlan" | "overlay" | "snat" | "mtu";
export type Status = "pass" | "fail" | "pending" | "skipped";

export interface CheckResult {
  /** Stable id, e.g. "underlay roz1->wro/wro1". */
  id: string;
  layer: Layer;
  status: Status;
  /** What was measured, e.g. "handshake 12 s ago". */
  detail: string;
  /** For a failure: the broken layer and its likely cause, with what to do. */
  diagnosis?: string;
}

export interface CheckPeer {
  site: string;
  node: string;
  tunnelAddress: string;
  /** Known public key of the peer; undefined while its site has not published it. */
  publicKey?: string;
  /** Why checks against this peer cannot pass yet (bootstrap, ADR 003); undefined when ready. */
  pending?: string;
}

export interface CheckHost {
  node: string;
  wgInterface: string;
  /** This node's tunnel address: every VXLAN's local address must be it. */
  tunnelAddress: string;
  /** Why its VXLANs cannot have the tunnel address yet (bootstrap: plan.ts vtepReady); undefined when ready. */
  vtepPending?: string;
  /** A non-exit node sends its VMs' outside traffic along the zone's EVPN default route: checked. */
  exitNode?: boolean;
}

export interface CheckTarget {
  site: string;
  /** Address without prefix; undefined while that site has not published one. */
  address?: string;
  pending?: string;
}

export interface CheckSpec {
  site: string;
  zone: string;
  vnets: string[];
  hosts: CheckHost[];
  /** Every other node of the fabric (same site included), as this site expects it. */
  peers: CheckPeer[];
  sysctls: Record<string, string>;
  handshakeMaxAgeSeconds: number;
  overlayMtu: number;
  /** Group name and rule keys left out of the config on purpose (named by the firewall diagnosis). */
  firewall: { group: string; omitted: string[]; nftables: boolean };
  sdntest?: { targets: CheckTarget[]; outside?: string };
  /** Other sites' subnets per local vnet: the FORWARD rules the firewall must hold. */
  remoteSubnets: Record<string, string[]>;
}

/** The PVE firewall as read through the API (cluster rules, groups, options). */
export interface FirewallView {
  clusterEnabled: boolean;
  /** node → nftables backend on. */
  nftables: Record<string, boolean>;
  clusterRules: { type: string; action: string; source?: string; dest?: string; enable: boolean }[];
  groups: Record<string, { type: string; action: string; source?: string; dest?: string; enable: boolean }[]>;
}

/** Firewall findings; [] when the view could not be read (the error is reported by the caller). */
export function firewallResults(spec: CheckSpec, fw: FirewallView): CheckResult[] {
  if (!fw.clusterEnabled)
    return [
      {
        id: "firewall cluster",
        layer: "firewall",
        status: "pass",
        detail: "cluster firewall off: nothing filtered",
      },
    ];
  const out: CheckResult[] = [];
  for (const [node, on] of Object.entries(fw.nftables)) {
    out.push({
      id: `firewall ${node} backend`,
      layer: "firewall",
      status: on ? "pass" : "fail",
      detail: on ? "nftables" : "iptables backend: forward and vnet rules are ignored",
    });
  }
  // Effective forward rules: the cluster's own, plus those of every enabled group reference, in order.
  const rules = fw.clusterRules.flatMap((r) =>
    r.type === "group" ? (r.enable ? (fw.groups[r.action] ?? []) : []) : [r],
  );
  const has = (list: string | undefined, x: string) =>
    !list ||
    list
      .split(",")
      .map((v) => v.trim())
      .includes(x);
  const accepts = (from: string, to: string) =>
    rules.some(
      (r) =>
        r.enable && r.type === "forward" && r.action === "ACCEPT" && has(r.source, from) && has(r.dest, to),
    );
  for (const [vnet, remotes] of Object.entries(spec.remoteSubnets)) {
    const local = `+sdn/${vnet}-all`;
    for (const cidr of remotes) {
      for (const [from, to] of [
        [cidr, local],
        [local, cidr],
      ]) {
        const ok = accepts(from, to);
        out.push({
          id: `firewall forward ${from}->${to}`,
          layer: "firewall",
          status: ok ? "pass" : "fail",
          detail: ok
            ? "an enabled FORWARD ACCEPT rule"
            : "no enabled FORWARD ACCEPT rule in the cluster rules or their groups",
        });
      }
    }
  }
  return out;
}

// --- probes ------------------------------------------------------------------------------------------

/** The read-only commands run on one host, in one SSH exec (providers/host/ssh.ts probeScript). */
export function hostProbe(spec: CheckSpec, host: CheckHost): Record<string, string> {
  const vrfNetns = `vrf_${spec.zone}`;
  return {
    now: "date +%s",
    handshakes: `wg show ${host.wgInterface} latest-handshakes`,
    sysctl: `sysctl ${Object.keys(spec.sysctls).join(" ")}`,
    bgp: "vtysh -c 'show bgp l2vpn evpn summary json'",
    // PVE keeps the VXLAN devices in the node (VRF device); a netns-VRF realisation moves them into
    // vrf_<zone>: read both, the device names say which VXLAN an entry belongs to.
    fdb: `bridge fdb show; ip netns exec ${vrfNetns} bridge fdb show 2>/dev/null; true`,
    vteps: `ip -d -o link show type vxlan; ip netns exec ${vrfNetns} ip -d -o link show type vxlan 2>/dev/null; true`,
    // zebra's view of routed EVPN traffic: next hops (VTEP + router MAC) and the router MACs it installed.
    nexthops: "vtysh -c 'show evpn next-hops vni all json'",
    rmacs: "vtysh -c 'show evpn rmac vni all json'",
    ...(host.exitNode === false ? { egress: `vtysh -c 'show ip route vrf ${vrfNetns} 0.0.0.0/0 json'` } : {}),
  };
}

/** The commands run inside the sdntest VM; ping's exit code is the verdict. */
export function vmProbe(spec: CheckSpec): Record<string, string> {
  const out: Record<string, string> = {};
  const t = spec.sdntest;
  if (!t) return out;
  const ready = t.targets.filter((x) => x.address && !x.pending);
  for (const x of ready) out[`ping-${x.site}`] = `ping -n -c 2 -i 0.3 -W 2 ${x.address}`;
  if (t.outside) out.outside = `ping -n -c 2 -i 0.3 -W 2 ${t.outside}`;
  const m = ready[0];
  if (m) {
    // ICMP payload + 8 (ICMP) + 20 (IPv4) = the packet size on the vnet.
    out["mtu-fit"] = `ping -n -M do -c 1 -W 2 -s ${spec.overlayMtu - 28} ${m.address}`;
    out["mtu-over"] = `ping -n -M do -c 1 -W 2 -s ${spec.overlayMtu - 27} ${m.address}`;
  }
  return out;
}

// --- parsers -----------------------------------------------------------------------------------------

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

// --- evaluation --------------------------------------------------------------------------------------

export interface HostAnswers {
  node: string;
  /** Undefined when the host could not be reached (the message says why). */
  sections?: Record<string, { out: string; rc: number }>;
  error?: string;
}

export interface VmAnswers {
  sections?: Record<string, { out: string; rc: number }>;
  error?: string;
  /** No probe configured: the VM checks are skipped. */
  none?: boolean;
}

const LAYERS: Layer[] = ["underlay", "host", "firewall", "control-plane", "vxlan", "overlay", "snat", "mtu"];
/** Layers that do not depend on the ones below them in LAYERS. */
const INDEPENDENT: Layer[] = ["underlay", "host", "firewall"];

export function evaluate(
  spec: CheckSpec,
  hosts: HostAnswers[],
  vm: VmAnswers,
  fw?: FirewallView | { error: string },
): CheckResult[] {
  const results: CheckResult[] = [];
  if (fw && "error" in fw)
    results.push({
      id: "firewall api",
      layer: "firewall",
      status: "fail",
      detail: `cannot read the PVE firewall: ${fw.error}`,
    });
  else if (fw) results.push(...firewallResults(spec, fw));
  const host = (node: string) => spec.hosts.find((x) => x.node === node);
  const add = (r: CheckResult) => results.push(r);

  for (const h of hosts) {
    const s = h.sections;
    if (!s) {
      add({
        id: `underlay ${h.node}`,
        layer: "underlay",
        status: "fail",
        detail: `host unreachable: ${h.error ?? "no answer"}`,
      });
      continue;
    }
    const now = Number(s.now?.out.trim() ?? 0);
    const hs = parseHandshakes(s.handshakes?.out ?? "");
    const bgp = parseBgpPeers(s.bgp?.out ?? "");
    const fdb = parseFdb(s.fdb?.out ?? "");
    const vteps = new Set(
      Object.entries(fdb)
        .filter(([dev]) => dev.startsWith("vxlan_") || dev.startsWith("vrfvx_"))
        .flatMap(([, v]) => v),
    );
    const locals = parseVxlanLocal(s.vteps?.out ?? "");
    const tunnel = host(h.node)?.tunnelAddress;
    const wrongLocal = Object.entries(locals).filter(([, local]) => local !== tunnel);
    const devices = Object.keys(locals).sort();
    const routedVia = parseEvpnRouterMacs(s.nexthops?.out ?? "");
    const installed = parseEvpnRouterMacs(s.rmacs?.out ?? "");
    const zoneVxlan = new Set(fdb[`vrfvx_${spec.zone}`] ?? []);
    const live = parseSysctls(s.sysctl?.out ?? "");
    for (const [k, want] of Object.entries(spec.sysctls)) {
      const got = live[k];
      add({
        id: `host ${h.node} ${k}`,
        layer: "host",
        status: got === want ? "pass" : "fail",
        detail: got === undefined ? `missing, want ${want}` : `${got}${got === want ? "" : `, want ${want}`}`,
      });
    }
    const vtepOk = devices.length > 0 && !wrongLocal.length;
    const vtepPending = host(h.node)?.vtepPending;
    add({
      id: `vtep ${h.node}`,
      layer: "vxlan",
      status: vtepOk ? "pass" : vtepPending ? "pending" : "fail",
      detail:
        !vtepOk && vtepPending
          ? vtepPending
          : !devices.length
            ? "no VXLAN devices on the node"
            : wrongLocal.length
              ? `${wrongLocal.map(([d, l]) => `${d}=${l}`).join(", ")}: not the tunnel address ${tunnel}`
              : `${tunnel} on ${devices.join(", ")}`,
    });
    if (host(h.node)?.exitNode === false) {
      const via = parseBgpDefaultNextHops(s.egress?.out ?? "").map((ip) => {
        const p = spec.peers.find((x) => x.tunnelAddress === ip);
        return { ip, site: p?.site, name: p ? `${p.site}/${p.node} (${ip})` : ip };
      });
      const foreign = via.filter((v) => v.site !== spec.site);
      add({
        id: `egress ${h.node}`,
        layer: "snat",
        status: via.length && !foreign.length ? "pass" : "fail",
        detail: !via.length
          ? "no EVPN default route in the zone: no exit node of this site announces one"
          : foreign.length
            ? `default route via ${via.map((v) => v.name).join(", ")}: ${foreign.map((v) => v.name).join(", ")} is another site's exit`
            : `default route via ${via.map((v) => v.name).join(", ")}`,
      });
    }
    for (const p of spec.peers) {
      if (p.site === spec.site && p.node === h.node) continue;
      const who = `${h.node}->${p.site}/${p.node}`;
      const pend = (layer: Layer, id: string) =>
        add({ id, layer, status: "pending", detail: p.pending ?? "peer key not published yet" });
      if (p.pending || !p.publicKey) {
        pend("underlay", `underlay ${who}`);
        pend("control-plane", `control-plane ${who}`);
        pend("vxlan", `vxlan ${who}`);
        pend("vxlan", `router-mac ${who}`);
        continue;
      }
      const t = hs[p.publicKey];
      const age = t && now ? now - t : undefined;
      add({
        id: `underlay ${who}`,
        layer: "underlay",
        status: age !== undefined && age <= spec.handshakeMaxAgeSeconds ? "pass" : "fail",
        detail:
          t === undefined
            ? "peer not configured on the interface"
            : t === 0
              ? "no handshake yet"
              : `handshake ${age} s ago (max ${spec.handshakeMaxAgeSeconds} s)`,
      });
      const st = bgp[p.tunnelAddress];
      add({
        id: `control-plane ${who}`,
        layer: "control-plane",
        status: st === "Established" ? "pass" : "fail",
        detail: st ? `BGP ${p.tunnelAddress} ${st}` : `no BGP EVPN neighbour ${p.tunnelAddress}`,
      });
      add({
        id: `vxlan ${who}`,
        layer: "vxlan",
        status: vteps.has(p.tunnelAddress) ? "pass" : "fail",
        detail: vteps.has(p.tunnelAddress)
          ? `VTEP ${p.tunnelAddress} in the FDB`
          : `VTEP ${p.tunnelAddress} not in the FDB (${[...vteps].join(", ") || "no remote VTEPs"})` +
            (wrongLocal.length
              ? `; local VTEP ${wrongLocal.map(([d, l]) => `${d}=${l}`).join(", ")} is not the tunnel address`
              : ""),
      });
      add(routerMacResult(`router-mac ${who}`, p.tunnelAddress, routedVia, installed, zoneVxlan, spec.zone));
    }
  }

  if (spec.sdntest) {
    const t = spec.sdntest;
    const sec = vm.sections;
    const vmResult = (id: string, layer: Layer, key: string, what: string, invert = false) => {
      if (vm.none) {
        add({ id, layer, status: "skipped", detail: "no sdntest probe configured" });
        return;
      }
      if (!sec) {
        add({ id, layer, status: "fail", detail: `sdntest unreachable: ${vm.error ?? "?"}` });
        return;
      }
      const r = sec[key];
      const ok = r !== undefined && (invert ? r.rc !== 0 : r.rc === 0);
      add({
        id,
        layer,
        status: ok ? "pass" : "fail",
        detail: `${what}: ${r ? summarisePing(r.out, r.rc) : "not run"}`,
      });
    };
    for (const x of t.targets) {
      if (!x.address || x.pending) {
        add({
          id: `overlay sdntest->${x.site}`,
          layer: "overlay",
          status: "pending",
          detail: x.pending ?? `${x.site} has not published its sdntest address`,
        });
        continue;
      }
      vmResult(`overlay sdntest->${x.site}`, "overlay", `ping-${x.site}`, `ping ${x.address}`);
    }
    if (t.outside) vmResult("snat sdntest->outside", "snat", "outside", `ping ${t.outside}`);
    const m = t.targets.find((x) => x.address && !x.pending);
    if (m) {
      vmResult("mtu fits", "mtu", "mtu-fit", `DF ${spec.overlayMtu} bytes to ${m.address}`);
      vmResult("mtu +1 refused", "mtu", "mtu-over", `DF ${spec.overlayMtu + 1} bytes to ${m.address}`, true);
    }
  }
  return diagnose(spec, results);
}

/**
 * Routed (L3 VNI) traffic to a VTEP needs zebra's router MAC for it, in zebra and in the zone VXLAN's FDB.
 * zebra can drop it while routes still use it (FRRouting/frr#16340): a black hole no other check sees.
 */
function routerMacResult(
  id: string,
  vtep: string,
  routedVia: Record<string, string[]>,
  installed: Record<string, string[]>,
  zoneVxlan: Set<string>,
  zone: string,
): CheckResult {
  const want = routedVia[vtep] ?? [];
  if (want.length === 0) return { id, layer: "vxlan", status: "pass", detail: `no routes via VTEP ${vtep}` };
  const missing = want.filter((m) => !(installed[vtep] ?? []).includes(m));
  if (missing.length)
    return {
      id,
      layer: "vxlan",
      status: "fail",
      detail: `zebra routes via VTEP ${vtep} with router MAC ${missing.join(", ")} but has no router-MAC entry for it`,
    };
  if (!zoneVxlan.has(vtep))
    return {
      id,
      layer: "vxlan",
      status: "fail",
      detail: `router MAC ${want.join(", ")} of VTEP ${vtep} is not in the FDB of vrfvx_${zone}`,
    };
  return { id, layer: "vxlan", status: "pass", detail: `router MAC ${want.join(", ")} via VTEP ${vtep}` };
}

function summarisePing(out: string, rc: number): string {
  const loss = /(\d+)% packet loss/.exec(out)?.[1];
  const err =
    /(message too long|mtu=\d+|Network is unreachable|Destination \S+ Unreachable|Frag needed[^\n]*)/i.exec(
      out,
    )?.[1];
  return [rc === 0 ? "replied" : "no reply", loss ? `${loss}% loss` : "", err ?? ""]
    .filter(Boolean)
    .join(", ");
}

/** Attaches to every failure the broken layer and its likely cause (lowest failing layer first). */
export function diagnose(spec: CheckSpec, results: CheckResult[]): CheckResult[] {
  const failing = new Set(results.filter((r) => r.status === "fail").map((r) => r.layer));
  const lowest = (below: Layer) => LAYERS.slice(0, LAYERS.indexOf(below)).find((l) => failing.has(l));
  const fw = spec.firewall;
  // The FORWARD rules read from PVE hold on this site: a dead overlay points at the other site.
  const localRulesOk = results.some((r) => r.id.startsWith("firewall forward")) && !failing.has("firewall");
  return results.map((r) => {
    if (r.status !== "fail") return r;
    const under = lowest(r.layer);
    // Only the host layer is independent of the ones below it in the order above.
    if (under && !INDEPENDENT.includes(r.layer)) {
      return { ...r, diagnosis: `blocked by the ${under} layer (fix that first)` };
    }
    return { ...r, diagnosis: causeOf(r, spec, fw, localRulesOk) };
  });
}

/** One cause for a wrong local VTEP, whether the vtep row or a remote VXLAN row found it. */
const WRONG_VTEP =
  "vxlan: this node's VXLAN devices use the uplink address, not the tunnel address, as their VTEP, so the other " +
  "nodes send to an address they cannot reach. PVE picks it on apply with `ip route get <first controller peer>`, " +
  "and the apply ran before the tunnel routed there (a first bootstrap run, that peer's key not known yet). " +
  "`pulumi up` re-applies once the tunnel routes to it; by hand: Datacenter > SDN > Apply";

function causeOf(r: CheckResult, spec: CheckSpec, fw: CheckSpec["firewall"], localRulesOk: boolean): string {
  switch (r.layer) {
    case "underlay":
      return r.detail.startsWith("host unreachable")
        ? "underlay: the node does not answer SSH; check its address, host key and credentials"
        : r.detail.includes("not configured")
          ? "underlay: the peer is missing from the WireGuard interface; run `pulumi up` for this site"
          : "underlay: WireGuard has no recent handshake; UDP to the peer's endpoint is blocked (firewall group " +
            `rule wg-in, NAT, the endpoint's DNS name) or the peer has a different key for this node; compare \`wg show\` on both`;
    case "host":
      return (
        `host: ${r.id.split(" ").at(-1)} is ${r.detail}; something reset it (the iptables firewall backend sets ` +
        "rp_filter=2); `pulumi up` restores it, `firewall.nftables: true` stops the reset"
      );
    case "firewall": {
      if (r.id === "firewall api")
        return "firewall: the API did not answer; check api.endpoint, the token and its Sys.Audit privilege";
      if (r.id.endsWith("backend"))
        return "firewall: the node runs the iptables backend, which ignores FORWARD and vnet rules; set firewall.nftables: true (node option nftables=1) and `pulumi up`";
      const missing = fw.omitted.filter((k) => /^(fwd|vnet)-/.test(k));
      return (
        `firewall: ${r.id.replace("firewall forward ", "")} is not accepted in FORWARD, so cross-site traffic dies on ` +
        `this site's nodes` +
        (missing.length
          ? `: the rule(s) ${missing.join(", ")} of security group ${fw.group} are left out of the config (pve-fabric-site:firewall.omitRules); put them back`
          : `: the fabric's rules fwd-in/fwd-out of security group ${fw.group} were deleted or disabled in PVE; \`pulumi up\` restores them`)
      );
    }
    case "control-plane":
      return (
        "control-plane: the BGP EVPN session is not Established; TCP 179 over the tunnel is blocked (cluster rule " +
        "bgp-in on the WireGuard interface), FRR/bgpd is not running, or the other site's controller does not list " +
        "this node in its peers (run `pulumi up` there)"
      );
    case "vxlan":
      if (r.id.startsWith("vtep"))
        return r.detail.startsWith("no VXLAN")
          ? "vxlan: the SDN config is not realised on this node: read its SDN status in PVE (per-node apply status), " +
              "then `pulumi up` (the apply checks every node)"
          : WRONG_VTEP;
      if (r.id.startsWith("router-mac")) {
        const vtep = /VTEP (\S+)/.exec(r.detail)?.[1] ?? "<VTEP>";
        return (
          "vxlan: routed traffic to that site dies on this node's zone VXLAN device because zebra lost the site's " +
          "router MAC while routes still use it: FRR bug FRRouting/frr#16340, hit when a node takes IPv4 and IPv6 " +
          "EVPN routes from a VTEP and the routes of one family change (e.g. default routes from several exit nodes). " +
          `Repair: \`vtysh -c 'clear bgp l2vpn evpn ${vtep}'\` on this node; lasting fix: an FRR release carrying ` +
          "FRRouting/frr#20588, or no default routes reaching non-exit nodes from other sites"
        );
      }
      if (r.detail.includes("is not the tunnel address")) return WRONG_VTEP;
      return (
        "vxlan: the remote VTEP is missing from the FDB although BGP is up; the SDN config was not applied on this " +
        "node (SdnApply, per-node status), or the vnet's VNI differs between the sites"
      );
    case "overlay": {
      if (localRulesOk) {
        const other = r.id.split("->").at(-1);
        return (
          `overlay: the tunnel, BGP, VXLAN and this site's FORWARD rules are in place but sdntest gets no answer ` +
          `from ${other}: read ${other}'s check table (its FORWARD rules for traffic from here, ip_forward/rp_filter ` +
          `on its exit node), then the ${other} sdntest's own firewall`
        );
      }
      const missing = fw.omitted.filter((k) => /^(fwd|vnet)-/.test(k));
      const named = missing.length
        ? `the FORWARD rule(s) ${missing.join(", ")} of security group ${fw.group} are left out of the config ` +
          "(pve-fabric-site:firewall.omitRules); put them back"
        : `the FORWARD rules of security group ${fw.group} (fwd-in/fwd-out: +sdn/<vnet>-all <-> the remote ` +
          `subnets) are missing or disabled in PVE${fw.nftables ? "" : ", or the nftables backend is off (forward rules need it)"}`;
      return (
        `firewall: the tunnel, BGP and VXLAN are up but sdntest gets no answer across sites, so packets die in ` +
        `forwarding: ${named}; otherwise the remote sdntest's own firewall, or ip_forward/rp_filter on an exit node`
      );
    }
    case "snat":
      if (r.id.startsWith("egress"))
        return r.detail.startsWith("no EVPN default")
          ? "snat: this non-exit node has no way out: mark a node of this site `exitNode: true` and `pulumi up`"
          : `snat: ${r.id.split(" ")[1]} is not an exit node, so it takes every site's EVPN default route (ECMP) and ` +
              "sends part of its VMs' outside traffic to another site, whose SNAT covers only that site's subnets: " +
              `those flows are lost. Fix: make it an exit node (\`exitNode: true\` in fabric.yaml) and \`pulumi up\`; ` +
              "PVE then ignores other sites' default routes on it and it SNATs itself";
      return (
        "snat: sdntest reaches the other site but not the outside: the subnet has snat off, the exit node's SNAT " +
        "rule is missing (PVE adds it on apply), the FORWARD rule fwd-snat (vnet -> anywhere) is missing, or " +
        "exitnodes-local-routing is on (conntrack trap)"
      );
    case "mtu":
      return r.id === "mtu fits"
        ? `mtu: a ${spec.overlayMtu}-byte packet does not fit: the underlay MTU is smaller than fabric.yaml says ` +
            "(mtu.underlay), or something on the path adds overhead; lower mtu.underlay"
        : `mtu: a ${spec.overlayMtu + 1}-byte DF packet got through, so the guest MTU exceeds the zone MTU ` +
            "and large packets will be fragmented or dropped elsewhere; set the zone/vnet MTU (mtu.overlay)";
  }
  return r.detail;
}

export interface CheckSummary {
  ok: boolean;
  pass: number;
  fail: number;
  pending: number;
  skipped: number;
}

export function summarise(results: CheckResult[]): CheckSummary {
  const n = (s: Status) => results.filter((r) => r.status === s).length;
  return {
    ok: n("fail") === 0,
    pass: n("pass"),
    fail: n("fail"),
    pending: n("pending"),
    skipped: n("skipped"),
  };
}

/** The readable table printed after `up` and in a failure's message. */
export function formatTable(site: string, results: CheckResult[]): string {
  const w = Math.max(8, ...results.map((r) => r.id.length));
  const lines = [`fabric check: ${site}`, `${"check".padEnd(w)}  status   detail`];
  for (const r of results) {
    lines.push(`${r.id.padEnd(w)}  ${r.status.toUpperCase().padEnd(7)}  ${r.detail}`);
    if (r.diagnosis) lines.push(`${"".padEnd(w)}  ${"".padEnd(7)}  -> ${r.diagnosis}`);
  }
  const s = summarise(results);
  lines.push(`${s.pass} pass, ${s.fail} fail, ${s.pending} pending, ${s.skipped} skipped`);
  return lines.join("\n");
}
