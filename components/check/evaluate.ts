// The seed's checklist as code (DESIGN §1 [proof]), pure: from what the probes read (spec.ts Answers) to one
// finding per check, each with its status and typed cause (causes.ts). The text people read is rendered from
// the cause at the edge (report.ts); nothing here builds or reads message text.
//
// Layers, bottom up, and what each finding means:
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
// A layer that fails makes every layer above it "blocked by <layer>", so the diagnosis names the lowest
// broken layer, not its symptoms.
import type { Cause, Forwarding, Hop, Reply, VxlanLocal } from "./causes";
import {
  parseBgpDefaultNextHops,
  parseBgpPeers,
  parseEvpnRouterMacs,
  parseFdb,
  parseFrrVersion,
  parseHandshakes,
  parsePing,
  parseSysctls,
  parseVxlanLocal,
} from "./parsers";
import { readyTargets } from "./probes";
import {
  INDEPENDENT,
  LAYERS,
  type Answers,
  type CheckHost,
  type CheckPeer,
  type CheckSpec,
  type FirewallView,
  type Layer,
  type Sections,
  type Status,
  type VmAnswers,
} from "./spec";

/** One check's verdict: its id, layer and status, and the cause it found (flattened in). */
export type Finding = { id: string; layer: Layer; status: Status; blockedBy?: Layer } & Cause;

const finding = (id: string, layer: Layer, status: Status, cause: Cause): Finding => ({
  id,
  layer,
  status,
  ...cause,
});
const passIf = (ok: boolean): Status => (ok ? "pass" : "fail");

export function evaluate(spec: CheckSpec, answers: Answers): Finding[] {
  const fw = answers.firewall;
  const firewall = !fw
    ? []
    : "error" in fw
      ? [finding("firewall api", "firewall", "fail", { cause: "firewall-unread", error: fw.error })]
      : firewallFindings(spec, fw);
  // The FORWARD rules read from PVE hold on this site: a dead overlay then points at the other site.
  const forwarding: Forwarding =
    firewall.some((f) => f.cause === "forward-accepted" || f.cause === "forward-missing") &&
    !firewall.some((f) => f.status === "fail")
      ? { rules: "in-place" }
      : { rules: "unproven", ...spec.firewall };
  const findings = [
    ...firewall,
    ...answers.hosts.flatMap((h) =>
      h.sections
        ? hostFindings(
            spec,
            spec.hosts.find((x) => x.node === h.node),
            h.node,
            h.sections,
          )
        : [
            finding(`underlay ${h.node}`, "underlay", "fail", {
              cause: "host-unreachable",
              error: h.error ?? "no answer",
            }),
          ],
    ),
    ...vmFindings(spec, answers.vm, forwarding),
  ];
  return blockedBy(findings);
}

/** Firewall findings from the PVE view. */
export function firewallFindings(spec: CheckSpec, fw: FirewallView): Finding[] {
  if (!fw.clusterEnabled) return [finding("firewall cluster", "firewall", "pass", { cause: "firewall-off" })];
  const out: Finding[] = Object.entries(fw.nftables).map(([node, on]) =>
    finding(`firewall ${node} backend`, "firewall", passIf(on), {
      cause: on ? "nftables-backend" : "iptables-backend",
    }),
  );
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
        out.push(
          finding(
            `firewall forward ${from}->${to}`,
            "firewall",
            passIf(ok),
            ok
              ? { cause: "forward-accepted", from, to }
              : {
                  cause: "forward-missing",
                  from,
                  to,
                  group: spec.firewall.group,
                  omitted: spec.firewall.omitted,
                },
          ),
        );
      }
    }
  }
  return out;
}

/** What one host's probe round says, read once. */
function readHost(spec: CheckSpec, s: Sections) {
  const fdb = parseFdb(s.fdb?.out ?? "");
  return {
    now: Number(s.now?.out.trim() ?? 0),
    handshakes: parseHandshakes(s.handshakes?.out ?? ""),
    bgp: parseBgpPeers(s.bgp?.out ?? ""),
    /** Remote VTEPs of the vnets' and the zone's VXLAN devices. */
    vteps: new Set(
      Object.entries(fdb)
        .filter(([dev]) => dev.startsWith("vxlan_") || dev.startsWith("vrfvx_"))
        .flatMap(([, v]) => v),
    ),
    zoneVxlan: new Set(fdb[`vrfvx_${spec.zone}`] ?? []),
    locals: parseVxlanLocal(s.vteps?.out ?? ""),
    routedVia: parseEvpnRouterMacs(s.nexthops?.out ?? ""),
    installed: parseEvpnRouterMacs(s.rmacs?.out ?? ""),
    sysctls: parseSysctls(s.sysctl?.out ?? ""),
    egress: parseBgpDefaultNextHops(s.egress?.out ?? ""),
    frr: parseFrrVersion(s.frr?.out ?? ""),
  };
}
type HostRead = ReturnType<typeof readHost>;

