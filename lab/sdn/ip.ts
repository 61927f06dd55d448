// Address arithmetic the generator needs: family tests, integer value (PVE sorts null routes by
// Net::IP's `intip`) and CIDR containment (our model of `ip route get` picks the connected interface).
import { isIPv4, isIPv6 } from "node:net";

export { isIPv4, isIPv6 };

/** The address as an unsigned integer (IPv4: 32 bits, IPv6: 128 bits); undefined if not an address. */
export function ipToBigInt(ip: string): bigint | undefined {
  if (isIPv4(ip)) return ip.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  if (!isIPv6(ip)) return undefined;
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two 16-bit groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = ipToBigInt(v4[1]) as bigint;
    text = text.slice(0, -v4[1].length) + `${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const groups =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** Whether `ip` lies inside `network/prefix` (same family only). */
export function cidrContains(network: string, prefix: number, ip: string): boolean {
  if (isIPv4(network) !== isIPv4(ip)) return false;
  const bits = isIPv4(network) ? 32 : 128;
  const a = ipToBigInt(network);
  const b = ipToBigInt(ip);
  if (a === undefined || b === undefined || prefix < 0 || prefix > bits) return false;
  const shift = BigInt(bits - prefix);
  return a >> shift === b >> shift;
}
