// The separate, documented step after generation: what PVE's files mean on a real node (VRF devices,
// ifupdown2, iptables, FRR 10 with kernel VRFs), turned into what this kernel and FRR 8.4 can do. Pure:
// (generated files, previous sdn file) → one idempotent shell script for the node + the frr.conf FRR runs.
// Every deviation it makes is listed in lab/README.md ("Realisation deviations"); the model is the
// netns-VRF design measured in shared/reference/lab-experiment.md §8 (b) plus the pieces that make the
// seed's traps reproduce (reference/pve-sdn-realization.md §2.7, §3.3).
import { q } from "../host";
import { iptablesToNft } from "./iptables";

export interface Stanza {
  name: string;
  attrs: [string, string][];
}

/** `auto`/`iface` stanzas as ifupdown2 reads PVE's sdn file (attribute lines are indented `key value`). */
export function parseStanzas(text: string): Stanza[] {
  const out: Stanza[] = [];
  let cur: Stanza | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+$/, "");
    const iface = /^iface\s+(\S+)/.exec(line);
    if (iface) {
      cur = { name: iface[1], attrs: [] };
      out.push(cur);
    } else if (/^\s+\S/.test(line) && cur) {
      const m = /^\s+(\S+)\s*(.*)$/.exec(line)!;
      cur.attrs.push([m[1], m[2]]);
    } else if (!/^\s*(#|auto\s|$)/.test(line)) cur = undefined;
  }
  return out;
}

const get = (s: Stanza, k: string) => s.attrs.find(([a]) => a === k)?.[1];
const all = (s: Stanza, k: string) => s.attrs.filter(([a]) => a === k).map(([, v]) => v);

const KNOWN = new Set([
  "address",
  "hwaddress",
  "bridge_ports",
  "bridge-ports",
  "bridge_stp",
  "bridge_fd",
  "mtu",
  "alias",
  "ip-forward",
  "ip6-forward",
  "arp-accept",
  "vrf",
  "vrf-table",
  "post-up",
  "post-down",
  "vxlan-id",
  "vxlan-local-tunnelip",
  "vxlan-port",
  "bridge-learning",
  "bridge-arp-nd-suppress",
  "link-type",
  "veth-peer-name",
]);

/** The lab's stand-in for "a lookup in vrf_Z found nothing, continue in main" (reference §1.4). */
export const FALLTHROUGH = { hostAddr: "169.254.0.1", metric: 4294967295, proto: 245 };
export const linkHost = (vrf: string) => `l${vrf}`; // lvrf_<zone>: 14 chars at most
export const linkVrf = (vrf: string) => vrf.replace(/^vrf_/, "lvrp_"); // its peer in the zone namespace

export class RealiseError extends Error {}

export interface Translation {
  /** POSIX sh, run as root inside the node (its net and mount namespaces); idempotent. */
  script: string;
  /** What FRR 8.4 runs as /etc/frr/frr.conf (the generated one, translated). */
  frrConf: string;
  /** The generated interface names (PVE's ifreload would own them; the lab's script does instead). */
  sdnIfaces: string[];
}

interface Iface {
  st: Stanza;
  kind: "vrf" | "bridge" | "vxlan" | "veth";
  ns: string | null; // null = the node's own namespace
}

function classify(stanzas: Stanza[]): Map<string, Iface> {
  const m = new Map<string, Iface>();
  for (const st of stanzas) {
    for (const [k] of st.attrs)
      if (!KNOWN.has(k))
        throw new RealiseError(
          `interface ${st.name}: attribute '${k}' has no lab translation. Fix: teach lab/realize/translate.ts ` +
            `what ifupdown2 does with it (and list it in lab/README.md)`,
        );
    const kind = get(st, "vrf-table")
      ? "vrf"
      : get(st, "vxlan-id")
        ? "vxlan"
        : get(st, "link-type") === "veth"
          ? "veth"
          : get(st, "bridge_ports") !== undefined || get(st, "bridge-ports") !== undefined
            ? "bridge"
            : undefined;
    if (!kind)
      throw new RealiseError(
        `interface ${st.name}: cannot tell its kind (no vrf-table/vxlan-id/bridge ports)`,
      );
    // Bridges of a VRF live in the VRF's namespace; veths stay in the node (see the xvrfp note below).
    m.set(st.name, { st, kind, ns: kind === "bridge" ? (get(st, "vrf") ?? null) : null });
  }
  for (const i of m.values()) {
    if (i.kind !== "bridge") continue;
    for (const p of portsOf(i.st)) {
      const port = m.get(p);
      if (port?.kind === "vxlan") port.ns = i.ns;
    }
  }
  return m;
}

