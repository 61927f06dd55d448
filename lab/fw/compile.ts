// The firewall compiler: the emulator's firewall state + one node → the nftables ruleset that node runs, as a
// `nft -f` script that replaces the lab's firewall tables (and only those) in one transaction. Pure.
//
// Which backend runs (reference §3.1; proxmox-firewall config.rs `is_enabled`):
//   cluster enable=0                 → off: our tables are removed
//   node nftables=1, cluster enable=1 → proxmox-firewall: table `inet proxmox-firewall` with its chain layout
//                                       (firewall.rs, resources/proxmox-firewall.nft), forward and vnet rules
//   node nftables=0, cluster enabled → pve-firewall (iptables) stands in as `inet pve-firewall`: the same IN/OUT
//                                       evaluation, no forward or vnet rules (ignored there, as on PVE), and its
//                                       FORWARD prelude (ct state invalid drop, established/related accept)
// Deviations from proxmox-firewall are listed in lab/README.md ("Firewall realisation").
import { FirewallCompileError, logLimit, resolver, type FirewallView, type Resolver } from "./model";
import { logLevel, logStatement, ruleLines, verdict, type Direction } from "./rules";
import type { Rule } from "../pve/state";

export interface CompileInput {
  fw: FirewallView;
  node: string;
  /** The emulated PVE release ("9.1", "8.4"): decides how unscoped ipset/alias names are treated. */
  pveVersion: string;
  /**
   * The node's local networks: the CIDR of every interface address that holds the node's own address
   * (what proxmox-firewall's management_ips() finds). Ignored when the cluster has a `local_network` alias.
   */
  localNetwork: string[];
  /** Extra management sources the lab grants (its operator lives on a routed subnet, see the README). */
  extraManagement?: string[];
  /** Now, in epoch seconds (the pve-firewall 60 s `enable` probe). */
  now: number;
}

export type Backend = "off" | "nftables" | "iptables";

export interface Compiled {
  backend: Backend;
  /** `nft -f` input: removes our tables and re-creates the ones this state needs, atomically. */
  script: string;
  /** Epoch seconds at which the result changes on its own (the end of an `enable` probe): compile again. */
  recompileAt?: number;
}

/** Every table the lab's firewall realisation owns; nothing else in a host's ruleset is touched. */
export const OWN_TABLES = ["inet proxmox-firewall", "bridge proxmox-firewall-guests", "inet pve-firewall"];

const NFT_TABLE = "proxmox-firewall";
const IPT_TABLE = "pve-firewall";

const num = (v: unknown, dflt: number) => (v === undefined ? dflt : Number(v));

export function compileFirewall(input: CompileInput): Compiled {
  const { fw, node } = input;
  const nodeOpts = fw.nodes[node]?.options ?? {};
  const clusterOpts = fw.cluster.options;
  const enable = num(clusterOpts.enable, 0);
  const nftables = num(nodeOpts.nftables, 0) === 1;
  let backend: Backend;
  let recompileAt: number | undefined;
  if (nftables) {
    // proxmox-firewall reads cluster.fw options as Perl-style booleans from text: the probe's epoch is not
    // one ("a boolean-like value"), so parsing cluster.fw fails and no update happens at all.
    if (enable > 1)
      throw new FirewallCompileError(
        "cluster options",
        "enable",
        String(enable),
        "proxmox-firewall (nftables=1) accepts only 0/1 here; the 60 s probe value (an epoch) makes cluster.fw unparsable and the update fails",
        "set enable=1 once SSH and the API are known to stay reachable",
      );
    backend = enable === 1 ? "nftables" : "off";
  } else if (enable === 1) backend = "iptables";
  else if (enable > 1 && input.now < enable + 60) {
    backend = "iptables";
    recompileAt = enable + 60;
  } else backend = "off";

  const out: string[] = [`# pve-fabric lab firewall for node ${node}: ${describe(backend)}`];
  for (const t of OWN_TABLES) out.push(`add table ${t}`, `delete table ${t}`);
  if (backend !== "off") {
    const res = resolver(fw, input.pveVersion, logLimit(clusterOpts.log_ratelimit));
    out.push(...table(input, backend, res));
  }
  return { backend, script: out.join("\n") + "\n", ...(recompileAt ? { recompileAt } : {}) };
}

function describe(b: Backend): string {
  if (b === "off") return "firewall disabled (cluster enable=0)";
  if (b === "nftables") return "proxmox-firewall (nftables backend)";
  return "pve-firewall (iptables backend) stand-in: no forward or vnet rules";
}

