// The node's /etc/network/interfaces as PVE's own parser (pve-common PVE::Network::Interfaces,
// `__read_etc_network_interfaces`) sees it — only the parts SDN generation reads: per interface the
// IPv4/IPv6 address, netmask and gateway, and mtu. Quirks kept on purpose because they change what PVE
// generates:
// - a later `address` line replaces an earlier one (no list), so only the last IPv4 address counts;
// - a stanza ends at the first blank line or option-less line, and at iface/auto/source/allow-* lines;
// - in a stanza without a family (`iface x`), an address containing ':' is the IPv6 one.
import { cidrContains, isIPv6 } from "./ip";

export interface NetIface {
  name: string;
  address?: string; // IPv4 (or whatever the inet stanza says), without the prefix
  netmask?: string; // prefix length when the address was written as a CIDR
  address6?: string;
  netmask6?: string;
  gateway?: string;
  gateway6?: string;
  mtu?: string;
}

/** Interfaces in file order (Map keeps insertion order). */
export type NetIfaces = Map<string, NetIface>;

const STANZA_END = /^\s*(?:(?:iface|mapping|auto|source|source-directory)\s|allow-)/;

export function parseInterfaces(text: string): NetIfaces {
  const ifaces: NetIfaces = new Map();
  const lines = text.split(/\r?\n/);
  let i = 0;
  while (i < lines.length) {
    const stanza = /^\s*iface\s+(\S+)(?:\s+(inet6?)\s+(\S+))?\s*$/.exec(lines[i]);
    i++;
    if (!stanza) continue; // auto/allow-*/comments/top-level options: nothing SDN reads
    const name = stanza[1];
    const suffix = stanza[2] === undefined ? undefined : stanza[2] === "inet6" ? "6" : "";
    const d = ifaces.get(name) ?? { name };
    ifaces.set(name, d);
    for (; i < lines.length; i++) {
      const line = lines[i].replace(/\s+$/, "");
      if (/^\s*#/.test(line)) continue;
      if (STANZA_END.test(line)) break;
      const opt = /^\s*(\S+)\s+(.+)$/.exec(line);
      if (!opt) break; // blank line: the stanza is over
      const [, id, value] = opt;
      if (id === "address" || id === "netmask" || id === "gateway") {
        const key =
          suffix !== undefined ? id + suffix : id !== "netmask" && value.includes(":") ? `${id}6` : id;
        (d as unknown as Record<string, string>)[key] = value;
      } else if (id === "mtu" || id === "ovs_mtu") {
        d.mtu = value;
      }
    }
  }
  // Like PVE: split "a.b.c.d/n" into address + netmask.
  for (const d of ifaces.values()) {
    for (const [a, m] of [
      ["address", "netmask"],
      ["address6", "netmask6"],
    ] as const) {
      const v = d[a];
      if (v && v.includes("/")) {
        const [addr, mask] = v.split("/", 2);
        d[a] = addr;
        d[m] = mask;
      }
    }
  }
  return ifaces;
}

/** What `ip route get <target>` answers: the source address and the outgoing device (either may be absent). */
export interface RouteAnswer {
  src?: string;
  dev?: string;
}
export type RouteLookup = (target: string) => RouteAnswer | undefined;

/**
 * A model of `ip route get` built from the static file alone: a connected subnet of the target's family
 * wins (longest prefix), otherwise the interface holding a gateway of that family. No match means "network
 * unreachable", as on a real node without that route (PVE then omits e.g. the SNAT rule, silently).
 */
export function routeLookupFromInterfaces(ifaces: NetIfaces): RouteLookup {
  return (target) => {
    const v6 = isIPv6(target);
    let best: { len: number; iface: NetIface } | undefined;
    for (const d of ifaces.values()) {
      const addr = v6 ? d.address6 : d.address;
      const mask = Number(v6 ? d.netmask6 : d.netmask);
      if (!addr || !Number.isInteger(mask)) continue;
      if (cidrContains(addr, mask, target) && (!best || mask > best.len)) best = { len: mask, iface: d };
    }
    const hit = best?.iface ?? [...ifaces.values()].find((d) => (v6 ? d.gateway6 : d.gateway));
    if (!hit) return undefined;
    return { src: v6 ? hit.address6 : hit.address, dev: hit.name };
  };
}

/**
 * The route lookup of PVE's own test harness (pve-network `src/test/run_test_zones.pl` mocks
 * `get_local_route_ip`): every target leaves by `dev` with that interface's IPv4 address as source,
 * whatever the target's family. The conformance fixtures were produced this way — which is why their IPv6
 * SNAT rule carries an IPv4 source.
 */
export function routeLookupVia(ifaces: NetIfaces, dev: string): RouteLookup {
  return () => ({ src: ifaces.get(dev)?.address, dev });
}
