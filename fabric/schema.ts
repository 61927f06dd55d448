// The two config documents and their field-level rules (zod). Cross-field rules (overlaps, uniqueness,
// MTU, local routing) live in guardrails.ts; secrets are checked in secrets.ts, never by zod, so that no
// zod message can ever echo a secret value.
import { z } from "zod";
import { parseHostKey } from "./hostkey";
import {
  addressVerdict,
  cidrOf,
  cidrText,
  hostCidr,
  isIPv4,
  parseCidr,
  parseIPv4,
  sameAddress,
  type AddressRole,
} from "./net";

// PVE identifier rules (reference/pve-api.md §2.2): zone and vnet ids end up in Linux interface names
// (`vrfvx_<zone>`, `xvrfp_<zone>`, the vnet bridge) and must fit in 15 characters.
export const SDN_ID = /^[a-zA-Z][a-zA-Z0-9]{1,7}$/;
export const CONTROLLER_ID = /^[a-zA-Z][a-zA-Z0-9_-]{0,62}[a-zA-Z0-9]$/;
// Stricter than Pulumi's own stack-name rule ([A-Za-z0-9_.-]{1,100}): the site name is also a file name
// (Pulumi.<site>.yaml), part of PVE aliases and comments, and lower case keeps stacks apart on
// case-insensitive file systems.
export const SITE_NAME = /^[a-z][a-z0-9-]{0,31}$/;
// PVE node names are host names (one DNS label).
export const NODE_NAME = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const HOST_LABEL = /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/;
const IFNAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,14}$/;
const TOKEN_ID = /^[^\s@!]+@[^\s@!]+![a-zA-Z][a-zA-Z0-9._-]*$/;
const TLS_FINGERPRINT = /^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/;
const VNET_ALIAS = /^[()\-_.\w\s]{0,256}$/;
const VNI_MAX = 16777215;

/** A DNS name or an IP literal (IPv4, or IPv6 without brackets). */
export function isHost(text: string): boolean {
  if (isIPv4(text)) return true;
  if (text.includes(":")) return z.ipv6().safeParse(text).success;
  const labels = text.replace(/\.$/, "").split(".");
  // An all-numeric last label is a mistyped IPv4 address, never a DNS name.
  return text.length <= 253 && labels.every((l) => HOST_LABEL.test(l)) && !/^[0-9]+$/.test(labels.at(-1)!);
}

const ipv4 = z.string().refine(isIPv4, { error: "must be an IPv4 address in dotted-quad form" });
const host = z.string().refine(isHost, { error: "must be a DNS name or an IP address" });
const port = z.int().min(1).max(65535);
const vni = z.int().min(1).max(VNI_MAX);

// Why each role refuses special-purpose ranges (net.ts decides which), and the fix, per role.
const ROLE_RULE: Record<AddressRole, { rule: string; fix: string }> = {
  overlay: {
    rule:
      "tunnel addresses, overlay subnets and gateways must be unicast space the fabric may route between " +
      "sites: RFC 1918 (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16), 100.64.0.0/10, or public space you hold",
    fix: "take it from 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10",
  },
  peer: {
    rule: "a WireGuard endpoint is the address the other sites send their packets to, so it must be a unicast address they can route to",
    fix: "use the node's public (or inter-site) address, or a DNS name",
  },
  local: {
    rule: "it must name one host or network (a unicast range)",
    fix: "use the address the hosts really have",
  },
};

/** A zod refinement refusing addresses (or CIDRs) in special-purpose ranges not usable in `role`. */
export function usableIn(role: AddressRole, example: string) {
  return (text: string, ctx: z.RefinementCtx) => {
    const a = parseIPv4(text);
    const c = a ? hostCidr(a) : cidrOf(text);
    if (!c) return; // a DNS name, or the format rule reports it
    const v = addressVerdict(c, role);
    if (v.use !== "refused") return;
    const { rule, fix } = ROLE_RULE[role];
    ctx.addIssue({
      code: "custom",
      message: `${a ? "is in" : "overlaps"} ${v.range.text}, a special-purpose range: ${rule}`,
      params: { fix: `${fix}, e.g. ${example}` },
    });
  };
}

const anyCidr = z.string().superRefine((s, ctx) => {
  const c = parseCidr(s);
  if (!c) ctx.addIssue({ code: "custom", message: "must be an IPv4 CIDR like 192.168.0.0/16" });
  else if (!sameAddress(c.network, c.address))
    ctx.addIssue({
      code: "custom",
      message: `has host bits set: the network is ${cidrText(c)}`,
    });
});
// PVE accepts IPv4 subnet prefixes 8..32 (pve-api.md §2.7); /31 and /32 leave no room for a gateway and a VM.
const subnetCidr = anyCidr
  .superRefine((s, ctx) => {
    const c = parseCidr(s);
    if (c && (c.prefix < 8 || c.prefix > 30))
      ctx.addIssue({
        code: "custom",
        message: "prefix must be between /8 and /30 (PVE allows /8../32; a VM subnet needs room)",
      });
  })
  .superRefine(usableIn("overlay", "10.1.1.0/24"));

const sdnId = (what: string) =>
  z.string().regex(SDN_ID, {
    error: `${what} ids must be 2-8 letters/digits starting with a letter (PVE uses them in 15-character interface names)`,
  });

