// IPv4 for the whole project: the fabric model, the program settings and the providers' own input checks.
// Parsing, containment and the special-purpose ranges come from ipaddr.js; this module fixes our strictness
// (dotted quads without leading zeros or shorthand, `a.b.c.d/n` CIDRs) and gives each range a name for
// messages. The one piece of arithmetic ipaddr.js lacks, an address plus an offset, is `offset()`.
import ipaddr from "ipaddr.js";

export type IPv4 = ipaddr.IPv4;

export interface Cidr {
  readonly network: IPv4;
  readonly prefix: number;
}

/** Dotted-quad IPv4; undefined for anything else (no leading zeros, no `10.1`, no `0x0a.0.0.1`). */
export function parseIPv4(text: string): IPv4 | undefined {
  return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text) : undefined;
}

export function isIPv4(text: string): boolean {
  return parseIPv4(text) !== undefined;
}

/** `a.b.c.d/n`: the address as written (host bits kept, so the caller can refuse them) and its network. */
export function parseCidr(text: string): { address: IPv4; prefix: number; network: IPv4 } | undefined {
  const m = /^([^/]+)\/(0|[1-9][0-9]?)$/.exec(text);
  const address = m ? parseIPv4(m[1]) : undefined;
  const prefix = Number(m?.[2]);
  if (!address || prefix > 32) return undefined;
  return { address, prefix, network: ipaddr.IPv4.networkAddressFromCIDR(text) };
}

/** The canonical CIDR of `text` (host bits cleared); undefined when it is not a CIDR. */
export function cidrOf(text: string): Cidr | undefined {
  const c = parseCidr(text);
  return c && { network: c.network, prefix: c.prefix };
}

export function cidrText(c: Cidr): string {
  return `${c.network.toString()}/${c.prefix}`;
}

/** The address alone as a /32. */
export function hostCidr(address: IPv4): Cidr {
  return { network: address, prefix: 32 };
}

/** A /32 prints as the bare address, anything else as a CIDR. */
export function rangeText(c: Cidr): string {
  return c.prefix === 32 ? c.network.toString() : cidrText(c);
}

export function sameAddress(a: IPv4, b: IPv4): boolean {
  return a.match(b, 32);
}

/** Orders two addresses: negative, 0 or positive (octet by octet, as numbers). */
export function compareIPv4(a: IPv4, b: IPv4): number {
  const i = a.octets.findIndex((o, k) => o !== b.octets[k]);
  return i < 0 ? 0 : a.octets[i] - b.octets[i];
}

export function cidrContains(c: Cidr, address: IPv4): boolean {
  return address.match(c.network, c.prefix);
}

/** Two CIDRs overlap exactly when the shorter prefix contains the other's network. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const [outer, inner] = a.prefix <= b.prefix ? [a, b] : [b, a];
  return cidrContains(outer, inner.network);
}

/** The highest address of a CIDR (its broadcast address). */
export function lastAddress(c: Cidr): IPv4 {
  return ipaddr.IPv4.broadcastAddressFromCIDR(cidrText(c));
}

/** `address + n`; undefined when that leaves the IPv4 space. */
export function offset(address: IPv4, n: number): IPv4 | undefined {
  const v = address.octets.reduce((acc, o) => acc * 256 + o, 0) + n;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) return undefined;
  return new ipaddr.IPv4([24, 16, 8, 0].map((shift) => Math.floor(v / 2 ** shift) % 256));
}

// ---- special-purpose ranges ----------------------------------------------------------------------------
// The ranges are ipaddr.js's (IANA's special-purpose registry, RFC 6890 and successors); we only name them.
// A range a newer ipaddr.js adds shows with the library's name until it gets one here (a unit test lists
// every range without a name).

/** What a special-purpose range is for; `tag` drives the per-role policy below. */
export interface SpecialRange {
  readonly cidr: Cidr;
  /** ipaddr.js's class: private, carrierGradeNat, linkLocal, reserved, ... */
  readonly kind: string;
  readonly tag: RangeTag;
  /** For messages: "169.254.0.0/16 (link-local, RFC 3927)". */
  readonly text: string;
}

export type RangeTag =
  | "this-network"
  | "broadcast"
  | "multicast"
  | "link-local"
  | "loopback"
  | "shared"
  | "private"
  | "protocol"
  | "documentation"
  | "relay"
  | "benchmarking"
  | "future"
  | "anycast"
  | "unnamed";

