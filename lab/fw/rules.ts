// One PVE firewall rule → nftables rule lines, the way proxmox-firewall (rule.rs, 1.2.x) builds them: a rule
// becomes a list of partial rules that each match, in this order, interface, protocol/ports, macro and
// addresses; an ipset reference splits every partial rule into an IPv4 and an IPv6 copy; `log` adds a
// (rate-limited) nflog rule in front of the verdict rule. Pure; errors are FirewallCompileErrors naming the
// rule, because one bad rule makes the whole update fail on the PVE version the lab emulates (see compile.ts).
import { FirewallCompileError, type Resolver } from "./model";
import type { Rule } from "../pve/state";
// Port service names: exactly the ones the emulator accepts in rules.
import { SERVICES } from "../pve/firewall";

export type Direction = "in" | "out" | "forward";

interface Partial {
  family?: 4 | 6;
  stmts: string[];
  terminal: string[];
}

export interface RuleEnv {
  /** The chain the lines go to (also the log prefix's chain name). */
  chain: string;
  dir: Direction;
  /** "cluster rule 3", "group 'sdn' rule 0", … for error messages. */
  where: string;
  res: Resolver;
}

/** proxmox-ve-config's macros.json entries for the macros the emulator knows. */
const MACROS: Record<string, { proto: string; dport?: string; icmp?: string }[]> = {
  BGP: [{ proto: "tcp", dport: "179" }],
  DNS: [
    { proto: "udp", dport: "53" },
    { proto: "tcp", dport: "53" },
  ],
  HTTP: [{ proto: "tcp", dport: "80" }],
  HTTPS: [{ proto: "tcp", dport: "443" }],
  NTP: [{ proto: "udp", dport: "123" }],
  Ping: [
    { proto: "icmp", icmp: "echo-request" },
    { proto: "icmpv6", icmp: "echo-request" },
  ],
  SMTP: [{ proto: "tcp", dport: "25" }],
  SSH: [{ proto: "tcp", dport: "22" }],
  Web: [
    { proto: "tcp", dport: "80" },
    { proto: "tcp", dport: "443" },
  ],
};

const LOG_LEVELS: Record<string, number> = {
  emerg: 0,
  alert: 1,
  crit: 2,
  err: 3,
  warning: 4,
  notice: 5,
  info: 6,
  debug: 7,
};

/** `nolog` and unset give no log rule (proxmox-firewall's LogLevel conversion fails for them). */
export function logLevel(value: unknown): number | undefined {
  return typeof value === "string" ? LOG_LEVELS[value] : undefined;
}

export function logStatement(res: Resolver, chain: string, level: number, verdict: string): string[] {
  const out = res.logLimit ? [res.logLimit] : [];
  return [...out, `log prefix ":0:${level}:${chain}: ${verdict}: " group 0`];
}

/** The verdict statement for a policy or rule action in the inet table (REJECT goes through do-reject). */
export function verdict(action: string): string {
  if (action === "ACCEPT") return "accept";
  if (action === "DROP") return "drop";
  if (action === "REJECT") return "jump do-reject";
  throw new Error(`unknown verdict '${action}'`);
}

function set(items: string[]): string {
  return items.length === 1 ? items[0] : `{ ${items.join(", ")} }`;
}

function ports(spec: string, field: string, env: RuleEnv): string {
  const items = spec.split(",").map((item) =>
    item
      .split(":")
      .map((p) => {
        if (/^\d+$/.test(p)) return String(Number(p));
        const n = SERVICES[p];
        if (n === undefined)
          throw new FirewallCompileError(
            `${env.where}`,
            field,
            spec,
            "ports are numbers, N:M ranges or known service names",
            "use a port number",
          );
        return String(n);
      })
      .join("-"),
  );
  return set(items);
}

function applyProto(
  rules: Partial[],
  proto: string,
  r: { dport?: string; sport?: string; icmp?: string },
  env: RuleEnv,
) {
  const p = proto.toLowerCase();
  for (const rule of rules) {
    if (p === "icmp" || p === "icmpv6" || p === "ipv6-icmp") {
      const fam = p === "icmp" ? 4 : 6;
      // An ICMP match only lands on partial rules of its family (or none yet), as in rule.rs.
      if (rule.family !== undefined && rule.family !== fam) continue;
      rule.stmts.push(
        r.icmp
          ? `${fam === 4 ? "icmp" : "icmpv6"} type ${r.icmp}`
          : `meta l4proto ${fam === 4 ? "icmp" : "icmpv6"}`,
      );
      rule.family = fam;
      continue;
    }
    rule.stmts.push(`meta l4proto ${p}`);
    if (r.sport) rule.stmts.push(`th sport ${ports(r.sport, "sport", env)}`);
    if (r.dport) rule.stmts.push(`th dport ${ports(r.dport, "dport", env)}`);
  }
}

