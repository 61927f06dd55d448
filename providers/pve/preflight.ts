// Lock-out preflight for the cluster firewall options (DESIGN §3.5, reference §6.12). Pure.
//
// Enabling the cluster firewall with policy_in DROP/REJECT drops everything no rule accepts. Before such an
// options change is written, every operator address must still reach SSH (tcp/22) and the API (tcp/8006):
// the cluster IN rules are evaluated in order (group references expanded) and the first rule that matches
// decides; if none does, the `management` ipset (whose members PVE always lets in to 22/8006) decides.
// Conservative on purpose: rules bound to an interface or a destination, and references we cannot resolve
// (SDN ipsets, unknown aliases), never count as accepting; the implicit `local_network` is not credited.
import { cidrContains, cidrOf, compareIPv4, hostCidr, parseIPv4 } from "../../fabric/net";
import type { LiveRule, RuleSpec } from "./api/cluster/firewall/rules";

export interface PreflightInput {
  /** Cluster option `enable` (0/1, or an epoch for the 60 s probe). */
  enable: number;
  /** Cluster option `policy_in`; PVE's default is DROP. */
  policyIn?: string;
  /** Addresses the operator (this program) reaches SSH and the API from, as the nodes see them. */
  operatorSources: string[];
  /** Cluster rules in evaluation order. */
  rules: (RuleSpec | LiveRule)[];
  /** Security group name → its rules, for `type=group` references. */
  groups: Record<string, (RuleSpec | LiveRule)[]>;
  /** Cluster ipset name → entries (CIDR or IP; `!` prefix = nomatch). */
  ipsets: Record<string, string[]>;
  /** Cluster alias name (lower-case) → CIDR. */
  aliases: Record<string, string>;
}

export const GUARDED_PORTS: { port: number; what: string }[] = [
  { port: 22, what: "SSH" },
  { port: 8006, what: "the API (pveproxy)" },
];

const MACRO_PORTS: Record<string, { proto: string; ports: number[] }> = {
  ssh: { proto: "tcp", ports: [22] },
};
const SERVICES: Record<string, number> = { ssh: 22 };

/** Does the address/CIDR/range `entry` contain IP `addr`? (IPv4 via fabric/net.ts; IPv6 by exact text.) */
export function contains(entry: string, addr: string): boolean {
  const x = parseIPv4(addr);
  if (entry.includes("-")) {
    const [a, b] = entry.split("-").map(parseIPv4);
    return !!a && !!b && !!x && compareIPv4(a, x) <= 0 && compareIPv4(x, b) <= 0;
  }
  const single = parseIPv4(entry);
  const c = single ? hostCidr(single) : cidrOf(entry);
  if (x === undefined || c === undefined) return entry.toLowerCase() === addr.toLowerCase();
  return cidrContains(c, x);
}

/** Does a rule's source field match `addr`? undefined = cannot tell (treated as no match). */
function sourceMatches(source: string | undefined, addr: string, i: PreflightInput): boolean {
  if (!source) return true;
  return source.split(",").some((item) => {
    const s = item.trim();
    if (s.startsWith("+")) {
      const name = s.slice(1).replace(/^dc\//, "");
      const set = name.includes("/") ? undefined : i.ipsets[name];
      if (!set) return false;
      if (set.some((e) => e.startsWith("!") && contains(e.slice(1), addr))) return false;
      return set.some((e) => !e.startsWith("!") && contains(e, addr));
    }
    if (/^[0-9a-fA-F.:]+(\/\d+)?$|^[\d.]+-[\d.]+$/.test(s)) return contains(s, addr);
    const alias = i.aliases[s.replace(/^dc\//, "").toLowerCase()];
    return alias !== undefined && contains(alias, addr);
  });
}

function portMatches(r: RuleSpec, port: number): boolean {
  if (r.macro) {
    const m = MACRO_PORTS[r.macro.toLowerCase()];
    return !!m && m.ports.includes(port);
  }
  if (r.proto && r.proto !== "tcp" && r.proto !== "6") return false;
  if (!r.dport) return true;
  return r.dport.split(",").some((p) => {
    const [a, b] = p.trim().split(":");
    const lo = SERVICES[a] ?? Number(a);
    const hi = b === undefined ? lo : (SERVICES[b] ?? Number(b));
    return port >= lo && port <= hi;
  });
}

/** The action of the first enabled IN rule that matches (groups expanded), or undefined. */
function firstMatch(
  rules: (RuleSpec | LiveRule)[],
  addr: string,
  port: number,
  i: PreflightInput,
  depth = 0,
): string | undefined {
  for (const r of rules) {
    if (!r.enable) continue;
    if (r.type === "group") {
      if (depth > 0 || r.iface) continue;
      const hit = firstMatch(i.groups[r.action] ?? [], addr, port, i, depth + 1);
      if (hit) return hit;
      continue;
    }
    if (r.type !== "in" || r.iface || r.dest) continue;
    if (!portMatches(r, port) || !sourceMatches(r.source, addr, i)) continue;
    return r.action.toUpperCase();
  }
  return undefined;
}

/** One message per (operator address, port) the options would cut; [] when safe. */
export function lockoutProblems(i: PreflightInput): string[] {
  if (!i.enable) return [];
  const policy = (i.policyIn ?? "DROP").toUpperCase();
  const out: string[] = [];
  for (const addr of i.operatorSources)
    for (const { port, what } of GUARDED_PORTS) {
      const action = firstMatch(i.rules, addr, port, i);
      if (action === "ACCEPT") continue;
      if (action === undefined) {
        if (policy === "ACCEPT") continue;
        if ((i.ipsets.management ?? []).some((e) => !e.startsWith("!") && contains(e, addr))) continue;
      }
      out.push(
        `${what} (tcp/${port}) from ${addr} would be ${action ? `${action === "REJECT" ? "rejected" : "dropped"} by a cluster rule` : `dropped by policy_in=${policy}`}: ` +
          "add an enabled IN ACCEPT rule for it (or the address to the `management` ipset) before enabling the firewall, " +
          "or remove the address from operatorSources if it no longer needs access",
      );
    }
  return out;
}