const portsOf = (st: Stanza) =>
  (get(st, "bridge_ports") ?? get(st, "bridge-ports") ?? "").split(/\s+/).filter(Boolean);
const onOff = (v: string | undefined) => (v === "on" ? "1" : "0");

/** `post-up`/`post-down` lines: `ip route … vrf X …` into X's namespace, iptables into nft; else refused. */
export function translateHook(cmd: string): string[] {
  const vrfRoute = /^ip\s+(-6\s+)?route\s+(add|del)\s+vrf\s+(\S+)\s+(.*)$/.exec(cmd);
  if (vrfRoute) return [`ip -n ${q(vrfRoute[3])} ${vrfRoute[1] ?? ""}route ${vrfRoute[2]} ${vrfRoute[4]}`];
  if (/^ip6?tables\s/.test(cmd)) return iptablesToNft(cmd);
  throw new RealiseError(`no lab translation for the hook command '${cmd}'`);
}

// Shell helpers the script uses. `I <ns|-> <ip args>` runs ip in a VRF namespace or the node's own.
const PRELUDE = `set -u
I() { n=$1; shift; if [ "$n" = - ]; then ip "$@"; else ip -n "$n" "$@"; fi; }
X() { n=$1; shift; if [ "$n" = - ]; then "$@"; else ip netns exec "$n" "$@"; fi; }
fail=0
must() { "$@" || { echo "lab realise: '$*' failed" >&2; fail=1; }; }
# ifupdown2 reports a failing post-up/post-down command and carries on with the other interfaces.
hook() { sh -c "$1" || echo "warning: $2: hook command failed: $1" >&2; }
vxlan() { # ns name vni local port
  cur=$(I "$1" -d -o link show "$2" 2>/dev/null || true)
  case "$cur" in
    *" vxlan id $3 local $4 "*" dstport $5 "*) ;;
    *) if [ -n "$cur" ]; then I "$1" link del "$2"; fi
       must ip link add "$2" type vxlan id "$3" local "$4" dstport "$5"
       if [ "$1" != - ]; then must ip link set "$2" netns "$1"; fi ;;
  esac
}
bridge_() { I "$1" link show "$2" >/dev/null 2>&1 || must I "$1" link add "$2" type bridge; }
addrs() { # ns dev flags want... : exactly these global addresses
  n=$1 d=$2 f=$3; shift 3
  for a in $(I "$n" -o addr show dev "$d" scope global | awk '{print $4}'); do
    case " $* " in *" $a "*) ;; *) I "$n" addr del "$a" dev "$d" ;; esac
  done
  for a in "$@"; do must I "$n" addr replace "$a" dev "$d" $f; done
}
`;

export interface TranslateInput {
  interfacesSdn: string;
  /** The sdn file this node had before (its removed stanzas get their post-down hooks, as ifreload does). */
  previousSdn: string;
  frrConf: string;
}