const NAMES: Record<string, [RangeTag, string]> = {
  "0.0.0.0/8": ["this-network", '"this network", RFC 791'],
  "255.255.255.255/32": ["broadcast", "limited broadcast, RFC 919"],
  "224.0.0.0/4": ["multicast", "multicast, RFC 5771"],
  "169.254.0.0/16": ["link-local", "link-local, RFC 3927"],
  "127.0.0.0/8": ["loopback", "loopback, RFC 1122"],
  "100.64.0.0/10": ["shared", "shared address space for carrier-grade NAT, RFC 6598"],
  "10.0.0.0/8": ["private", "private, RFC 1918"],
  "172.16.0.0/12": ["private", "private, RFC 1918"],
  "192.168.0.0/16": ["private", "private, RFC 1918"],
  "192.0.0.0/24": ["protocol", "IETF protocol assignments, RFC 6890"],
  "192.0.2.0/24": ["documentation", "documentation TEST-NET-1, RFC 5737"],
  "198.51.100.0/24": ["documentation", "documentation TEST-NET-2, RFC 5737"],
  "203.0.113.0/24": ["documentation", "documentation TEST-NET-3, RFC 5737"],
  "192.88.99.0/24": ["relay", "6to4 relay anycast, RFC 7526"],
  "198.18.0.0/15": ["benchmarking", "benchmarking, RFC 2544"],
  "240.0.0.0/4": ["future", "reserved for future use, RFC 1112"],
  "192.175.48.0/24": ["anycast", "AS112 DNS anycast, RFC 7534"],
  "192.31.196.0/24": ["anycast", "AS112 DNS anycast, RFC 7535"],
  "192.52.193.0/24": ["anycast", "AMT relay anycast, RFC 7450"],
};

type RangeList = Record<string, [IPv4, number] | [IPv4, number][]>;

/** Every IPv4 special-purpose range ipaddr.js knows (its `range()` classifies by this table). */
export const SPECIAL_RANGES: readonly SpecialRange[] = Object.entries(
  (ipaddr.IPv4.prototype as unknown as { SpecialRanges: RangeList }).SpecialRanges,
).flatMap(([kind, list]) =>
  (Array.isArray(list[0]) ? (list as [IPv4, number][]) : [list as [IPv4, number]]).map(
    ([network, prefix]) => {
      const cidr = { network, prefix };
      const [tag, name] = NAMES[cidrText(cidr)] ?? ["unnamed", kind];
      return { cidr, kind, tag, text: `${cidrText(cidr)} (${name})` };
    },
  ),
);

/** The special-purpose ranges a CIDR (or a /32 address) overlaps, most specific first; [] for plain unicast. */
export function specialRangesOf(c: Cidr): SpecialRange[] {
  return SPECIAL_RANGES.filter((r) => cidrsOverlap(r.cidr, c)).sort((a, b) => b.cidr.prefix - a.cidr.prefix);
}

/**
 * Where an address is used decides which ranges are fine:
 * - `overlay`: tunnel addresses (VTEPs, EVPN peers), vnet subnets and gateways. Routed between sites inside
 *   the fabric, so only space a private network may route: RFC 1918, 100.64.0.0/10, or public space you hold.
 * - `peer`: a WireGuard endpoint given as an IP, dialled by the other sites over their uplinks: anything
 *   routable between sites, including 198.18.0.0/15 (benchmarking: the lab's underlay); a documentation
 *   address is a placeholder, like an example.net name.
 * - `local`: how this stack reaches its own hosts (SSH address, API endpoint) and the networks the hosts
 *   already use (`underlay`): a port forward on loopback or a link-local cable are fine; only addresses
 *   that can never name one host are refused.
 */
export type AddressRole = "overlay" | "peer" | "local";

export type Verdict =
  | { readonly use: "ok" }
  | { readonly use: "public" }
  | { readonly use: "placeholder"; readonly range: SpecialRange }
  | { readonly use: "refused"; readonly range: SpecialRange };

const ALLOWED: Record<AddressRole, readonly RangeTag[]> = {
  overlay: ["private", "shared"],
  peer: ["private", "shared", "benchmarking"],
  local: [
    "private",
    "shared",
    "benchmarking",
    "loopback",
    "link-local",
    "protocol",
    "relay",
    "anycast",
    "unnamed",
  ],
};

/** Whether a CIDR (or /32 address) is usable in `role`, and if not, the range that is in the way. */
export function addressVerdict(c: Cidr, role: AddressRole): Verdict {
  const ranges = specialRangesOf(c);
  const refused = ranges.find((r) => r.tag !== "documentation" && !ALLOWED[role].includes(r.tag));
  if (refused) return { use: "refused", range: refused };
  const doc = ranges.find((r) => r.tag === "documentation");
  if (doc) return role === "overlay" ? { use: "refused", range: doc } : { use: "placeholder", range: doc };
  // A range partly in public space (100.0.0.0/8 covers 100.64.0.0/10) is public too.
  const covered = ranges.some((r) => r.cidr.prefix <= c.prefix);
  return role === "overlay" && !covered ? { use: "public" } : { use: "ok" };
}
