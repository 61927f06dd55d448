// Firewall endpoints (reference §3): cluster options/rules, security groups, ipsets, aliases, refs, macros,
// node options/rules and the 8.3+ vnet firewall. One rules implementation serves every scope; rules are
// verified like pve-firewall's `verify_rule` (400s naming the field), positions behave as in §3.4.
import { die, paramError, PveError } from "./errors";
import {
  bool,
  digest,
  deleteList,
  isIP,
  nodeName,
  optInt,
  optStr,
  parseCidr,
  type Params,
  type Schema,
  type Spec,
} from "./schema";
import type { Ctx, Emulator, Route } from "./server";
import { sdnIpsets } from "./server";
import { runningVnet } from "./sdn";
import { sha1, type FwValue, type Rule, type RuleScope } from "./state";

const NAME = "[A-Za-z][A-Za-z0-9\\-\\_]+";
const LOG_LEVELS = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog"];
const RULE_FIELDS = [
  "type",
  "action",
  "macro",
  "iface",
  "source",
  "dest",
  "proto",
  "dport",
  "sport",
  "icmp-type",
  "log",
  "enable",
  "comment",
];

/** A small, real subset of pve-firewall's macro table (name → description). */
const MACROS: Record<string, string> = {
  BGP: "Border Gateway Protocol traffic",
  DNS: "Domain Name System traffic (upd and tcp)",
  HTTP: "Hypertext Transfer Protocol (WWW)",
  HTTPS: "Hypertext Transfer Protocol (WWW) over SSL",
  NTP: "Network Time Protocol (ntpd)",
  Ping: "ICMP echo request",
  SMTP: "Simple Mail Transfer Protocol",
  SSH: "Secure shell traffic",
  Web: "WWW traffic (HTTP and HTTPS)",
};
const PROTOCOLS = new Set([
  "tcp",
  "udp",
  "icmp",
  "icmpv6",
  "ipv6-icmp",
  "udplite",
  "dccp",
  "sctp",
  "gre",
  "esp",
  "ah",
  "ospf",
  "vrrp",
  "igmp",
  "ipip",
  "ipv6",
]);
const WITH_PORTS = new Set(["tcp", "udp", "udplite", "dccp", "sctp", "6", "17", "136", "33", "132"]);
export const SERVICES: Record<string, number> = {
  ssh: 22,
  http: 80,
  https: 443,
  domain: 53,
  bgp: 179,
  ntp: 123,
  smtp: 25,
  ftp: 21,
};

type Env = "cluster" | "host" | "group" | "vnet";
const ENV_TYPES: Record<Env, string[]> = {
  cluster: ["in", "out", "forward", "group"],
  host: ["in", "out", "forward", "group"],
  group: ["in", "out", "forward"],
  vnet: ["forward", "group"],
};
const ENV_IFACE: Record<Env, boolean> = { cluster: true, host: true, group: false, vnet: false };

const ruleProps = (create: boolean): Schema => ({
  type: { type: "string", optional: !create, enum: ["in", "out", "forward", "group"] },
  action: { type: "string", optional: !create, pattern: NAME, minLength: 2, maxLength: 20 },
  macro: optStr({ maxLength: 128 }),
  iface: optStr({ minLength: 2, maxLength: 20 }),
  source: optStr({ maxLength: 512 }),
  dest: optStr({ maxLength: 512 }),
  proto: optStr(),
  dport: optStr(),
  sport: optStr(),
  "icmp-type": optStr(),
  log: optStr({ enum: LOG_LEVELS }),
  enable: optInt(0),
  comment: optStr(),
  pos: optInt(0),
  digest,
});

function listDigest(v: unknown): string {
  return sha1(JSON.stringify(v));
}

function checkPorts(spec: string): string | undefined {
  let count = 0;
  for (const item of spec.split(",")) {
    const parts = item.split(":");
    if (parts.length > 2 || parts.some((p) => !(/^\d+$/.test(p) ? Number(p) <= 65535 : p in SERVICES)))
      return `invalid port '${item}'`;
    count += parts.length;
  }
  return count > 15 ? "too many entries in port list (> 15 numbers)" : undefined;
}