function addressMatch(rules: Partial[], value: string, field: "saddr" | "daddr", env: RuleEnv): Partial[] {
  const fieldName = field === "saddr" ? "source" : "dest";
  if (value.startsWith("+")) {
    const name = env.res.ipsetRef(value.slice(1), env.where, fieldName);
    // Every partial rule of no or the matching family gets a v4 and/or a v6 copy matching the set and not
    // its nomatch twin.
    const out: Partial[] = [];
    for (const rule of rules)
      for (const fam of [4, 6] as const) {
        if (rule.family !== undefined && rule.family !== fam) continue;
        const ip = fam === 4 ? "ip" : "ip6";
        const setName = `v${fam}-${name}`;
        out.push({
          family: fam,
          stmts: [...rule.stmts, `${ip} ${field} @${setName}`, `${ip} ${field} != @${setName}-nomatch`],
          terminal: rule.terminal,
        });
      }
    return out;
  }
  let items: string[];
  if (/^[0-9a-fA-F:.,/-]+$/.test(value) && /[.:]/.test(value)) items = value.split(",");
  else items = [env.res.aliasRef(value, env.where, fieldName)];
  const fam = items[0].includes(":") ? 6 : 4;
  const ip = fam === 4 ? "ip" : "ip6";
  // A literal or alias of one family only constrains partial rules of that family (or none yet); a partial
  // rule already fixed to the other family is left unconstrained — rule.rs does exactly this.
  for (const rule of rules) {
    if (rule.family !== undefined && rule.family !== fam) continue;
    rule.stmts.push(`${ip} ${field} ${set(items)}`);
    rule.family = fam;
  }
  return rules;
}

function ifaceMatch(rules: Partial[], iface: string, env: RuleEnv) {
  const key = env.dir === "in" ? "iifname" : "oifname";
  for (const rule of rules) rule.stmts.push(`${key} "${iface}"`);
}

/** The nft lines one config rule contributes to `env.chain` (none when disabled or of another direction). */
export function ruleLines(rule: Rule, env: RuleEnv): string[] {
  if (Number(rule.enable ?? 0) !== 1) return [];
  const type = String(rule.type);
  const action = String(rule.action);
  const iface = rule.iface === undefined ? undefined : String(rule.iface);
  if (type === "group") {
    // A group reference with an interface has no meaning for forwarding: proxmox-firewall drops it silently.
    if (env.dir === "forward" && iface !== undefined) return [];
    env.res.group(action, env.where);
    const rules: Partial[] = [{ stmts: [], terminal: [`jump group-${action}-${env.dir}`] }];
    if (iface !== undefined) ifaceMatch(rules, iface, env);
    return rules.map(render);
  }
  if (type !== env.dir) return [];
  let rules: Partial[] = [];
  const level = logLevel(rule.log);
  if (level !== undefined)
    rules.push({ stmts: [], terminal: logStatement(env.res, env.chain, level, action) });
  rules.push({ stmts: [], terminal: [verdict(action)] });
  if (iface !== undefined) {
    if (env.dir === "forward")
      throw new FirewallCompileError(
        env.where,
        "iface",
        iface,
        "proxmox-firewall cannot match an interface on a forward rule ('cannot define interfaces for forward direction')",
        "remove iface from the rule and match on source/dest instead",
      );
    ifaceMatch(rules, iface, env);
  }
  const str = (k: string) => (rule[k] === undefined ? undefined : String(rule[k]));
  if (rule.proto !== undefined)
    applyProto(
      rules,
      String(rule.proto),
      { dport: str("dport"), sport: str("sport"), icmp: str("icmp-type") },
      env,
    );
  if (rule.macro !== undefined) {
    const name = Object.keys(MACROS).find((m) => m.toLowerCase() === String(rule.macro).toLowerCase());
    if (!name)
      throw new FirewallCompileError(
        env.where,
        "macro",
        String(rule.macro),
        "unknown macro",
        "use a PVE macro name",
      );
    // Each protocol entry of the macro gets its own copy of the partial rules.
    rules = MACROS[name].flatMap((code) => {
      const copy = rules.map((r) => ({ ...r, stmts: [...r.stmts] }));
      applyProto(copy, code.proto, { dport: code.dport, icmp: code.icmp, sport: str("sport") }, env);
      return copy;
    });
  }
  if (rule.source !== undefined) rules = addressMatch(rules, String(rule.source), "saddr", env);
  if (rule.dest !== undefined) rules = addressMatch(rules, String(rule.dest), "daddr", env);
  return rules.map(render);
}

function render(r: Partial): string {
  return [...r.stmts, ...r.terminal].join(" ");
}