export const NodeSchema = z.strictObject({
  name: z
    .string()
    .regex(NODE_NAME, { error: "must be the PVE node name (a host name: letters, digits, '-')" }),
  tunnelAddress: ipv4.superRefine(usableIn("overlay", "10.1.0.1")),
  endpoint: host.superRefine(usableIn("peer", "roz.example.net")),
  port: port.optional(),
  exitNode: z.boolean().default(false),
});

export const SubnetSchema = z.strictObject({
  cidr: subnetCidr,
  gateway: ipv4.superRefine(usableIn("overlay", "10.1.1.1")),
  snat: z.boolean().default(false),
});

export const SiteSchema = z.strictObject({
  underlay: z.array(anyCidr.superRefine(usableIn("local", "192.168.0.0/16"))).default([]),
  nodes: z.array(NodeSchema).min(1, { error: "a site needs at least one node" }),
  subnets: z.record(z.string(), SubnetSchema).refine((r) => Object.keys(r).length > 0, {
    error: "a site needs at least one subnet (keyed by vnet id)",
  }),
});

export const FabricSchema = z.strictObject({
  asn: z.int().min(1).max(4294967295),
  controller: z.string().regex(CONTROLLER_ID, {
    error: "controller ids must be 2-64 letters, digits, '-' or '_', starting with a letter",
  }),
  zone: z.strictObject({
    id: sdnId("zone"),
    vrfVxlan: vni,
    advertiseSubnets: z.boolean().default(true),
    disableArpNdSuppression: z.boolean().default(false),
    exitnodesLocalRouting: z.boolean().default(false),
    exitnodesLocalRoutingReason: z.string().trim().min(1).optional(),
  }),
  vnets: z
    .record(
      sdnId("vnet"),
      z.strictObject({
        vni,
        alias: z
          .string()
          .regex(VNET_ALIAS, { error: "PVE aliases allow letters, digits, spaces and ()-_." })
          .optional(),
      }),
    )
    .refine((r) => Object.keys(r).length > 0, { error: "the fabric needs at least one vnet" }),
  mtu: z
    .strictObject({
      underlay: z.int().min(1280).max(65535).default(1500),
      overlay: z.int().min(576).optional(),
    })
    .prefault({}),
  wireguard: z
    .strictObject({
      interface: z
        .string()
        .regex(IFNAME, { error: "must be a Linux interface name (at most 15 characters)" })
        .default("wg0"),
      port: port.default(51820),
      keepalive: z.int().min(0).max(65535).default(25),
    })
    .prefault({}),
  firewall: z
    .strictObject({
      enable: z.boolean().default(true),
      nftables: z.boolean().default(true),
      log: z
        .enum(["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog"])
        .default("nolog"),
    })
    .prefault({}),
  sites: z.record(
    z.string().regex(SITE_NAME, {
      error:
        "site names must be 1-32 lower-case letters, digits or '-', starting with a letter (the name is the stack name)",
    }),
    SiteSchema,
  ),
});

/** A pinned SSH host key, the fingerprint or the public-key line; parses to the `SHA256:` fingerprint. */
export const hostKeySchema = z.string().transform((text, ctx) => {
  const k = parseHostKey(text);
  if (k.ok) return k.fingerprint;
  ctx.addIssue({
    code: "custom",
    message: `${k.reason}`,
    params: {
      fix:
        "paste the host's public key line (`cat /etc/ssh/ssh_host_ed25519_key.pub` on its console) or its " +
        "fingerprint (`ssh-keyscan -t ed25519 <host> | ssh-keygen -lf -`, the SHA256:... part)",
    },
  });
  return z.NEVER;
});

export const SshSchema = z.strictObject({
  address: host.superRefine(usableIn("local", "192.168.3.2")),
  port: port.default(22),
  user: z
    .string()
    .regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "must be a Unix user name" })
    .default("root"),
  hostKey: hostKeySchema,
  // Validated in secrets.ts (shape, plain text, presence).
  privateKey: z.unknown().optional(),
  agent: z.boolean().default(false),
});

export const StackSchema = z.strictObject({
  fabricFile: z.string().min(1).optional(),
  api: z.strictObject({
    endpoint: z
      .url({ protocol: /^https$/, error: "must be an https:// URL (pveproxy serves HTTPS only, port 8006)" })
      .refine((u) => isHost(new URL(u).hostname.replace(/^\[|\]$/g, "")), { error: "must name a host" })
      .superRefine((u, ctx) => usableIn("local", "https://192.168.3.2:8006")(new URL(u).hostname, ctx)),
    tokenId: z.string().regex(TOKEN_ID, { error: "must be an API token id: user@realm!tokenname" }),
    tokenSecret: z.unknown().optional(),
    tls: z
      .strictObject({
        fingerprint: z
          .string()
          .regex(TLS_FINGERPRINT, { error: "must be a SHA-256 fingerprint: 32 hex byte pairs joined by ':'" })
          .optional(),
        ca: z
          .string()
          .regex(/-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/, {
            error: "must be a PEM certificate",
          })
          .optional(),
      })
      .refine((t) => (t.fingerprint === undefined) !== (t.ca === undefined), {
        error:
          "pin exactly one of `fingerprint` (the node certificate) or `ca` (the cluster CA, /etc/pve/pve-root-ca.pem)",
      }),
  }),
  nodes: z.record(z.string().regex(NODE_NAME, { error: "must be a PVE node name" }), SshSchema),
});

export type FabricConfig = z.infer<typeof FabricSchema>;
export type SiteConfig = z.infer<typeof SiteSchema>;
export type NodeConfig = z.infer<typeof NodeSchema>;
export type StackConfig = z.infer<typeof StackSchema>;