function checkAddress(
  emu: Emulator,
  field: string,
  value: string,
  errors: Record<string, string>,
): number | undefined {
  if (value.startsWith("+")) {
    const m = new RegExp(`^\\+(guest/|dc/|sdn/)?(${NAME})$`).exec(value);
    if (!m) errors[field] = `invalid ipset name '${value}'`;
    else if (!emu.state.fw.ipsets[m[2]] && !sdnIpsets(emu.state.running)[m[2]])
      errors[field] = `no such ipset '${m[2]}'`;
    return undefined;
  }
  const am = new RegExp(`^(guest/|dc/)?(${NAME})$`).exec(value);
  if (am) {
    const alias = emu.state.fw.aliases[am[2].toLowerCase()];
    if (!alias) errors[field] = `no such alias '${value}'`;
    return alias ? (alias.cidr.includes(":") ? 6 : 4) : undefined;
  }
  let version: number | undefined;
  for (const item of value.split(",")) {
    const range = item.split("-");
    const ok = range.length === 2 ? range.every(isIP) : isIP(item) || parseCidr(item) !== undefined;
    if (!ok) {
      errors[field] = `invalid IP address: ${item}`;
      return undefined;
    }
    const v = item.includes(":") ? 6 : 4;
    if (version && v !== version) {
      errors[field] = "detected mixed ipv4/ipv6 addresses in rule";
      return undefined;
    }
    version = v;
  }
  return version;
}

/** `verify_rule`: per-field 400s; returns the derived ipversion. */
function verifyRule(emu: Emulator, rule: Rule, env: Env): number | undefined {
  const errors: Record<string, string> = {};
  const type = rule.type as string | undefined;
  const action = rule.action as string | undefined;
  if (!type) errors.type = "missing property";
  if (!action) errors.action = "missing property";
  if (type && !ENV_TYPES[env].includes(type))
    errors.type = `invalid rule type '${type}' for rule_env '${env}'`;
  else if (type === "in" || type === "out" || type === "forward") {
    if (type === "forward" && action === "REJECT")
      errors.action = "cannot define REJECT rules on forward chain";
    else if (action && !/^(ACCEPT|DROP|REJECT)$/.test(action)) errors.action = `unknown action '${action}'`;
  }
  if (rule.iface !== undefined && !ENV_IFACE[env])
    errors.type ??= "parameter -i not allowed for this rule type";
  if (rule.macro !== undefined) {
    const canonical = Object.keys(MACROS).find((m) => m.toLowerCase() === String(rule.macro).toLowerCase());
    if (canonical) rule.macro = canonical;
    else errors.macro = `unknown macro '${rule.macro}'`;
  }
  const proto = rule.proto as string | undefined;
  const isIcmp = proto === "icmp" || proto === "icmpv6" || proto === "ipv6-icmp";
  if (proto !== undefined && !PROTOCOLS.has(proto) && !(/^\d+$/.test(proto) && Number(proto) <= 255))
    errors.proto = `unknown protocol '${proto}'`;
  for (const p of ["dport", "sport"] as const) {
    if (rule[p] === undefined) continue;
    const bad = checkPorts(String(rule[p]));
    if (bad) errors[p] = bad;
    if (!proto) errors.proto = `missing property - '${p}' requires this property`;
    else if (!WITH_PORTS.has(proto)) errors[p] = `protocol '${proto}' does not support ports`;
  }
  if (rule["icmp-type"] !== undefined) {
    if (!isIcmp) errors.proto = "missing property - 'icmp-type' requires this property";
    if (rule.dport !== undefined)
      errors["icmp-type"] = "'icmp-type' cannot be specified together with 'dport'";
  }
  let ipversion: number | undefined;
  for (const f of ["source", "dest"]) {
    if (rule[f] === undefined) continue;
    const v = checkAddress(emu, f, String(rule[f]), errors);
    if (v && ipversion && v !== ipversion) errors[f] = "detected mixed ipv4/ipv6 addresses in rule";
    ipversion ??= v;
  }
  if (Object.keys(errors).length > 0) paramError(errors);
  return ipversion ?? (proto === "icmp" ? 4 : isIcmp ? 6 : undefined);
}

