// IPv4 arithmetic for the guardrails: addresses as unsigned 32-bit integers, CIDRs as (network, prefix).
// Hand-rolled because the checks need containment and overlap, which zod's format validators do not offer.

export interface Cidr {
  /** network address as an unsigned 32-bit integer */
  readonly network: number;
  readonly prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$/;

/** Dotted-quad IPv4 to an unsigned integer; undefined for anything else (no leading zeros, no shorthand). */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIPv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** `a.b.c.d/n`; host bits are kept as given so the caller can refuse a non-canonical network. */
export function parseCidr(text: string): { address: number; prefix: number } | undefined {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
  if (!m) return undefined;
  const address = parseIPv4(m[1]);
  const prefix = Number(m[2]);
  if (address === undefined || prefix > 32 || String(prefix) !== m[2]) return undefined;
  return { address, prefix };
}

export function networkOf(address: number, prefix: number): number {
  return (address & maskOf(prefix)) >>> 0;
}

export function cidrText(c: Cidr): string {
  return `${formatIPv4(c.network)}/${c.prefix}`;
}

export function cidrContains(c: Cidr, address: number): boolean {
  return networkOf(address, c.prefix) === c.network;
}

/** Two CIDRs overlap exactly when the shorter prefix contains the other's network. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const outer = a.prefix <= b.prefix ? a : b;
  const inner = outer === a ? b : a;
  return cidrContains(outer, inner.network);
}

export function hostCidr(address: number): Cidr {
  return { network: address, prefix: 32 };
}

/** Broadcast address of a CIDR (the highest address in it). */
export function lastAddress(c: Cidr): number {
  return (c.network | ~maskOf(c.prefix)) >>> 0;
}