function hostFindings(spec: CheckSpec, host: CheckHost | undefined, node: string, s: Sections): Finding[] {
  const r = readHost(spec, s);
  const out: Finding[] = [];
  for (const [key, want] of Object.entries(spec.sysctls)) {
    const got = r.sysctls[key];
    out.push(
      finding(`host ${node} ${key}`, "host", passIf(got === want), {
        cause: "sysctl",
        key,
        want,
        ...(got === undefined ? {} : { got }),
      }),
    );
  }
  const tunnel = host?.tunnelAddress ?? "";
  const devices = Object.keys(r.locals).sort();
  const wrong: VxlanLocal[] = Object.entries(r.locals)
    .filter(([, local]) => local !== tunnel)
    .map(([device, local]) => ({ device, local }));
  const vtepOk = devices.length > 0 && !wrong.length;
  out.push(
    finding(
      `vtep ${node}`,
      "vxlan",
      vtepOk ? "pass" : host?.vtepPending ? "pending" : "fail",
      vtepOk
        ? { cause: "vtep-ok", tunnel, devices }
        : host?.vtepPending
          ? { cause: "vtep-pending", reason: host.vtepPending }
          : !devices.length
            ? { cause: "no-vxlan" }
            : { cause: "wrong-vtep", tunnel, locals: wrong },
    ),
  );
  if (host?.exitNode === false) out.push(egressFinding(spec, node, r.egress));
  for (const p of spec.peers) {
    if (p.site === spec.site && p.node === node) continue;
    out.push(...peerFindings(spec, r, `${node}->${p.site}/${p.node}`, p, wrong, tunnel));
  }
  return out;
}

function egressFinding(spec: CheckSpec, node: string, nextHops: string[]): Finding {
  const via: Hop[] = nextHops.map((ip) => {
    const p = spec.peers.find((x) => x.tunnelAddress === ip);
    return p ? { ip, site: p.site, node: p.node } : { ip };
  });
  const foreign = via.filter((v) => v.site !== spec.site);
  const id = `egress ${node}`;
  if (!via.length) return finding(id, "snat", "fail", { cause: "no-default-route" });
  if (foreign.length) return finding(id, "snat", "fail", { cause: "foreign-exit", node, via, foreign });
  return finding(id, "snat", "pass", { cause: "egress-own", via });
}

function peerFindings(
  spec: CheckSpec,
  r: HostRead,
  who: string,
  p: CheckPeer,
  wrong: VxlanLocal[],
  tunnel: string,
): Finding[] {
  const ids = {
    underlay: `underlay ${who}`,
    control: `control-plane ${who}`,
    vxlan: `vxlan ${who}`,
    rmac: `router-mac ${who}`,
  };
  if (p.pending || !p.publicKey) {
    const pending: Cause = { cause: "peer-pending", reason: p.pending ?? "peer key not published yet" };
    return [
      finding(ids.underlay, "underlay", "pending", pending),
      finding(ids.control, "control-plane", "pending", pending),
      finding(ids.vxlan, "vxlan", "pending", pending),
      finding(ids.rmac, "vxlan", "pending", pending),
    ];
  }
  const t = r.handshakes[p.publicKey];
  const age = t && r.now ? r.now - t : undefined;
  const maxAgeSeconds = spec.handshakeMaxAgeSeconds;
  const state = r.bgp[p.tunnelAddress];
  const vtep = p.tunnelAddress;
  const inFdb = r.vteps.has(vtep);
  const known = [...r.vteps];
  return [
    finding(
      ids.underlay,
      "underlay",
      passIf(age !== undefined && age <= maxAgeSeconds),
      t === undefined
        ? { cause: "peer-not-configured" }
        : t === 0
          ? { cause: "no-handshake" }
          : { cause: "handshake", maxAgeSeconds, ...(age === undefined ? {} : { ageSeconds: age }) },
    ),
    finding(ids.control, "control-plane", passIf(state === "Established"), {
      cause: "bgp",
      neighbour: vtep,
      ...(state ? { state } : {}),
    }),
    finding(
      ids.vxlan,
      "vxlan",
      passIf(inFdb),
      inFdb
        ? { cause: "vtep-in-fdb", vtep }
        : wrong.length
          ? { cause: "wrong-vtep", tunnel, locals: wrong, missing: { vtep, known } }
          : { cause: "vtep-not-in-fdb", vtep, known },
    ),
    routerMacFinding(spec, r, ids.rmac, vtep),
  ];
}

