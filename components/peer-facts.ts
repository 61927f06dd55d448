// The other sites' published facts (ADR 003), read from their stacks: input like any other, so parsed here
// before anything uses them. Their public keys go into WireGuard configs on this site's nodes, the sdntest
// address into a ping the check runs (in the lab: a shell on the operator's machine). A value that breaks a
// rule fails the `up` naming the site, the output and the rule, and nothing of that stack is used.
//
// The shapes are exactly what index.ts publishes (docs/outputs.md). An output that is absent is not an error:
// a site that has not run yet has published nothing, and the check reports what waits on it as pending.
import { z } from "zod";
import { fromZod, type Problem } from "../fabric/problems";
import { parseIPv4 } from "../fabric/net";
import { isHost, NODE_NAME } from "../fabric/schema";
import type { PeerFacts } from "./plan";

/** A WireGuard public key as `wg pubkey` prints it: 32 bytes in base64, 44 characters ending in '='. */
export function isWireGuardKey(s: string): boolean {
  return /^[A-Za-z0-9+/]{43}=$/.test(s) && Buffer.from(s, "base64").toString("base64") === s;
}

/** `host:port`: a DNS name or IP address (IPv6 in brackets or bare, as fabric.yaml allows), a port 1-65535. */
export function isEndpoint(s: string): boolean {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(s) ?? /^(.+):(\d{1,5})$/.exec(s);
  return !!m && isHost(m[1]) && Number(m[2]) >= 1 && Number(m[2]) <= 65535 && String(Number(m[2])) === m[2];
}

const RULES = {
  key: "must be a WireGuard public key: 44 characters of base64 for 32 bytes, ending in '=' (as `wg pubkey` prints it)",
  endpoint: "must be host:port: a DNS name or IP address and a port 1-65535",
  ipv4: "must be an IPv4 address in dotted-quad form",
  node: "must be a PVE node name (a host name: letters, digits, '-')",
};
const wgKey = z.string().refine(isWireGuardKey, { error: RULES.key });
const ipv4 = z.string().refine((s) => parseIPv4(s) !== undefined, { error: RULES.ipv4 });
const nodeName = z.string().regex(NODE_NAME, { error: RULES.node });

/** The `wireguard` output of a site stack. */
export const WireGuardOutputSchema = z.strictObject({
  nodes: z.record(
    nodeName,
    z.strictObject({
      publicKey: wgKey,
      endpoint: z.string().refine(isEndpoint, { error: RULES.endpoint }),
      tunnelAddress: ipv4,
    }),
  ),
  knownPeers: z.array(wgKey),
});

/** The `sdntest` output of a site stack: null when that site runs no sdntest VM. */
export const SdnTestOutputSchema = z
  .strictObject({ vmid: z.int().min(100).max(999999999), node: nodeName, address: ipv4 })
  .nullable();

/** The outputs as a StackReference returns them; undefined: the stack has not published that output. */
export interface RawPeerOutputs {
  wireguard: unknown;
  sdntest: unknown;
}

const PeerOutputsSchema = z.strictObject({
  wireguard: WireGuardOutputSchema.optional(),
  sdntest: SdnTestOutputSchema.optional(),
});

export type PeerFactsResult =
  { ok: true; facts: PeerFacts } | { ok: false; problems: Problem[]; message: string };

function describe(v: unknown): string {
  if (v === undefined) return "(missing)";
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * Parses what `site`'s stack (`stack`, its StackReference name) published, as read on site `here`. On a
 * problem, `message` is the user-facing error: every broken value with its output path and rule, and the fix.
 */
export function readPeerFacts(
  site: string,
  stack: string,
  here: string,
  raw: RawPeerOutputs,
): PeerFactsResult {
  const present = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
  const parsed = PeerOutputsSchema.safeParse(present);
  if (parsed.success) {
    const { wireguard, sdntest } = parsed.data;
    return {
      ok: true,
      facts: { ...(wireguard ? { wireguard } : {}), ...(sdntest !== undefined ? { sdntest } : {}) },
    };
  }
  const problems = fromZod(parsed.error.issues, "", present).map((p) => ({
    ...p,
    fix: `run \`pulumi up -s ${site}\` with this version of pve-fabric, which publishes it again`,
  }));
  const lines = [
    `Unable to read the published facts of site '${site}' on ${here}: ${problems.length} value` +
      `${problems.length === 1 ? "" : "s"} in the outputs of stack ${stack} break` +
      `${problems.length === 1 ? "s its rule" : " their rules"}, so nothing from that stack is used:`,
    ...problems.flatMap((p, i) => [`  ${i + 1}. ${p.path} = ${describe(p.value)}`, `     rule: ${p.rule}`]),
    `Fix: these outputs are written by \`pulumi up -s ${site}\`: run it with this version of pve-fabric to ` +
      `publish them again, and check that pve-fabric-site:stackReference names ${site}'s stack (ADR 003).`,
  ];
  return { ok: false, problems, message: lines.join("\n") };
}