class Block {
  readonly lines: string[] = [];
  chain(name: string, body: string[], hook?: string) {
    this.lines.push(`  chain ${name} {`);
    if (hook) this.lines.push(`    ${hook}`);
    for (const l of body) this.lines.push(`    ${l}`);
    this.lines.push("  }");
  }
  set(name: string, type: string, elements: string[]) {
    this.lines.push(`  set ${name} {`, `    type ${type}`, "    flags interval", "    auto-merge");
    if (elements.length > 0) this.lines.push(`    elements = { ${elements.join(", ")} }`);
    this.lines.push("  }");
  }
  map(name: string, type: string, elements: string[]) {
    this.lines.push(`  map ${name} {`, `    type ${type}`);
    if (elements.length > 0) this.lines.push(`    elements = { ${elements.join(", ")} }`);
    this.lines.push("  }");
  }
}

/** An ipset as the two nft interval sets per family proxmox-firewall makes (`v4-<name>`, `v4-<name>-nomatch`). */
function ipset(b: Block, name: string, entries: { cidr: string; nomatch?: number }[], res: Resolver) {
  for (const fam of [4, 6] as const) {
    const match: string[] = [];
    const nomatch: string[] = [];
    for (const e of entries) {
      // Entries may name an alias (cluster ipsets only).
      const addr = /[.:]/.test(e.cidr) ? e.cidr : res.aliasRef(e.cidr, `ipset ${name}`, "cidr");
      if (addr.includes(":") !== (fam === 6)) continue;
      (e.nomatch ? nomatch : match).push(addr);
    }
    const type = fam === 4 ? "ipv4_addr" : "ipv6_addr";
    b.set(`v${fam}-${name}`, type, match);
    b.set(`v${fam}-${name}-nomatch`, type, nomatch);
  }
}

function table(input: CompileInput, backend: Backend, res: Resolver): string[] {
  const { fw, node } = input;
  const nodeScope = fw.nodes[node] ?? { options: {}, rules: [] };
  const o = nodeScope.options;
  const hostEnabled = num(o.enable, 1) === 1;
  const nft = backend === "nftables";
  const vnets = nft
    ? Object.keys(fw.vnets)
        .sort()
        .filter((v) => num(fw.vnets[v].options.enable, 0) === 1)
    : [];
  // proxmox-firewall removes the host table when the node's firewall is off; vnet chains still run (their
  // bridge-family table in PVE, this table's translated hook in the lab).
  if (!hostEnabled && vnets.length === 0) return [];
  const b = new Block();

  for (const [name, entries] of Object.entries(fw.sdnIpsets).sort()) ipset(b, `sdn/${name}`, entries, res);
  for (const name of Object.keys(fw.ipsets).sort())
    if (name !== "management") ipset(b, `dc/${name}`, fw.ipsets[name].entries, res);

  // Chains any rule may jump to, whichever parts follow.
  b.chain("do-reject", [
    "meta pkttype broadcast drop",
    "ip saddr 224.0.0.0/4 drop",
    "meta l4proto tcp reject with tcp reset",
    "meta l4proto { icmp, ipv6-icmp } reject with icmpx type port-unreachable",
    "reject with icmp type host-prohibited",
    "reject with icmpv6 type admin-prohibited",
    "drop",
  ]);
  b.chain("invalid-conntrack", invalidConntrack(o));

  const dirs: Direction[] = nft ? ["in", "out", "forward"] : ["in", "out"];
  for (const g of Object.keys(fw.groups).sort())
    for (const dir of dirs) {
      const chain = `group-${g}-${dir}`;
      const body = fw.groups[g].rules.flatMap((r, i) =>
        ruleLines(r, { chain, dir, where: `security group '${g}' rule ${i}`, res }),
      );
      b.chain(chain, body);
    }

  if (hostEnabled) hostChains(b, input, backend, res);

  if (vnets.length > 0) {
    const bridgeMap: string[] = [];
    const bridgedMap: string[] = [];
    for (const v of vnets) {
      const scope = fw.vnets[v];
      const chain = `bridge-${v}`;
      const policy = String(scope.options.policy_forward ?? "ACCEPT");
      const body = ["jump before-bridge"];
      scope.rules.forEach((r, i) =>
        body.push(...ruleLines(r, { chain, dir: "forward", where: `vnet '${v}' rule ${i}`, res })),
      );
      const level = logLevel(scope.options.log_level_forward);
      if (level !== undefined) body.push(logStatement(res, chain, level, policy).join(" "));
      body.push(verdict(policy));
      b.chain(chain, body);
      if (hostEnabled) bridgeMap.push(`"${v}" : jump ${chain}`);
      bridgedMap.push(`"${v}" . "${v}" : jump ${chain}`);
    }
    b.chain("before-bridge", [
      "meta protocol arp accept",
      "meta protocol != arp ct state vmap { established : accept, related : accept, invalid : jump invalid-conntrack }",
    ]);
    if (hostEnabled) {
      // Traffic between a vnet and the host itself (e.g. to the anycast gateway) meets the vnet's rules first.
      b.map("bridge-map", "ifname : verdict", bridgeMap);
      b.chain(
        "host-bridge-input",
        ["meta iifname vmap @bridge-map"],
        "type filter hook input priority filter - 1; policy accept;",
      );
      b.chain(
        "host-bridge-output",
        ["meta oifname vmap @bridge-map"],
        "type filter hook output priority filter + 1; policy accept;",
      );
    }
    // Lab translation of proxmox-firewall's bridge-family `forward` hook (`meta ibrname . meta obrname vmap`):
    // this kernel has no nft_meta_bridge, so bridged frames are caught where br_netfilter
    // (bridge-nf-call-iptables=1) shows them to the inet forward hook, with the vnet bridge as both
    // interfaces. ARP and non-IP frames are not filtered here (before-bridge accepts ARP anyway).
    b.map("lab-bridged-map", "ifname . ifname : verdict", bridgedMap);
    b.chain(
      "lab-bridged-forward",
      ["iifname . oifname vmap @lab-bridged-map"],
      "type filter hook forward priority filter - 1; policy accept;",
    );
  }

  const name = nft ? NFT_TABLE : IPT_TABLE;
  return [`table inet ${name} {`, ...b.lines, "}"];
}

