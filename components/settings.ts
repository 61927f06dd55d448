// Per-stack program settings that are not part of the fabric model (ADR 003): where the sdntest VM sits and
// how the fabric check reaches it, which addresses must keep SSH/API through the cluster firewall, how strict
// the check is. They live under their own config namespace, `pve-fabric-site:`, so the model's stack schema
// (fabric/schema.ts, strict) stays the interface it is. Pure: index.ts passes the raw values in.
import { z } from "zod";
import type { Problem } from "../fabric";
import { isIPv4, parseCidr } from "../fabric/net";
import { fromZod } from "../fabric/problems";
import { hostKeySchema, isHost, usableIn } from "../fabric/schema";

export const SITE_NAMESPACE = "pve-fabric-site";

// `outside` is dialled from the sdntest through SNAT: it must be routable beyond the site (the lab's
// "internet" is in 198.18.0.0/15, which the peer role allows).
const outside = z
  .string()
  .refine(isIPv4, { error: "must be an IPv4 address" })
  .superRefine(usableIn("peer", "1.1.1.1"));
const addressOrCidr = z
  .string()
  .refine((s) => isIPv4(s) || parseCidr(s) !== undefined, { error: "must be an IPv4 address or CIDR" })
  .superRefine(usableIn("local", "203.0.113.5"));

/** How the fabric check runs commands inside the sdntest VM. */
// One of two ways, as one object (not a union) so that a bad field is reported at its own path.
const ProbeSchema = z
  .strictObject({
    // The lab: the VM stand-in is a network namespace on the machine that runs `pulumi up`.
    netns: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, { error: "must be a netns name" })
      .optional(),
    // A real VM: SSH to its management NIC (eth1 on vmbr0), host key pinned.
    ssh: z
      .strictObject({
        host: z.string().refine(isHost, { error: "must be a DNS name or an IP address" }),
        port: z.int().min(1).max(65535).default(22),
        user: z.string().default("root"),
        hostKey: hostKeySchema,
        privateKeyEnv: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "must be an environment variable name" }),
      })
      .optional(),
  })
  .superRefine((p, ctx) => {
    if ((p.netns === undefined) === (p.ssh === undefined))
      ctx.addIssue({
        code: "custom",
        message: "give exactly one of netns (the lab's VM stand-in) or ssh (a real VM)",
      });
  })
  .transform((p): { netns: string } | { ssh: NonNullable<typeof p.ssh> } =>
    p.ssh ? { ssh: p.ssh } : { netns: p.netns as string },
  );

export const SiteSettingsSchema = z.strictObject({
  /** How another site's stack is named for a StackReference; {site} is replaced. Default <org>/<project>/{site}. */
  stackReference: z
    .string()
    .regex(/\{site\}/, { error: "must contain {site}, e.g. acme/pve-fabric/{site}" })
    .optional(),
  /** Where SSH (22) and the API (8006) are reached from: kept open by a cluster IN rule and the preflight. */
  operatorSources: z.array(addressOrCidr).default([]),
  sdntest: z
    .strictObject({
      enabled: z.boolean().default(true),
      vmid: z.int().min(100).max(999999999).default(123),
      /** Default: the site's first exit node (else its first node). */
      node: z.string().optional(),
      /** On the vnet, with prefix. Default: the subnet's gateway + 10 (10.1.1.1 → 10.1.1.11/24). */
      address: z.string().optional(),
      mgmtBridge: z.string().default("vmbr0"),
      mgmtAddress: z.string().default("dhcp"),
      memory: z.int().min(16).default(512),
      cores: z.int().min(1).default(1),
      disk: z.string().optional(),
      cloudInitStorage: z.string().optional(),
      probe: ProbeSchema.optional(),
    })
    .prefault({}),
  check: z
    .strictObject({
      /** false: record the results but never fail the update (bringing up a cluster by steps). */
      enforce: z.boolean().default(true),
      /** A handshake older than this counts as down (WireGuard re-handshakes every 2 minutes under traffic). */
      handshakeMaxAgeSeconds: z.int().min(1).default(180),
      /** After an update, failing checks are re-run until they pass or this many seconds are up. */
      settleSeconds: z.int().min(0).max(3600).default(60),
      /** An address outside the fabric the sdntest must reach through SNAT. */
      outside: outside.optional(),
    })
    .prefault({}),
  firewall: z
    .strictObject({
      /** Fabric rule keys to leave out (e.g. to watch the check diagnose a missing FORWARD rule). */
      omitRules: z.array(z.string()).default([]),
    })
    .prefault({}),
});

export type SiteSettings = z.infer<typeof SiteSettingsSchema>;

/** Parses `pve-fabric-site:` values (namespace stripped); problems name the full key, value, rule and fix. */
export function parseSiteSettings(
  raw: Readonly<Record<string, unknown>>,
): { ok: true; settings: SiteSettings } | { ok: false; problems: Problem[] } {
  const r = SiteSettingsSchema.safeParse(raw);
  if (r.success) return { ok: true, settings: r.data };
  return {
    ok: false,
    problems: fromZod(
      r.error.issues,
      `${SITE_NAMESPACE}:`,
      raw,
      (path) => `set it with \`pulumi config set --path '${path}' <value>\` (keys: docs/guide.md)`,
    ),
  };
}