function buildRule(params: Params): Rule {
  const rule: Rule = {};
  for (const f of RULE_FIELDS) {
    const v = params[f];
    // "" or "-" deletes a field (reference §3.3).
    if (v === undefined || v === "" || v === "-") continue;
    rule[f] = f === "comment" ? String(v).trim() : (v as FwValue);
  }
  return rule;
}

/** For `type=group` only action, iface, enable and comment are kept (reference §3.3). */
function persisted(rule: Rule): Rule {
  if (rule.type !== "group") return rule;
  const out: Rule = {};
  for (const f of ["type", "action", "iface", "enable", "comment"])
    if (rule[f] !== undefined) out[f] = rule[f];
  return out;
}

function renderRules(emu: Emulator, rules: Rule[]): Record<string, FwValue>[] {
  const d = listDigest(rules);
  return rules.map((r, pos) => {
    const o: Record<string, FwValue> = { pos, ...r, enable: r.enable ?? 0, digest: d };
    let ipv: number | undefined;
    try {
      ipv = r.type === "group" ? undefined : verifyRule(emu, { ...r }, "cluster");
    } catch {
      ipv = undefined;
    }
    if (ipv) o.ipversion = ipv;
    return o;
  });
}

function checkDigest(current: string, given: Params[string] | undefined): void {
  if (given !== undefined && given !== current)
    die("detected modified configuration - file changed by other user? Try again.");
}

interface ScopeDef {
  base: string;
  env: Env;
  pathSchema: Schema;
  proxied?: boolean;
  /** Resolve the rule list (throws PVE's "does not exist"-style 500 when the scope is missing). */
  rules: (ctx: Ctx) => Rule[];
  set: (ctx: Ctx, rules: Rule[]) => void;
}

function ruleRoutes(s: ScopeDef): Route[] {
  const pos: Spec = { type: "integer", minimum: 0 };
  const at = (ctx: Ctx): [Rule[], number] => {
    const rules = s.rules(ctx);
    const p = Number(ctx.params.pos);
    if (p >= rules.length) die(`no rule at position ${p}`);
    return [rules, p];
  };
  return [
    {
      method: "GET",
      path: s.base,
      proxied: s.proxied,
      schema: () => s.pathSchema,
      handler: (ctx) => renderRules(ctx.emu, s.rules(ctx)),
    },
    {
      method: "GET",
      path: `${s.base}/{pos}`,
      proxied: s.proxied,
      schema: () => ({ ...s.pathSchema, pos }),
      handler: (ctx) => {
        const [rules, p] = at(ctx);
        return renderRules(ctx.emu, rules)[p];
      },
    },
    {
      method: "POST",
      path: s.base,
      proxied: s.proxied,
      schema: () => ({ ...s.pathSchema, ...ruleProps(true) }),
      handler: (ctx) => {
        const rules = s.rules(ctx);
        const rule = buildRule(ctx.params);
        verifyRule(ctx.emu, rule, s.env);
        // New rules always land at position 0; `pos` and `digest` are accepted but ignored.
        s.set(ctx, [persisted(rule), ...rules]);
        return null;
      },
    },
    {
      method: "PUT",
      path: `${s.base}/{pos}`,
      proxied: s.proxied,
      schema: () => ({ ...s.pathSchema, ...ruleProps(false), pos, moveto: optInt(0), delete: deleteList }),
      handler: (ctx) => {
        const [rules, p] = at(ctx);
        checkDigest(listDigest(rules), ctx.params.digest);
        const moveto = ctx.params.moveto as number | undefined;
        if (moveto !== undefined && moveto !== p) {
          const moved: Rule[] = [];
          rules.forEach((r, i) => {
            if (i === p) return;
            if (i === moveto) moved.push(rules[p]);
            moved.push(r);
          });
          if (moveto >= rules.length) moved.push(rules[p]);
          s.set(ctx, moved);
          return null;
        }
        const rule: Rule = { ...rules[p] };
        for (const k of ctx.params.delete === undefined
          ? []
          : String(ctx.params.delete)
              .split(/[,; ]+/)
              .filter((x) => x)) {
          if (k === "type" || k === "action")
            paramError({ delete: `unable to delete required property '${k}'` });
          delete rule[k];
        }
        for (const f of RULE_FIELDS) {
          const v = ctx.params[f];
          if (v === undefined) continue;
          if (v === "" || v === "-") delete rule[f];
          else rule[f] = f === "comment" ? String(v).trim() : (v as FwValue);
        }
        verifyRule(ctx.emu, rule, s.env);
        const next = [...rules];
        next[p] = persisted(rule);
        s.set(ctx, next);
        return null;
      },
    },
    {
      method: "DELETE",
      path: `${s.base}/{pos}`,
      proxied: s.proxied,
      schema: () => ({ ...s.pathSchema, pos, digest }),
      handler: (ctx) => {
        const [rules, p] = at(ctx);
        checkDigest(listDigest(rules), ctx.params.digest);
        s.set(
          ctx,
          rules.filter((_, i) => i !== p),
        );
        return null;
      },
    },
  ];
}

