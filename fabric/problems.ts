// One shape for every config problem (zod's and the guardrails'): where, what was found, the rule, the fix.
import type { core } from "zod";

export interface Problem {
  /** Dotted path; stack-file keys carry the `pve-fabric:` namespace, fabric-file keys do not. */
  readonly path: string;
  /** The offending value as found (secrets are replaced by "[redacted]"); undefined when missing. */
  readonly value: unknown;
  readonly rule: string;
  readonly fix: string;
  /** Set for problems of the file itself (YAML syntax, empty): it names the file, not a stack key. */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
}

export const NAMESPACE = "pve-fabric";
/** The value of a known secret field. */
export const REDACTED = "[redacted]";
/** The value of a key the checker does not know: it may be a secret pasted in the wrong place. */
export const HIDDEN = "[hidden]";
const SECRET_KEYS = new Set(["tokenSecret", "privateKey"]);
// Values that look like secrets are never printed, whatever key they sit under: a private key (PEM or
// OpenSSH) and a PVE API token secret (a UUID).
const SECRET_SHAPES = [/PRIVATE KEY/, /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i];

export function joinPath(prefix: string, segments: readonly PropertyKey[]): string {
  let out = prefix;
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else out += out === "" || out.endsWith(":") ? String(s) : `.${String(s)}`;
  }
  return out;
}

function isSecretPath(segments: readonly PropertyKey[]): boolean {
  return segments.some((s) => typeof s === "string" && SECRET_KEYS.has(s));
}

// Example values shown in the fix of a field-level problem, keyed by the path with names and indices
// replaced by `*` (so `sites.wro.nodes[0].endpoint` finds `sites.*.nodes.*.endpoint`).
const EXAMPLES: Record<string, string> = {
  asn: "asn: 65000 (an integer 1..4294967295, the same on every site)",
  controller: "controller: evpnctl",
  "zone.id": "zone: { id: crossite }",
  "zone.vrfVxlan": "vrfVxlan: 99999 (1..16777215, distinct from every vnet VNI)",
  "zone.exitnodesLocalRoutingReason": "exitnodesLocalRoutingReason: <why you accept the conntrack trap>",
  vnets: "vnets: { crossvnt: { vni: 100000 } }",
  "vnets.*": "vnets: { crossvnt: { vni: 100000 } } (2-8 letters/digits, starting with a letter)",
  "vnets.*.vni": "vni: 100000 (1..16777215)",
  "vnets.*.alias": "alias: cross-site vnet",
  "mtu.underlay": "underlay: 1500 (the MTU of the interface that carries WireGuard)",
  "mtu.overlay": "remove it to derive underlay - 80 - 50, or set at most that",
  "wireguard.interface": "interface: wg0",
  "wireguard.port": "port: 51820",
  "wireguard.keepalive": "keepalive: 25 (seconds; 0 turns it off)",
  "firewall.log": "log: err (one of emerg, alert, crit, err, warning, notice, info, debug, nolog)",
  sites: "sites: { roz: {...}, wro: {...} }",
  "sites.*": "a name like roz or site-2 (the stack is then created with `pulumi stack init <name>`)",
  "sites.*.underlay.*": "underlay: [192.168.0.0/16] (networks the hosts already use)",
  "sites.*.nodes":
    "nodes: [{ name: pve1, tunnelAddress: 10.1.0.1, endpoint: roz.example.net, exitNode: true }]",
  "sites.*.nodes.*.name": "name: pve1 (as `hostname` prints it on the node)",
  "sites.*.nodes.*.tunnelAddress": "tunnelAddress: 10.1.0.1",
  "sites.*.nodes.*.endpoint": "endpoint: roz.example.net (or a public IP)",
  "sites.*.nodes.*.port": "port: 51820",
  "sites.*.subnets": "subnets: { crossvnt: { cidr: 10.1.1.0/24, gateway: 10.1.1.1, snat: true } }",
  "sites.*.subnets.*.cidr": "cidr: 10.1.1.0/24",
  "sites.*.subnets.*.gateway": "gateway: 10.1.1.1",
  "pve-fabric:api":
    "pve-fabric:api: { endpoint: https://pve1.example.net:8006, tokenId: root@pam!pve-fabric, ... }",
  "pve-fabric:api.endpoint": "endpoint: https://pve1.example.net:8006",
  "pve-fabric:api.tokenId": "tokenId: root@pam!pve-fabric (from `pveum user token add root@pam pve-fabric`)",
  "pve-fabric:api.tls": "tls: { fingerprint: <pvenode cert info: fingerprint> } or tls: { ca: <pem> }",
  "pve-fabric:api.tls.fingerprint": "fingerprint: the SHA-256 fingerprint from `pvenode cert info`",
  "pve-fabric:api.tls.ca": "ca: the contents of /etc/pve/pve-root-ca.pem",
  "pve-fabric:nodes": "pve-fabric:nodes: { pve1: { address: 192.0.2.10, hostKey: SHA256:..., agent: true } }",
  "pve-fabric:nodes.*": "a PVE node name as `hostname` prints it",
  "pve-fabric:nodes.*.address": "address: 192.0.2.10 (or a DNS name)",
  "pve-fabric:nodes.*.port": "port: 22",
  "pve-fabric:nodes.*.user": "user: root",
  "pve-fabric:nodes.*.hostKey":
    "hostKey: the output of `ssh-keyscan -t ed25519 <host> | ssh-keygen -lf -` (the SHA256:... part)",
};