/**
 * Routed (L3 VNI) traffic to a VTEP needs zebra's router MAC for it, in zebra and in the zone VXLAN's FDB.
 * zebra can drop it while routes still use it (FRR bugs, causes.ts frrRouterMacBug): a black hole no other
 * check sees.
 */
function routerMacFinding(spec: CheckSpec, r: HostRead, id: string, vtep: string): Finding {
  const macs = r.routedVia[vtep] ?? [];
  if (macs.length === 0) return finding(id, "vxlan", "pass", { cause: "rmac-unused", vtep });
  const frr = r.frr ? { frr: r.frr } : {};
  const missing = macs.filter((m) => !(r.installed[vtep] ?? []).includes(m));
  if (missing.length)
    return finding(id, "vxlan", "fail", { cause: "rmac-missing", vtep, macs: missing, ...frr });
  if (!r.zoneVxlan.has(vtep))
    return finding(id, "vxlan", "fail", { cause: "rmac-not-in-fdb", vtep, macs, zone: spec.zone, ...frr });
  return finding(id, "vxlan", "pass", { cause: "rmac-installed", vtep, macs });
}

function vmFindings(spec: CheckSpec, vm: VmAnswers, forwarding: Forwarding): Finding[] {
  const t = spec.sdntest;
  if (!t) return [];
  const sec = vm.sections;
  /** A VM check: skipped without a probe, failed when the VM did not answer, else the ping's exit code. */
  const ping = (
    id: string,
    layer: Layer,
    key: string,
    cause: (reply?: Reply) => Cause,
    expectReply = true,
  ): Finding => {
    if (vm.none) return finding(id, layer, "skipped", { cause: "vm-skipped" });
    if (!sec) return finding(id, layer, "fail", { cause: "vm-unreachable", error: vm.error ?? "?" });
    const r = sec[key];
    const reply = r ? parsePing(r.out, r.rc) : undefined;
    return finding(id, layer, passIf(reply !== undefined && reply.replied === expectReply), cause(reply));
  };
  const withReply = (reply?: Reply) => (reply ? { reply } : {});
  const out: Finding[] = t.targets.map((x) => {
    const id = `overlay sdntest->${x.site}`;
    if (!x.address || x.pending)
      return finding(id, "overlay", "pending", {
        cause: "target-pending",
        reason: x.pending ?? `${x.site} has not published its sdntest address`,
      });
    const address = x.address;
    return ping(id, "overlay", `ping-${x.site}`, (reply) => ({
      cause: "overlay-ping",
      site: x.site,
      address,
      forwarding,
      ...withReply(reply),
    }));
  });
  const outside = t.outside;
  if (outside)
    out.push(
      ping("snat sdntest->outside", "snat", "outside", (reply) => ({
        cause: "outside-ping",
        address: outside,
        ...withReply(reply),
      })),
    );
  const m = readyTargets(spec)[0];
  if (m) {
    const mtu = spec.overlayMtu;
    out.push(
      ping("mtu fits", "mtu", "mtu-fit", (reply) => ({
        cause: "mtu-fit",
        mtu,
        address: m.address,
        ...withReply(reply),
      })),
      ping(
        "mtu +1 refused",
        "mtu",
        "mtu-over",
        (reply) => ({ cause: "mtu-over", mtu, address: m.address, ...withReply(reply) }),
        false,
      ),
    );
  }
  return out;
}

/** Marks every failure above a failing lower layer as blocked by the lowest one (independent layers aside). */
function blockedBy(findings: Finding[]): Finding[] {
  const failing = new Set(findings.filter((f) => f.status === "fail").map((f) => f.layer));
  const lowest = (above: Layer) => LAYERS.slice(0, LAYERS.indexOf(above)).find((l) => failing.has(l));
  return findings.map((f) => {
    const under = f.status === "fail" && !INDEPENDENT.includes(f.layer) ? lowest(f.layer) : undefined;
    return under ? { ...f, blockedBy: under } : f;
  });
}