function optionRoutes(
  base: string,
  pathSchema: Schema,
  props: Schema,
  get: (ctx: Ctx) => RuleScope,
  proxied = false,
  transform?: (k: string, v: FwValue) => FwValue,
): Route[] {
  return [
    {
      method: "GET",
      path: base,
      proxied,
      schema: () => pathSchema,
      handler: (ctx) => {
        const o = get(ctx).options;
        return { ...o, digest: listDigest(o) };
      },
    },
    {
      method: "PUT",
      path: base,
      proxied,
      schema: () => ({ ...pathSchema, ...props, delete: deleteList, digest }),
      handler: (ctx) => {
        const scope = get(ctx);
        checkDigest(listDigest(scope.options), ctx.params.digest);
        const next = { ...scope.options };
        const del =
          ctx.params.delete === undefined
            ? []
            : String(ctx.params.delete)
                .split(/[,; ]+/)
                .filter((x) => x);
        for (const k of del) {
          if (!(k in props)) paramError({ delete: `invalid option '${k}'` });
          if (ctx.params[k] !== undefined) die(`cannot set and delete property '${k}' at the same time!`);
          delete next[k];
        }
        for (const k of Object.keys(props)) {
          const v = ctx.params[k];
          if (v !== undefined) next[k] = transform ? transform(k, v as FwValue) : (v as FwValue);
        }
        scope.options = next;
        ctx.emu.save();
        return null;
      },
    },
  ];
}

const policy = (values: string[]): Spec => optStr({ enum: values });
const clusterOptionProps: Schema = {
  enable: optInt(0),
  policy_in: policy(["ACCEPT", "REJECT", "DROP"]),
  policy_out: policy(["ACCEPT", "REJECT", "DROP"]),
  policy_forward: policy(["ACCEPT", "DROP"]),
  ebtables: bool,
  log_ratelimit: optStr(),
};
const nodeOptionProps: Schema = {
  enable: bool,
  nftables: bool,
  log_level_in: optStr({ enum: LOG_LEVELS }),
  log_level_out: optStr({ enum: LOG_LEVELS }),
  log_level_forward: optStr({ enum: LOG_LEVELS }),
  ndp: bool,
  nosmurfs: bool,
  smurf_log_level: optStr({ enum: LOG_LEVELS }),
  tcpflags: bool,
  tcp_flags_log_level: optStr({ enum: LOG_LEVELS }),
  nf_conntrack_max: optInt(32768),
  nf_conntrack_tcp_timeout_established: optInt(7875),
  nf_conntrack_tcp_timeout_syn_recv: optInt(30, 60),
  nf_conntrack_allow_invalid: bool,
  nf_conntrack_helpers: optStr(),
  protection_synflood: bool,
  protection_synflood_rate: optInt(),
  protection_synflood_burst: optInt(),
  log_nf_conntrack: bool,
};
const vnetOptionProps: Schema = {
  enable: bool,
  policy_forward: policy(["ACCEPT", "DROP"]),
  log_level_forward: optStr({ enum: LOG_LEVELS }),
};