export function translate(input: TranslateInput): Translation {
  const ifaces = classify(parseStanzas(input.interfacesSdn));
  const zones = [...ifaces.values()].filter((i) => i.kind === "vrf").map((i) => i.st.name);
  const L: string[] = [PRELUDE];
  const say = (...lines: string[]) => L.push(...lines);

  // 1. Removed stanzas: post-down hooks of the old file, then their devices.
  let previous: Stanza[] = [];
  try {
    previous = parseStanzas(input.previousSdn);
  } catch {
    previous = [];
  }
  for (const st of previous.filter((s) => !ifaces.has(s.name))) {
    say(`# ${st.name}: gone from the sdn file (ifreload runs its post-down hooks)`);
    for (const h of all(st, "post-down")) for (const c of translateHook(h)) say(`hook ${q(c)} ${q(st.name)}`);
  }
  say(
    "# zones that are gone: their namespace (VM taps go back to the node unplugged, as PVE unplugs them)",
    `for p in /run/netns/vrf_*; do [ -e "$p" ] || continue; z=\${p##*/}`,
    `  case ${q(` ${zones.join(" ")} `)} in *" $z "*) continue ;; esac`,
    `  for t in $(ip -n "$z" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^tap' || true); do ip -n "$z" link set "$t" netns 1; done`,
    `  ip link del "l$z" 2>/dev/null || true; ip link del "x$z" 2>/dev/null || true; ip netns del "$z"`,
    "done",
  );

  // 2. Zones: the VRF is a network namespace of the same name (FRR's netns VRF backend, zebra -n).
  zones.forEach((z, idx) => {
    const table = 1001 + idx; // ifupdown2's `vrf-table auto` takes the first free table from 1001
    const [lh, lv] = [linkHost(z), linkVrf(z)];
    say(
      `# zone VRF ${z} -> network namespace ${z}, table ${table} for its members left in the node`,
      `[ -e /run/netns/${z} ] || must ip netns add ${z}`,
      `I ${z} link set lo up`,
      // A namespace has its own forwarding and rp_filter; a real VRF shares the node's.
      `for k in net.ipv4.ip_forward net.ipv4.conf.all.rp_filter net.ipv4.conf.default.rp_filter net.ipv6.conf.all.forwarding; do`,
      `  ip netns exec ${z} sysctl -qw "$k=$(sysctl -n "$k")"; done`,
      `I - link show ${lh} >/dev/null 2>&1 || must ip link add ${lh} type veth peer name ${lv} netns ${z}`,
      `must I - addr replace ${FALLTHROUGH.hostAddr}/32 dev ${lh}`,
      `must I - link set ${lh} up`,
      `must I ${z} link set ${lv} up`,
      `must ip netns exec ${z} sysctl -qw net.ipv4.conf.${lv}.proxy_arp=1`,
      `must I ${z} route replace default via ${FALLTHROUGH.hostAddr} dev ${lv} onlink metric ${FALLTHROUGH.metric}`,
    );
  });

  // 3. Devices, in dependency order: VXLANs (created in the node, where their UDP socket stays), bridges,
  //    veths; then every stanza's attributes and hooks.
  const wanted = new Map<string, string[]>(); // ns -> device names
  const want = (ns: string | null, n: string) => wanted.set(ns ?? "-", [...(wanted.get(ns ?? "-") ?? []), n]);
  for (const i of ifaces.values()) {
    const { st } = i;
    if (i.kind === "vxlan") {
      const local = get(st, "vxlan-local-tunnelip");
      if (!local) throw new RealiseError(`interface ${st.name}: vxlan without vxlan-local-tunnelip`);
      // No `nolearning`: PVE sets learning off on the bridge port only (reference §1.1).
      say(`vxlan ${i.ns ?? "-"} ${st.name} ${get(st, "vxlan-id")} ${local} ${get(st, "vxlan-port") ?? 4789}`);
      want(i.ns, st.name);
    } else if (i.kind === "bridge") {
      say(`bridge_ ${i.ns ?? "-"} ${st.name}`);
      want(i.ns, st.name);
    } else if (i.kind === "veth") {
      const peer = get(st, "veth-peer-name");
      if (!peer) throw new RealiseError(`interface ${st.name}: veth without veth-peer-name`);
      say(
        `I - link show ${st.name} >/dev/null 2>&1 || must ip link add ${st.name} type veth peer name ${peer}`,
      );
    }
  }
  for (const i of ifaces.values()) {
    const { st } = i;
    const ns = i.ns ?? "-";
    const mtu = get(st, "mtu");
    if (i.kind === "vrf") {
      for (const h of all(st, "post-up")) for (const c of translateHook(h)) say(`hook ${q(c)} ${st.name}`);
      continue;
    }
    if (i.kind === "bridge") {
      const stp = get(st, "bridge_stp") === "on" ? 1 : 0;
      say(
        `must I ${ns} link set ${st.name} type bridge stp_state ${stp} forward_delay ${Number(get(st, "bridge_fd") ?? 15) * 100}`,
      );
      const mac = get(st, "hwaddress");
      if (mac) say(`must I ${ns} link set ${st.name} address ${mac}`);
      const alias = get(st, "alias");
      say(
        alias
          ? `must I ${ns} link set ${st.name} alias ${q(alias)}`
          : `I ${ns} link set ${st.name} alias '' 2>/dev/null || true`,
      );
      for (const p of portsOf(st)) {
        const port = ifaces.get(p);
        say(`must I ${ns} link set ${p} master ${st.name}`);
        if (port && port.kind === "vxlan") {
          say(
            `must bridge ${ns === "-" ? "" : `-n ${ns} `}link set dev ${p} learning ${get(port.st, "bridge-learning") === "off" ? "off" : "on"}` +
              ` neigh_suppress ${get(port.st, "bridge-arp-nd-suppress") === "on" ? "on" : "off"}`,
          );
        }
      }
      for (const [k, key] of [
        ["ip-forward", "net.ipv4.conf.%.forwarding"],
        ["ip6-forward", "net.ipv6.conf.%.forwarding"],
        ["arp-accept", "net.ipv4.conf.%.arp_accept"],
      ] as const) {
        const v = get(st, k);
        if (v !== undefined) say(`must X ${ns} sysctl -qw ${key.replace("%", st.name)}=${onOff(v)}`);
      }
    }
    if (mtu) say(`must I ${ns} link set ${st.name} mtu ${mtu}`);
    if (i.kind === "veth") {
      const vrf = get(st, "vrf");
      // A VRF member that is not a bridge (xvrfp_<zone>) stays in the node: only then do the two
      // forwarding passes of local routing share one conntrack table, as on a real node (§2.7 mechanism 1).
      // Its VRF membership becomes a policy rule into a table that leads to the zone namespace.
      const flags = vrf ? "noprefixroute" : "";
      say(`addrs - ${st.name} ${q(flags)} ${all(st, "address").join(" ")}`);
      say(`must sysctl -qw net.ipv4.conf.${st.name}.accept_local=1`);
      if (vrf) {
        const table = 1001 + zones.indexOf(vrf);
        say(
          `ip rule show iif ${st.name} | grep -q . || must ip rule add pref 1000 iif ${st.name} lookup ${table}`,
          `must ip route replace default dev ${linkHost(vrf)} table ${table}`,
        );
        for (const a of all(st, "address").filter((x) => !x.includes(":")))
          say(`must ip route replace ${network(a)} dev ${st.name} table ${table}`);
      }
    } else if (i.kind === "bridge") {
      const v6 = all(st, "address").some((a) => a.includes(":"));
      say(`addrs ${ns} ${st.name} '' ${all(st, "address").join(" ")}`);
      if (v6) say(`# IPv6 gateway addresses are set; the IPv6 exit path is not emulated (lab/README.md)`);
    }
    say(`must I ${ns} link set ${st.name} up`);
    if (i.kind === "veth") say(`must I - link set ${get(st, "veth-peer-name")} up`);
    for (const h of all(st, "post-up")) for (const c of translateHook(h)) say(`hook ${q(c)} ${st.name}`);
  }

  // 4. Devices no longer generated, inside the zone namespaces and in the node.
  for (const z of zones) {
    const keep = ["lo", linkVrf(z), ...(wanted.get(z) ?? [])].join(" ");
    say(
      `for d in $(ip -n ${z} -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do`,
      `  case ${q(` ${keep} `)} in *" $d "*) ;; *) case "$d" in tap*) ;; *) ip -n ${z} link del "$d" ;; esac ;; esac`,
      "done",
    );
  }
  const vethsHere = [...ifaces.values()].filter((i) => i.kind === "veth").map((i) => i.st.name);
  say(
    `for d in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E '^(xvrf_|xvrfp_|vxlan_|vrfvx_)' || true); do`,
    `  case ${q(` ${[...vethsHere, ...(wanted.get("-") ?? [])].join(" ")} `)} in *" $d "*) ;; *) while ip rule del iif "$d" 2>/dev/null; do :; done; ip link del "$d" 2>/dev/null || true ;; esac`,
    "done",
  );

  // 5. frr.conf's `import vrf` (exit nodes): FRR cannot leak netns-VRF routes into the node's kernel table,
  //    so the lab installs the leak of the zone's own subnets itself (own protocol number, replaced whole).
  const frr = translateFrr(input.frrConf);
  say(`ip route flush proto ${FALLTHROUGH.proto} 2>/dev/null || true`);
  for (const z of frr.importedVrfs) {
    if (!zones.includes(z)) continue;
    for (const i of ifaces.values()) {
      if (i.kind !== "bridge" || get(i.st, "vrf") !== z) continue;
      for (const a of all(i.st, "address").filter((x) => !x.includes(":")))
        say(`must ip route replace ${network(a)} dev ${linkHost(z)} proto ${FALLTHROUGH.proto}`);
    }
  }
  say('exit "$fail"', "");
  return { script: L.join("\n"), frrConf: frr.text, sdnIfaces: [...ifaces.keys()] };
}

