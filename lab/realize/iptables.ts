// PVE's SDN post-up/post-down commands call `iptables`/`ip6tables` (SNAT and the fwbr conntrack-zone rule,
// reference/pve-sdn-realization.md §1.3). The lab has nftables but no iptables binary, so each command is
// translated into the nft command that iptables-nft would run: same tables (`ip nat`, `ip raw`), same base
// chains, append/insert/delete with the same semantics, including the quirk that every reload appends the
// rule again (the seed saw 4 identical SNAT rules). Only the forms PVE generates are understood; anything
// else is refused, never dropped.
import { q } from "../host";

export class UntranslatableError extends Error {}

/** Shell-like word splitting for the single-quoted words PVE writes (`-s '10.1.1.0/24'`). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) words.push(m[1] ?? m[2] ?? m[3]);
  return words;
}

const CHAINS: Record<string, Record<string, string>> = {
  nat: { POSTROUTING: "type nat hook postrouting priority srcnat; policy accept;" },
  raw: { PREROUTING: "type filter hook prerouting priority raw; policy accept;" },
};

/**
 * One iptables/ip6tables command line → shell lines running the nft equivalent. Deleting finds the first
 * rule with the same text by handle, as `iptables -D` removes the first match; a missing rule fails like
 * iptables does ("Bad rule").
 */
export function iptablesToNft(line: string): string[] {
  const w = shellWords(line);
  const family = w[0] === "iptables" ? "ip" : w[0] === "ip6tables" ? "ip6" : undefined;
  const refuse = (why: string): never => {
    throw new UntranslatableError(
      `cannot translate '${line}' to nftables: ${why}. The lab understands the iptables forms PVE's SDN ` +
        `generates (-t nat -A/-D POSTROUTING ... -j SNAT --to-source, -t raw -I/-D PREROUTING -i ... -j CT --zone)`,
    );
  };
  if (!family) return refuse("not an iptables command");
  let table = "filter";
  let op: string | undefined;
  let chain: string | undefined;
  const match: string[] = [];
  let target: string | undefined;
  for (let i = 1; i < w.length; i++) {
    const a = w[i];
    const v = () => w[++i] ?? refuse(`${a} needs a value`);
    if (a === "-t") table = v();
    else if (a === "-A" || a === "-I" || a === "-D") [op, chain] = [a, v()];
    else if (a === "-s") match.push(`${family} saddr ${v()}`);
    else if (a === "-d") match.push(`${family} daddr ${v()}`);
    else if (a === "-i") match.push(`iifname ${JSON.stringify(v().replace(/\+$/, "*"))}`);
    else if (a === "-o") match.push(`oifname ${JSON.stringify(v().replace(/\+$/, "*"))}`);
    else if (a === "-j") {
      const j = v();
      if (j === "SNAT") {
        if (w[i + 1] !== "--to-source") refuse("SNAT without --to-source");
        i++;
        target = `snat to ${v()}`;
      } else if (j === "CT") {
        if (w[i + 1] !== "--zone") refuse("CT without --zone");
        i++;
        target = `ct zone set ${v()}`;
      } else if (j === "MASQUERADE") target = "masquerade";
      else refuse(`target ${j}`);
    } else refuse(`option ${a}`);
  }
  if (!op || !chain || !target) return refuse("no -A/-I/-D <chain> or no -j target");
  const spec = CHAINS[table]?.[chain];
  if (!spec) return refuse(`chain ${table}/${chain}`);
  const rule = [...match, target].join(" ");
  const setup = [
    `nft add table ${family} ${table}`,
    `nft ${q(`add chain ${family} ${table} ${chain} { ${spec} }`)}`,
  ];
  if (op === "-A") return [...setup, `nft ${q(`add rule ${family} ${table} ${chain} ${rule}`)}`];
  if (op === "-I") return [...setup, `nft ${q(`insert rule ${family} ${table} ${chain} ${rule}`)}`];
  // -D: the handle of the first rule whose text (without counters) is exactly ours.
  const find =
    `nft -a list chain ${family} ${table} ${chain} 2>/dev/null | ` +
    `sed -n ${q(`s/^[[:space:]]*${sedEscape(rule)} # handle \\([0-9]*\\)$/\\1/p`)} | head -n 1`;
  return [
    `h=$(${find})`,
    `if [ -n "$h" ]; then nft delete rule ${family} ${table} ${chain} handle "$h"; ` +
      `else echo ${q(`iptables: Bad rule (does a matching rule exist in that chain?): ${line}`)} >&2; false; fi`,
  ];
}

function sedEscape(s: string): string {
  return s.replace(/[\\/.*[\]^$]/g, (c) => `\\${c}`);
}
