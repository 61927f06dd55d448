// The lab's topology and address plan: pure functions from a fabric-like definition to names and
// addresses. No I/O here; lab.ts does the work, tests/lab/plan.test.ts pins the exact output.
import { z } from "zod";

// ---------------------------------------------------------------------------------------------------
// IPv4 arithmetic (the lab is IPv4-only, like the seed fabric)

export interface Cidr {
  network: number; // host order, masked
  prefix: number;
}

export function ipToInt(ip: string): number {
  const parts = ip.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new Error(`'${ip}' is not an IPv4 address`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses "a.b.c.d/n" (or a bare address as /32); host bits are masked off. */
export function parseCidr(text: string): Cidr {
  const [ip, len, extra] = text.split("/");
  const prefix = len === undefined ? 32 : Number(len);
  if (extra !== undefined || !/^[0-9]{1,2}$/.test(len ?? "32") || prefix > 32) {
    throw new Error(`'${text}' is not an IPv4 CIDR (a.b.c.d/n, n 0–32)`);
  }
  return { network: (ipToInt(ip) & maskOf(prefix)) >>> 0, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.network)}/${c.prefix}`;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  return (a.network & maskOf(p)) >>> 0 === (b.network & maskOf(p)) >>> 0;
}

// ---------------------------------------------------------------------------------------------------
// The definition (what a person or the fabric config gives us)

// Names end up in network namespace names; the lab name is the prefix of all of them. Site and node names
// follow the fabric's rules (fabric/schema.ts), so any valid fabric.yaml can be brought up.
const LAB_NAME = /^[a-z][a-z0-9]{0,11}$/;
const SITE_NAME = /^[a-z][a-z0-9-]{1,31}$/;
const NODE_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const LABEL = "[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?";
const HOST_ALIAS = new RegExp(`^${LABEL}(\\.${LABEL})*$`);

function named(re: RegExp, what: string, rule: string, example: string) {
  return z.string().regex(re, {
    error: (iss) =>
      `${JSON.stringify(iss.input)} is not a valid ${what}: ${rule}. Fix: rename it, e.g. '${example}'`,
  });
}

function cidrString(what: string) {
  return z.string().refine(
    (s) => {
      try {
        parseCidr(s);
        return s.includes("/");
      } catch {
        return false;
      }
    },
    {
      error: (iss) =>
        `${JSON.stringify(iss.input)} is not a valid ${what}: write an IPv4 CIDR like 198.18.0.0/16`,
    },
  );
}

export const PVE_VERSIONS = ["9.1", "8.4"] as const;

const nodeNameSchema = named(
  NODE_NAME,
  "node name",
  "a host name label: letters, digits and '-', at most 63 characters",
  "roz1",
);

const SiteDef = z.object({
  name: named(
    SITE_NAME,
    "site name",
    "2–32 characters: lowercase letters, digits and '-', starting with a letter",
    "roz",
  ),
  nodes: z
    .array(
      z.union([
        nodeNameSchema,
        z.object({
          name: nodeNameSchema,
          // More names every lab host's /etc/hosts gives this node (e.g. the fabric's endpoint name).
          aliases: z.array(named(HOST_ALIAS, "host name alias", "a DNS name", "roz.example.net")).default([]),
        }),
      ]),
    )
    .min(1, { error: "a site needs at least one node. Fix: list one, or leave 'nodes' out for the default" })
    .optional(),
  pveVersion: z
    .enum(PVE_VERSIONS, {
      error: (iss) => `${JSON.stringify(iss.input)} is not a supported PVE version: use 9.1 or 8.4`,
    })
    .default("9.1"),
  vmid: z
    .number()
    .int()
    .min(100, { error: "VM ids start at 100 on Proxmox. Fix: use 100–999999999" })
    .max(999999999)
    .default(100),
});

export const LabDefinition = z
  .object({
    name: named(
      LAB_NAME,
      "lab name",
      "1–12 characters, lowercase letters and digits, starting with a letter",
      "lab",
    ).default("lab"),
    base: cidrString("lab base range").optional(),
    // Ranges the fabric itself uses (tunnel and overlay subnets): the lab's "public" addresses must not
    // fall into them, or a host would route its own underlay into the overlay.
    avoid: z.array(cidrString("avoided range")).default(["10.0.0.0/8"]),
    sites: z
      .array(SiteDef)
      .min(2, { error: "a fabric needs at least two sites. Fix: add a site" })
      .max(250, { error: "at most 250 sites fit one lab base range" }),
  })
  .superRefine((def, ctx) => {
    const seen = new Set<string>();
    def.sites.forEach((s, i) => {
      if (seen.has(s.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["sites", i, "name"],
          message: `site name '${s.name}' is used twice. Fix: give every site its own name`,
        });
      }
      seen.add(s.name);
      const nodes = new Set<string>();
      (s.nodes ?? []).map(nodeName).forEach((n, j) => {
        if (n === "vm") {
          ctx.addIssue({
            code: "custom",
            path: ["sites", i, "nodes", j],
            message: "'vm' is reserved for the site's VM stand-in. Fix: pick another node name",
          });
        }
        if (nodes.has(n)) {
          ctx.addIssue({
            code: "custom",
            path: ["sites", i, "nodes", j],
            message: `node name '${n}' appears twice in site '${s.name}'. Fix: name every node of a site differently`,
          });
        }
        nodes.add(n);
      });
      if ((s.nodes?.length ?? 1) > 90) {
        ctx.addIssue({ code: "custom", path: ["sites", i, "nodes"], message: "at most 90 nodes per site" });
      }
    });
  });

function nodeName(n: string | { name: string }): string {
  return typeof n === "string" ? n : n.name;
}

export type LabDefinitionInput = z.input<typeof LabDefinition>;
export type LabDefinitionParsed = z.output<typeof LabDefinition>;

export class LabDefinitionError extends Error {}

/** Validates a definition; every problem is reported with its path, value, rule and fix. */
export function parseDefinition(input: unknown): LabDefinitionParsed {
  const r = LabDefinition.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map(
    (i) => `  - ${i.path.length ? i.path.join(".") : "(definition)"}: ${i.message}`,
  );
  throw new LabDefinitionError(`Invalid lab definition:\n${lines.join("\n")}`);
}

/** The seed's two sites. */
export const DEFAULT_SITES = ["roz", "wro"];

// ---------------------------------------------------------------------------------------------------
// The plan

export interface HostPlan {
  site: string;
  name: string; // node name = hostname
  aliases: string[]; // more names for it in every host's /etc/hosts
  index: number; // 1-based within the site
  netns: string;
  address: string; // public address on vmbr0
  inetIf: string; // this host's uplink veth end inside the internet namespace
}

export interface VmNicPlan {
  name: string; // inside the VM stand-in
  tap: string; // host end, named like Proxmox's tap<vmid>i<n>
  bridge: string | null; // host bridge it is attached to at start, null = left for the SDN/emulator
  address: string | null; // CIDR
}

export interface VmPlan {
  site: string;
  name: "vm";
  vmid: number;
  host: string; // node it runs on
  netns: string;
  nics: VmNicPlan[];
}

export interface SitePlan {
  name: string;
  index: number; // 1-based
  pveVersion: (typeof PVE_VERSIONS)[number];
  subnet: string; // the site's "public" /24 (its LAN behind the internet router)
  gateway: string; // internet router address in that subnet
  inetBridge: string;
  apiHost: string; // node whose namespace runs the API emulator
  hosts: HostPlan[];
  vm: VmPlan;
}

export interface LabPlan {
  name: string;
  base: string;
  inet: { netns: string };
  operator: { netns: string; address: string; subnet: string; gateway: string; inetIf: string };
  sites: SitePlan[];
}

/** Subnets the lab occupies, with what each one is for (used by the collision check and the docs). */
export function claimedRanges(plan: LabPlan): { cidr: string; role: string }[] {
  return [
    { cidr: plan.operator.subnet, role: "operator link" },
    ...plan.sites.map((s) => ({ cidr: s.subnet, role: `site ${s.name} public subnet` })),
  ];
}

const FIRST_HOST = 10; // .10, .11, ... inside a site's /24; .1 is the internet router
const VM_HOST = 100; // the VM stand-in's vmbr0 address

export function buildPlan(def: LabDefinitionParsed, base: string): LabPlan {
  const b = parseCidr(base);
  if (formatCidr(b) !== base) {
    throw new LabDefinitionError(
      `lab base range ${base} has host bits set. Fix: write the network address, ${formatCidr(b)}`,
    );
  }
  const need = def.sites.length + 1;
  if (b.prefix > 24 || 2 ** (24 - b.prefix) < need) {
    throw new LabDefinitionError(
      `lab base range ${base} is too small: it must hold ${need} /24 subnets (one for the operator, one per site). ` +
        `Fix: use a /16, e.g. 198.18.0.0/16`,
    );
  }
  const subnet = (k: number) => b.network + k * 256;
  const ns = (s: string) => `${def.name}-${s}`;
  return {
    name: def.name,
    base: formatCidr(b),
    inet: { netns: ns("inet") },
    operator: {
      netns: ns("operator"),
      subnet: `${intToIp(subnet(0))}/24`,
      gateway: intToIp(subnet(0) + 1),
      address: intToIp(subnet(0) + 2),
      inetIf: "operator",
    },
    sites: def.sites.map((s, i) => {
      const k = i + 1;
      const nodes = (s.nodes ?? [`${s.name}1`]).map((n) =>
        typeof n === "string" ? { name: n, aliases: [] as string[] } : n,
      );
      // Interface names in the internet namespace: Linux allows 15 bytes, so long site names use "s<k>".
      const short = s.name.length <= 10 ? s.name : `s${k}`;
      const hosts = nodes.map((n, j) => ({
        site: s.name,
        name: n.name,
        aliases: n.aliases,
        index: j + 1,
        netns: ns(`${s.name}-${n.name}`),
        address: intToIp(subnet(k) + FIRST_HOST + j),
        inetIf: `${short}-${j + 1}`,
      }));
      return {
        name: s.name,
        index: k,
        pveVersion: s.pveVersion,
        subnet: `${intToIp(subnet(k))}/24`,
        gateway: intToIp(subnet(k) + 1),
        inetBridge: `br-${short}`,
        apiHost: nodes[0].name,
        hosts,
        vm: {
          site: s.name,
          name: "vm",
          vmid: s.vmid,
          host: nodes[0].name,
          netns: ns(`${s.name}-vm`),
          nics: [
            // eth0 is the VM's vnet NIC (the seed's sdntest); the vnet bridge only exists after an SDN apply.
            { name: "eth0", tap: `tap${s.vmid}i0`, bridge: null, address: null },
            {
              name: "eth1",
              tap: `tap${s.vmid}i1`,
              bridge: "vmbr0",
              address: `${intToIp(subnet(k) + VM_HOST)}/24`,
            },
          ],
        },
      };
    }),
  };
}

/** Every network namespace of a lab, in creation order. */
export function namespacesOf(plan: LabPlan): string[] {
  return [
    plan.inet.netns,
    plan.operator.netns,
    ...plan.sites.flatMap((s) => [...s.hosts.map((h) => h.netns), s.vm.netns]),
  ];
}

export function allHosts(plan: LabPlan): HostPlan[] {
  return plan.sites.flatMap((s) => s.hosts);
}

// ---------------------------------------------------------------------------------------------------
// Collisions with the machine's own addresses and routes

export interface MachineNets {
  addrs: { ifname: string; cidr: string }[];
  routes: { dst: string; dev?: string; table?: string }[];
}

/** Reads `ip -j -4 addr` and `ip -j -4 route show table all` output into MachineNets. */
export function machineNetsFromIpJson(addrJson: unknown, routeJson: unknown): MachineNets {
  const addrs: MachineNets["addrs"] = [];
  for (const link of addrJson as {
    ifname: string;
    addr_info?: { family: string; local: string; prefixlen: number }[];
  }[]) {
    for (const a of link.addr_info ?? []) {
      if (a.family === "inet") addrs.push({ ifname: link.ifname, cidr: `${a.local}/${a.prefixlen}` });
    }
  }
  const routes: MachineNets["routes"] = [];
  for (const r of routeJson as { dst: string; dev?: string; table?: string }[]) {
    // The default route covers everything; it says nothing about which ranges are in use.
    if (r.dst === "default" || r.dst === "0.0.0.0/0") continue;
    routes.push({ dst: r.dst, dev: r.dev, table: r.table });
  }
  return { addrs, routes };
}

/** Lab ranges that overlap something in use; empty when the plan is safe. */
export function collisions(
  ranges: { cidr: string; role: string }[],
  machine: MachineNets,
  avoid: string[],
): string[] {
  const out: string[] = [];
  for (const r of ranges) {
    const c = parseCidr(r.cidr);
    for (const a of machine.addrs) {
      if (overlaps(c, parseCidr(a.cidr)))
        out.push(`${r.cidr} (${r.role}) overlaps address ${a.cidr} on ${a.ifname}`);
    }
    for (const rt of machine.routes) {
      if (overlaps(c, parseCidr(rt.dst))) {
        const where = [rt.dev && `dev ${rt.dev}`, rt.table && `table ${rt.table}`].filter(Boolean).join(" ");
        out.push(`${r.cidr} (${r.role}) overlaps route ${rt.dst}${where ? ` ${where}` : ""}`);
      }
    }
    for (const a of avoid) {
      if (overlaps(c, parseCidr(a))) out.push(`${r.cidr} (${r.role}) overlaps ${a}, which the fabric uses`);
    }
  }
  return out;
}

/** Tried in order when no base is given. Benchmarking and CGNAT space first: rarely routed anywhere. */
export const BASE_CANDIDATES = ["198.18.0.0/16", "198.19.0.0/16", "100.127.0.0/16", "172.31.0.0/16"];

/**
 * Picks the base range: the given one if it is free (else a clear refusal), or the first free candidate.
 */
export function chooseBase(def: LabDefinitionParsed, machine: MachineNets): { plan: LabPlan; note?: string } {
  if (def.base) {
    const plan = buildPlan(def, def.base);
    const hits = collisions(claimedRanges(plan), machine, def.avoid);
    if (hits.length) {
      throw new LabDefinitionError(
        `The lab's address plan collides with this machine (base ${def.base}):\n${hits.map((h) => `  - ${h}`).join("\n")}\n` +
          `Fix: pick a free base range (--base <cidr>, a /16), or leave it out and the lab picks one of ${BASE_CANDIDATES.join(", ")}.`,
      );
    }
    return { plan };
  }
  const tried: string[] = [];
  for (const cand of BASE_CANDIDATES) {
    const plan = buildPlan(def, cand);
    const hits = collisions(claimedRanges(plan), machine, def.avoid);
    if (!hits.length) {
      return { plan, note: tried.length ? `base ${cand} (skipped, in use: ${tried.join("; ")})` : undefined };
    }
    tried.push(`${cand}: ${hits[0]}`);
  }
  throw new LabDefinitionError(
    `No free lab base range on this machine:\n${tried.map((t) => `  - ${t}`).join("\n")}\n` +
      `Fix: give a free /16 with --base <cidr>.`,
  );
}