/** a.b.c.d/n → its network a.b.c.0/n. */
export function network(cidr: string): string {
  const [ip, len] = cidr.split("/");
  const n = Number(len);
  const v = ip.split(".").reduce((acc, o) => acc * 256 + Number(o), 0);
  const masked = n === 0 ? 0 : Math.floor(v / 2 ** (32 - n)) * 2 ** (32 - n);
  return `${[24, 16, 8, 0].map((s) => Math.floor(masked / 2 ** s) % 256).join(".")}/${n}`;
}

/**
 * frr.conf for FRR 8.4 with netns VRFs: the generated text with these changes, each marked by a `! lab:`
 * comment line so `cat /etc/frr/frr.conf` on a node shows them.
 * - `vrf X` gets ` netns /run/netns/X`: without it frr-reload.py runs `no netns …` and the VRF goes inactive
 *   (lab-experiment.md §8 gotcha 2).
 * - `import vrf X` is removed (a netns VRF's routes cannot be leaked into another namespace's kernel table);
 *   the realise script installs the equivalent kernel routes.
 * - In MAP_VTEP_IN/OUT, a clause matching the default route by prefix-list (`only_default`, `only_default_v6`)
 *   matches it by EVPN route instead: FRR 8.4 never matches a type-5 route against a prefix-list, FRR 10 (what
 *   PVE ships) does. The route must be refused by BGP itself, as on PVE: refused later (in zebra), it still
 *   reaches zebra's router-MAC table and trips FRRouting/frr#16340 (lab/README.md, "Router MAC deleted").
 */