function examplePattern(prefix: string, segments: readonly PropertyKey[]): string {
  const out: string[] = [];
  segments.forEach((s, i) => {
    const parent = segments[i - 1];
    const named =
      parent === "sites" || parent === "vnets" || parent === "subnets" || (prefix && parent === "nodes");
    out.push(typeof s === "number" || named ? "*" : String(s));
  });
  return prefix + out.join(".");
}

export function exampleFor(prefix: string, segments: readonly PropertyKey[]): string | undefined {
  return EXAMPLES[examplePattern(prefix, segments)];
}

function describeValue(v: unknown): string {
  if (v === undefined) return "(missing)";
  if (v === REDACTED || v === HIDDEN) return v;
  const s = JSON.stringify(v);
  if (SECRET_SHAPES.some((re) => re.test(s))) return `${HIDDEN} (it looks like a secret)`;
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** Where an unknown key's fix sends a secret, per document (the key prefix). */
function unknownKeyFix(prefix: string): string {
  const docs = prefix === `${NAMESPACE}-site:` ? "docs/guide.md" : "fabric/README.md";
  const spelling = `remove it or correct its spelling (${docs} lists every key)`;
  if (prefix === "")
    return (
      `${spelling}. The fabric file holds no secrets: if this is one, delete it here, rotate it, and set it ` +
      "in Pulumi.<site>.yaml with `pulumi config set --secret --path ...`"
    );
  return `${spelling}. If it is a secret, store it under its own key with \`pulumi config set --secret --path ...\``;
}

/**
 * Maps zod issues to problems. `prefix` is "" for the fabric file and "pve-fabric:" (or another namespace
 * of the stack file) for stack config; `fallbackFix` gives the fix of a key without an example.
 */
export function fromZod(
  issues: readonly core.$ZodIssue[],
  prefix: string,
  root: unknown,
  fallbackFix: (path: string) => string = () => "see fabric/README.md for this key",
): Problem[] {
  return issues.flatMap((issue): Problem[] => {
    const segs = issue.path;
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((k) => ({
        path: joinPath(prefix, [...segs, k]),
        value: HIDDEN,
        rule: `unknown key '${k}' (its value is not shown: it may be a secret typed in the wrong place)`,
        fix: unknownKeyFix(prefix),
      }));
    }
    // A record-key problem is about the key itself: show the key, not the object under it.
    const value = issue.code === "invalid_key" ? segs.at(-1) : lookup(root, segs);
    const missing = value === undefined && issue.code === "invalid_type";
    const rule =
      issue.code === "invalid_key"
        ? (issue.issues[0]?.message ?? issue.message)
        : missing
          ? "is required"
          : issue.message.replace(/^Invalid input: /, "");
    const example = exampleFor(prefix, segs);
    // A custom rule may carry its own fix (schema.ts `usableIn`, `hostKeySchema`).
    const own = issue.code === "custom" ? (issue.params?.fix as string | undefined) : undefined;
    const path = joinPath(prefix, segs);
    return [
      {
        path,
        value: isSecretPath(segs) ? REDACTED : value,
        rule,
        fix: own ?? (example ? `set it like this: ${example}` : fallbackFix(path)),
      },
    ];
  });
}

function lookup(root: unknown, segs: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const s of segs) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[s];
  }
  return v;
}

/** Human-readable list of all problems, numbered, one block per problem. */
export function formatProblems(
  problems: readonly Problem[],
  files?: { fabric?: string; stack?: string },
): string {
  const where = (p: Problem) =>
    p.path.startsWith(`${NAMESPACE}:`) || p.path.startsWith(`${NAMESPACE}-site:`)
      ? (files?.stack ?? "stack config")
      : (files?.fabric ?? "fabric config");
  const lines = [
    `${problems.length} problem${problems.length === 1 ? "" : "s"} in the fabric configuration:`,
  ];
  problems.forEach((p, i) => {
    if (p.file !== undefined) {
      const at = p.line === undefined ? "" : `, line ${p.line}, column ${p.column ?? 1}`;
      lines.push(`  ${i + 1}. ${p.path === p.file ? `${p.file}${at}` : `${p.path}   (${p.file}${at})`}`);
    } else lines.push(`  ${i + 1}. ${p.path} = ${describeValue(p.value)}   (${where(p)})`);
    lines.push(`     rule: ${p.rule}`);
    lines.push(`     fix:  ${p.fix}`);
  });
  return lines.join("\n");
}