function invalidConntrack(o: Record<string, unknown>): string[] {
  return num(o.nf_conntrack_allow_invalid, 0) === 1 ? [] : ["drop"];
}

function hostChains(b: Block, input: CompileInput, backend: Backend, res: Resolver) {
  const { fw, node } = input;
  const scope = fw.nodes[node] ?? { options: {}, rules: [] };
  const o = scope.options;
  const nft = backend === "nftables";

  // management = the cluster's `management` ipset + local_network (the alias if set, else the node's own
  // networks) (+ the lab's operator, see README). SSH/API/VNC/spice from these are accepted before any rule.
  const local = fw.aliases["local_network"];
  const mgmt = [
    ...(fw.ipsets.management?.entries ?? []),
    ...(local ? [local.cidr] : input.localNetwork).map((cidr) => ({ cidr })),
    ...(input.extraManagement ?? []).map((cidr) => ({ cidr })),
  ];
  ipset(b, "dc/management", mgmt, res);

  b.chain("accept-management", [
    "ip saddr @v4-dc/management ip saddr != @v4-dc/management-nomatch accept",
    "ip6 saddr @v6-dc/management ip6 saddr != @v6-dc/management-nomatch accept",
  ]);
  b.chain("allow-icmp", [
    "icmp type { destination-unreachable, source-quench, time-exceeded } accept",
    "icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem } accept",
  ]);
  const ndpIn =
    "icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-router-advert, nd-neighbor-advert, nd-redirect }";
  const ndpOut = "icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert }";
  b.chain("allow-ndp-in", [`${ndpIn} accept`]);
  b.chain("block-ndp-in", [`${ndpIn} drop`]);
  b.chain("allow-ndp-out", [`${ndpOut} accept`]);
  b.chain("block-ndp-out", [`${ndpOut} drop`]);
  const optLog = (chain: string, value: unknown) => {
    const level = logLevel(value);
    return level === undefined ? [] : [logStatement(res, chain, level, "DROP").join(" ")];
  };
  b.chain("log-smurfs", optLog("log-smurfs", o.smurf_log_level));
  b.chain("log-drop-smurfs", ["jump log-smurfs", "drop"]);
  b.chain("block-smurfs", [
    "ip saddr 0.0.0.0/32 return",
    "meta pkttype broadcast goto log-drop-smurfs",
    "ip saddr 224.0.0.0/4 goto log-drop-smurfs",
  ]);
  b.chain("log-invalid-tcp", optLog("log-invalid-tcp", o.tcp_flags_log_level));
  b.chain("log-drop-invalid-tcp", ["jump log-invalid-tcp", "drop"]);
  const flags = "tcp flags & (fin|syn|rst|psh|ack|urg)";
  b.chain("block-invalid-tcp", [
    `${flags} == fin|psh|urg goto log-drop-invalid-tcp`,
    `${flags} == 0x0 goto log-drop-invalid-tcp`,
    "tcp flags & (syn|rst) == syn|rst goto log-drop-invalid-tcp",
    "tcp flags & (fin|syn) == fin|syn goto log-drop-invalid-tcp",
    "tcp sport 0 tcp flags & (fin|syn|rst|ack) == syn goto log-drop-invalid-tcp",
  ]);
  b.chain("ct-in", []);

  const ndp = num(o.ndp, 1) === 1 ? "allow" : "block";
  const optionIn = [`jump ${ndp}-ndp-in`];
  if (num(o.protection_synflood, 0) === 1) {
    const rate = num(o.protection_synflood_rate, 200);
    const burst = num(o.protection_synflood_burst, 1000);
    for (const fam of [4, 6])
      b.lines.push(
        `  set v${fam}-synflood-limit {`,
        `    type ipv${fam}_addr`,
        "    timeout 60s",
        "    flags dynamic",
        "  }",
      );
    b.chain("ratelimit-synflood", [
      `update @v4-synflood-limit { ip saddr limit rate over ${rate}/second burst ${burst} packets } drop`,
      `update @v6-synflood-limit { ip6 saddr limit rate over ${rate}/second burst ${burst} packets } drop`,
    ]);
    b.chain("block-synflood", [
      "tcp flags & (fin|syn|rst|ack) != syn return",
      "jump ratelimit-synflood",
      "drop",
    ]);
    optionIn.push("jump block-synflood");
  }
  if (num(o.tcpflags, 0) === 1) optionIn.push("jump block-invalid-tcp");
  if (num(o.nosmurfs, 1) === 1) optionIn.push("jump block-smurfs");
  b.chain("option-in", optionIn);
  b.chain("option-out", [`jump ${ndp}-ndp-out`]);

  const ct = "ct state vmap { invalid : jump invalid-conntrack, established : accept, related : accept }";
  b.chain("default-in", [
    'iifname "lo" accept',
    "jump allow-icmp",
    ct,
    "meta l4proto igmp accept",
    "tcp dport { 22, 3128, 5900-5999, 8006 } jump accept-management",
    "udp dport 5405-5412 accept",
    "udp dport { 135, 137-139, 445 } goto do-reject",
    "udp sport 137 udp dport 1024-65535 goto do-reject",
    "tcp dport { 135, 139, 445 } goto do-reject",
    "udp dport 1900 drop",
    "udp sport 53 drop",
  ]);
  b.chain("default-out", ['oifname "lo" accept', "jump allow-icmp", ct]);

  const dirs: Direction[] = nft ? ["in", "out", "forward"] : ["in", "out"];
  const levels: Record<Direction, unknown> = {
    in: o.log_level_in,
    out: o.log_level_out,
    forward: o.log_level_forward,
  };
  const policies: Record<Direction, string> = {
    in: String(fw.cluster.options.policy_in ?? "DROP"),
    out: String(fw.cluster.options.policy_out ?? "ACCEPT"),
    forward: String(fw.cluster.options.policy_forward ?? "ACCEPT"),
  };
  for (const dir of dirs) {
    const rulesOf = (scope: string, rules: Rule[], chain: string) =>
      rules.flatMap((r, i) => ruleLines(r, { chain, dir, where: `${scope} rule ${i}`, res }));
    b.chain(`host-${dir}`, rulesOf(`node '${node}'`, scope.rules, `host-${dir}`));
    const chain = `cluster-${dir}`;
    const body = rulesOf("cluster", fw.cluster.rules, chain);
    // The cluster chain ends with the node's log level for the direction and the cluster policy.
    const level = logLevel(levels[dir]);
    if (level !== undefined) body.push(logStatement(res, chain, level, policies[dir]).join(" "));
    body.push(verdict(policies[dir]));
    b.chain(chain, body);
  }

  const hook = (h: string) => `type filter hook ${h} priority filter; policy accept;`;
  b.chain(
    "input",
    ["jump default-in", "jump ct-in", "jump option-in", "jump host-in", "jump cluster-in"],
    hook("input"),
  );
  b.chain(
    "output",
    ["jump default-out", "jump option-out", "jump host-out", "jump cluster-out"],
    hook("output"),
  );
  if (nft)
    b.chain(
      "forward",
      [
        "ct state vmap { established : accept, related : accept, invalid : jump invalid-conntrack }",
        "jump host-forward",
        "jump cluster-forward",
      ],
      hook("forward"),
    );
  // pve-firewall's PVEFW-FORWARD: conntrack only; its forward rules are never compiled.
  else
    b.chain(
      "forward",
      [
        ...(invalidConntrack(o).length ? ["ct state invalid drop"] : []),
        "ct state { established, related } accept",
      ],
      hook("forward"),
    );
}