export function translateFrr(text: string): { text: string; importedVrfs: string[] } {
  const out: string[] = [];
  const imported: string[] = [];
  let routeMap = "";
  for (const line of text.split("\n")) {
    const vrf = /^vrf (\S+)$/.exec(line);
    const imp = /^(\s*)import vrf (\S+)$/.exec(line);
    routeMap = /^route-map (\S+) /.exec(line)?.[1] ?? (line === "exit" ? "" : routeMap);
    if (imp) {
      if (!imported.includes(imp[2])) imported.push(imp[2]);
      out.push(
        `${imp[1]}! lab: 'import vrf ${imp[2]}' -> kernel routes via ${linkHost(imp[2])} (lab/README.md)`,
      );
      continue;
    }
    if (
      /^MAP_VTEP_(IN|OUT)$/.test(routeMap) &&
      /^ match (ip address prefix-list only_default|ipv6 address prefix-list only_default_v6)$/.test(line)
    ) {
      out.push(
        ` ! lab: '${line.trim()}' -> the EVPN default route (FRR 8.4 matches no type-5 route by prefix-list)`,
        " match evpn route-type prefix",
        " match evpn default-route",
      );
      continue;
    }
    out.push(line);
    if (vrf) out.push(` netns /run/netns/${vrf[1]}`);
  }
  return { text: out.join("\n"), importedVrfs: imported };
}