export function firewallRoutes(): Route[] {
  const r: Route[] = [];
  const nodeScope = (ctx: Ctx): RuleScope =>
    (ctx.emu.state.fw.nodes[String(ctx.params.node)] ??= { options: {}, rules: [] });
  const vnetScope = (ctx: Ctx): RuleScope => {
    const vnet = String(ctx.params.vnet);
    runningVnet(ctx.emu, vnet);
    return (ctx.emu.state.fw.vnets[vnet] ??= { options: {}, rules: [] });
  };
  const group = (ctx: Ctx) => {
    const g = ctx.emu.state.fw.groups[String(ctx.params.group)];
    if (!g) die(`no such security group '${ctx.params.group}'`);
    return g;
  };
  const save = (ctx: Ctx) => ctx.emu.save();
  const vnetPath: Schema = { vnet: { type: "string" } };
  const nodePath: Schema = { node: nodeName };

  r.push({
    method: "GET",
    path: "/cluster/firewall",
    schema: () => ({}),
    handler: () =>
      ["aliases", "rules", "options", "groups", "ipset", "macros", "refs"].map((name) => ({ name })),
  });
  r.push(
    ...optionRoutes(
      "/cluster/firewall/options",
      {},
      clusterOptionProps,
      (ctx) => ctx.emu.state.fw.cluster,
      false,
      (k, v) =>
        // enable > 1 is stored as the current epoch: the 60 s anti-lockout probe (reference §3.2).
        k === "enable" && Number(v) > 1 ? Math.floor(Date.now() / 1000) : v,
    ),
  );
  r.push(
    ...ruleRoutes({
      base: "/cluster/firewall/rules",
      env: "cluster",
      pathSchema: {},
      rules: (ctx) => ctx.emu.state.fw.cluster.rules,
      set: (ctx, rules) => ((ctx.emu.state.fw.cluster.rules = rules), save(ctx)),
    }),
  );
  r.push(...optionRoutes("/nodes/{node}/firewall/options", nodePath, nodeOptionProps, nodeScope, true));
  r.push(
    ...ruleRoutes({
      base: "/nodes/{node}/firewall/rules",
      env: "host",
      pathSchema: nodePath,
      proxied: true,
      rules: (ctx) => nodeScope(ctx).rules,
      set: (ctx, rules) => ((nodeScope(ctx).rules = rules), save(ctx)),
    }),
  );
  r.push({
    method: "GET",
    path: "/nodes/{node}/firewall",
    proxied: true,
    schema: () => nodePath,
    handler: () => ["rules", "options", "log"].map((name) => ({ name })),
  });

  // VNet firewall: only once the vnet is in the running config ("invalid vnet specified" before).
  r.push({
    method: "GET",
    path: "/cluster/sdn/vnets/{vnet}/firewall",
    rootOnly: true,
    schema: () => vnetPath,
    handler: (ctx) => (vnetScope(ctx), ["rules", "options"].map((name) => ({ name }))),
  });
  r.push(...optionRoutes("/cluster/sdn/vnets/{vnet}/firewall/options", vnetPath, vnetOptionProps, vnetScope));
  r.push(
    ...ruleRoutes({
      base: "/cluster/sdn/vnets/{vnet}/firewall/rules",
      env: "vnet",
      pathSchema: vnetPath,
      rules: (ctx) => vnetScope(ctx).rules,
      set: (ctx, rules) => ((vnetScope(ctx).rules = rules), save(ctx)),
    }),
  );

  // Security groups
  const groupName: Spec = { type: "string", pattern: NAME, minLength: 2, maxLength: 18 };
  r.push({
    method: "GET",
    path: "/cluster/firewall/groups",
    schema: () => ({}),
    handler: ({ emu }) => {
      const g = emu.state.fw.groups;
      const d = listDigest(g);
      return Object.keys(g)
        .sort()
        .map((name) => ({
          group: name,
          ...(g[name].comment ? { comment: g[name].comment } : {}),
          digest: d,
        }));
    },
  });
  r.push({
    method: "POST",
    path: "/cluster/firewall/groups",
    schema: () => ({ group: groupName, comment: optStr(), rename: optStr({ pattern: NAME }), digest }),
    handler: (ctx) => {
      const groups = ctx.emu.state.fw.groups;
      const { group: name, rename, comment } = ctx.params as Record<string, string | undefined>;
      checkDigest(listDigest(groups), ctx.params.digest);
      if (rename !== undefined) {
        if (!groups[rename]) die(`Security group '${rename}' does not exist`);
        if (rename !== name) {
          if (groups[name!]) die(`Security group '${name}' already exists`);
          groups[name!] = groups[rename];
          delete groups[rename];
          // Rename rewrites references in cluster and node rules — not in vnet rules (reference §3.5).
          const scopes = [ctx.emu.state.fw.cluster, ...Object.values(ctx.emu.state.fw.nodes)];
          for (const s of scopes)
            for (const rule of s.rules)
              if (rule.type === "group" && rule.action === rename) rule.action = name!;
        }
        if (comment !== undefined) groups[name!].comment = comment;
      } else {
        if (groups[name!]) die(`Security group '${name}' already exists`);
        groups[name!] = { ...(comment ? { comment } : {}), rules: [] };
      }
      ctx.emu.save();
      return null;
    },
  });
  r.push({
    method: "DELETE",
    path: "/cluster/firewall/groups/{group}",
    schema: () => ({ group: groupName }),
    handler: (ctx) => {
      const g = group(ctx);
      if (g.rules.length > 0) die(`Security group '${ctx.params.group}' is not empty`);
      delete ctx.emu.state.fw.groups[String(ctx.params.group)];
      ctx.emu.save();
      return null;
    },
  });
  r.push(
    ...ruleRoutes({
      base: "/cluster/firewall/groups/{group}",
      env: "group",
      pathSchema: { group: groupName },
      rules: (ctx) => group(ctx).rules,
      set: (ctx, rules) => ((group(ctx).rules = rules), save(ctx)),
    }),
  );

  // IPSets
  const ipsetName: Spec = { type: "string", pattern: NAME, minLength: 2, maxLength: 64 };
  const ipset = (ctx: Ctx) => {
    const s = ctx.emu.state.fw.ipsets[String(ctx.params.name)];
    if (!s) die(`no such IPSet '${ctx.params.name}'`);
    return s;
  };
  r.push({
    method: "GET",
    path: "/cluster/firewall/ipset",
    schema: () => ({}),
    handler: ({ emu }) => {
      const sets = emu.state.fw.ipsets;
      const d = listDigest(sets);
      return Object.keys(sets)
        .sort()
        .map((name) => ({ name, ...(sets[name].comment ? { comment: sets[name].comment } : {}), digest: d }));
    },
  });
  r.push({
    method: "POST",
    path: "/cluster/firewall/ipset",
    schema: () => ({ name: ipsetName, comment: optStr(), rename: optStr({ pattern: NAME }), digest }),
    handler: (ctx) => {
      const sets = ctx.emu.state.fw.ipsets;
      const { name, rename, comment } = ctx.params as Record<string, string | undefined>;
      checkDigest(listDigest(sets), ctx.params.digest);
      if (rename !== undefined) {
        if (!sets[rename]) die(`IPSet '${rename}' does not exist`);
        if (rename !== name) {
          if (sets[name!]) die(`IPSet '${name}' already exists`);
          sets[name!] = sets[rename];
          delete sets[rename];
        }
        if (comment !== undefined) sets[name!].comment = comment;
      } else {
        if (sets[name!]) die(`IPSet '${name}' already exists`);
        sets[name!] = { ...(comment ? { comment } : {}), entries: [] };
      }
      ctx.emu.save();
      return null;
    },
  });
  r.push({
    method: "DELETE",
    path: "/cluster/firewall/ipset/{name}",
    schema: () => ({ name: ipsetName, force: bool }),
    handler: (ctx) => {
      const s = ipset(ctx);
      if (s.entries.length > 0 && ctx.params.force !== 1) die(`IPSet '${ctx.params.name}' is not empty`);
      delete ctx.emu.state.fw.ipsets[String(ctx.params.name)];
      ctx.emu.save();
      return null;
    },
  });
  r.push({
    method: "GET",
    path: "/cluster/firewall/ipset/{name}",
    schema: () => ({ name: ipsetName }),
    handler: (ctx) => {
      const s = ipset(ctx);
      const d = listDigest(s.entries);
      return s.entries.map((e) => ({ ...e, digest: d }));
    },
  });
  const checkEntry = (emu: Emulator, cidr: string) => {
    if (parseCidr(cidr)?.len === 0) paramError({ cidr: "a zero prefix is not allowed in ipset entries" });
    if (
      !isIP(cidr) &&
      !parseCidr(cidr) &&
      !emu.state.fw.aliases[cidr.replace(/^(dc|guest)\//, "").toLowerCase()]
    )
      paramError({ cidr: `invalid format - value does not look like a valid IP address or CIDR network` });
  };
  r.push({
    method: "POST",
    path: "/cluster/firewall/ipset/{name}",
    schema: () => ({ name: ipsetName, cidr: { type: "string" }, nomatch: bool, comment: optStr() }),
    handler: (ctx) => {
      const s = ipset(ctx);
      const cidr = String(ctx.params.cidr);
      checkEntry(ctx.emu, cidr);
      if (s.entries.some((e) => e.cidr === cidr)) die(`address '${cidr}' already exists`);
      s.entries.push({
        cidr,
        ...(ctx.params.nomatch === 1 ? { nomatch: 1 } : {}),
        ...(ctx.params.comment ? { comment: String(ctx.params.comment) } : {}),
      });
      ctx.emu.save();
      return null;
    },
  });
  const entry = (ctx: Ctx) => {
    const s = ipset(ctx);
    const i = s.entries.findIndex((e) => e.cidr === ctx.params.cidr);
    if (i < 0) die(`no such IP/Network '${ctx.params.cidr}'`);
    return { s, i };
  };
  const entryPath: Schema = { name: ipsetName, cidr: { type: "string" } };
  r.push({
    method: "GET",
    path: "/cluster/firewall/ipset/{name}/{cidr*}",
    schema: () => entryPath,
    handler: (ctx) => (({ s, i }) => ({ ...s.entries[i], digest: listDigest(s.entries) }))(entry(ctx)),
  });
  r.push({
    method: "PUT",
    path: "/cluster/firewall/ipset/{name}/{cidr*}",
    schema: () => ({ ...entryPath, nomatch: bool, comment: optStr(), digest }),
    handler: (ctx) => {
      const { s, i } = entry(ctx);
      checkDigest(listDigest(s.entries), ctx.params.digest);
      const e = { cidr: s.entries[i].cidr } as (typeof s.entries)[number];
      if (ctx.params.nomatch === 1) e.nomatch = 1;
      if (ctx.params.comment) e.comment = String(ctx.params.comment);
      s.entries[i] = e;
      ctx.emu.save();
      return null;
    },
  });
  r.push({
    method: "DELETE",
    path: "/cluster/firewall/ipset/{name}/{cidr*}",
    schema: () => ({ ...entryPath, digest }),
    handler: (ctx) => {
      const { s, i } = entry(ctx);
      checkDigest(listDigest(s.entries), ctx.params.digest);
      s.entries.splice(i, 1);
      ctx.emu.save();
      return null;
    },
  });

  // Aliases (keys are lower-cased; the original spelling is kept as `name`)
  const aliasName: Spec = { type: "string", pattern: NAME, minLength: 2, maxLength: 64 };
  const addr: Spec = {
    type: "string",
    format: (v) =>
      isIP(v) || parseCidr(v) ? undefined : "value does not look like a valid IP address or CIDR network",
  };
  const aliasOf = (ctx: Ctx) => {
    const a = ctx.emu.state.fw.aliases[String(ctx.params.name).toLowerCase()];
    if (!a) die(`no such alias '${ctx.params.name}'`);
    return a;
  };
  r.push({
    method: "GET",
    path: "/cluster/firewall/aliases",
    schema: () => ({}),
    handler: ({ emu }) => {
      const a = emu.state.fw.aliases;
      const d = listDigest(a);
      return Object.keys(a)
        .sort()
        .map((k) => ({ ...a[k], digest: d }));
    },
  });
  r.push({
    method: "POST",
    path: "/cluster/firewall/aliases",
    schema: () => ({ name: aliasName, cidr: addr, comment: optStr() }),
    handler: (ctx) => {
      const key = String(ctx.params.name).toLowerCase();
      if (ctx.emu.state.fw.aliases[key]) die(`alias '${ctx.params.name}' already exists`);
      ctx.emu.state.fw.aliases[key] = {
        name: String(ctx.params.name),
        cidr: String(ctx.params.cidr),
        ...(ctx.params.comment ? { comment: String(ctx.params.comment) } : {}),
      };
      ctx.emu.save();
      return null;
    },
  });
  r.push({
    method: "GET",
    path: "/cluster/firewall/aliases/{name}",
    schema: () => ({ name: aliasName }),
    handler: (ctx) => ({ ...aliasOf(ctx), digest: listDigest(ctx.emu.state.fw.aliases) }),
  });
  r.push({
    method: "PUT",
    path: "/cluster/firewall/aliases/{name}",
    schema: () => ({
      name: aliasName,
      cidr: addr,
      comment: optStr(),
      rename: optStr({ pattern: NAME, minLength: 2, maxLength: 64 }),
      digest,
    }),
    handler: (ctx) => {
      const aliases = ctx.emu.state.fw.aliases;
      checkDigest(listDigest(aliases), ctx.params.digest);
      aliasOf(ctx);
      const oldKey = String(ctx.params.name).toLowerCase();
      const newName = ctx.params.rename === undefined ? aliases[oldKey].name : String(ctx.params.rename);
      if (newName.toLowerCase() !== oldKey && aliases[newName.toLowerCase()])
        die(`alias '${newName}' already exists`);
      delete aliases[oldKey];
      // PUT rewrites the whole entry: an omitted comment is cleared (reference §3.7).
      aliases[newName.toLowerCase()] = {
        name: newName,
        cidr: String(ctx.params.cidr),
        ...(ctx.params.comment ? { comment: String(ctx.params.comment) } : {}),
      };
      ctx.emu.save();
      return null;
    },
  });
  r.push({
    method: "DELETE",
    path: "/cluster/firewall/aliases/{name}",
    schema: () => ({ name: aliasName, digest }),
    handler: (ctx) => {
      checkDigest(listDigest(ctx.emu.state.fw.aliases), ctx.params.digest);
      delete ctx.emu.state.fw.aliases[String(ctx.params.name).toLowerCase()];
      ctx.emu.save();
      return null;
    },
  });

  r.push({
    method: "GET",
    path: "/cluster/firewall/refs",
    schema: () => ({ type: optStr({ enum: ["alias", "ipset"] }) }),
    handler: ({ emu, params }) => {
      const out: Record<string, string>[] = [];
      if (params.type !== "alias") {
        for (const [name, s] of Object.entries(emu.state.fw.ipsets).sort())
          out.push({
            type: "ipset",
            name,
            ref: `+${name}`,
            scope: "dc",
            ...(s.comment ? { comment: s.comment } : {}),
          });
        for (const name of Object.keys(sdnIpsets(emu.state.running)))
          out.push({ type: "ipset", name, ref: `+${name}`, scope: "sdn" });
      }
      if (params.type !== "ipset")
        for (const a of Object.values(emu.state.fw.aliases))
          out.push({
            type: "alias",
            name: a.name,
            ref: a.name,
            scope: "dc",
            ...(a.comment ? { comment: a.comment } : {}),
          });
      return out;
    },
  });
  r.push({
    method: "GET",
    path: "/cluster/firewall/macros",
    schema: () => ({}),
    handler: () => Object.entries(MACROS).map(([macro, descr]) => ({ macro, descr })),
  });
  void PveError;
  return r;
}
