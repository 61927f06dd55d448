// The fabric model's entry points. Pure: callers read files (scripts/check-config.ts) or Pulumi config
// (index.ts) and pass plain values in.
import { deriveFabric, type Derived } from "./derive";
import {
  checkAddressing,
  checkLocalRouting,
  checkMtu,
  checkSiteCount,
  checkSites,
  checkStackNodes,
  checkUnderlay,
  checkVnis,
} from "./guardrails";
import { addressVerdict, cidrOf, hostCidr, parseIPv4 } from "./net";
import { fromZod, NAMESPACE, type Problem } from "./problems";
import { FabricSchema, SITE_NAME, StackSchema, type FabricConfig, type StackConfig } from "./schema";
import { readSecret, type SecretRef } from "./secrets";

export { deriveFabric, MARKER, type Derived, type DerivedSite, type DerivedNode } from "./derive";
export { formatProblems, NAMESPACE, type Problem } from "./problems";
export { resolveSecret, Secret, type SecretRef } from "./secrets";
export type { FabricConfig, StackConfig } from "./schema";
export { formatPlan } from "./plan";
export { parseYamlText, type ConfigFileKind } from "./yaml";

export type Result<T> = ({ ok: true } & T) | { ok: false; problems: Problem[] };

/** Validates the fabric-wide file alone (every site), e.g. for the lab before it writes stacks. */
export function validateFabric(raw: unknown): Result<{ fabric: FabricConfig; derived: Derived }> {
  const parsed = FabricSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) return { ok: false, problems: fromZod(parsed.error.issues, "", raw) };
  const problems = fabricGuardrails(parsed.data);
  return problems.length
    ? { ok: false, problems }
    : { ok: true, fabric: parsed.data, derived: deriveFabric(parsed.data) };
}

function fabricGuardrails(f: FabricConfig, stack?: StackConfig): Problem[] {
  return [
    ...checkSiteCount(f),
    ...checkLocalRouting(f),
    ...checkMtu(f),
    ...checkVnis(f),
    ...checkSites(f),
    ...checkAddressing(f),
    ...checkUnderlay(f, stack),
  ];
}

export type SshAuth = { readonly kind: "agent" } | { readonly kind: "key"; readonly key: SecretRef };

/** How this stack reaches its own cluster. Secrets stay references (see secrets.ts). */
export interface SiteAccess {
  readonly api: Omit<StackConfig["api"], "tokenSecret"> & { readonly tokenSecret: SecretRef };
  readonly nodes: Readonly<
    Record<string, Omit<StackConfig["nodes"][string], "privateKey" | "agent"> & { readonly auth: SshAuth }>
  >;
}

export interface StackInput {
  /** The stack name; it is the site name (`--stack roz` describes site roz). */
  readonly stack: string;
  /** The fabric-wide file, parsed (fabric.yaml). */
  readonly fabric: unknown;
  /** The stack's `pve-fabric:` config values keyed without the namespace: { api, nodes, fabricFile? }. */
  readonly config: Readonly<Record<string, unknown>>;
}

export interface StackOptions {
  /**
   * Full config keys (`pve-fabric:api`) whose values the engine decrypted: only there is a plain string
   * accepted for a secret field. The config check reads the file itself and passes none.
   */
  readonly decryptedKeys?: Iterable<string>;
}

export interface CheckedStack {
  readonly site: string;
  readonly fabric: FabricConfig;
  readonly access: SiteAccess;
  readonly derived: Derived;
  /** Things that are valid but deserve a look: placeholders, accepted risks. */
  readonly warnings: readonly string[];
}

/** Validates one site stack against the fabric: all problems of both documents at once. */
export function checkStack(input: StackInput, options: StackOptions = {}): Result<CheckedStack> {
  const decrypted = new Set(options.decryptedKeys ?? []);
  const problems: Problem[] = [];
  const { stack } = input;

  if (!SITE_NAME.test(stack)) {
    problems.push({
      path: "sites",
      value: stack,
      rule: "the stack name is the site name: 1-32 lower-case letters, digits or '-', starting with a letter",
      fix: "select a stack named after a site under sites: in the fabric file",
    });
  }

  const f = FabricSchema.safeParse(input.fabric, { reportInput: true });
  if (!f.success) problems.push(...fromZod(f.error.issues, "", input.fabric));
  const s = StackSchema.safeParse(input.config, { reportInput: true });
  if (!s.success) problems.push(...fromZod(s.error.issues, `${NAMESPACE}:`, input.config));

  const secrets = readSecrets(input, decrypted);
  problems.push(...secrets.problems);

  const site = f.success ? f.data.sites[stack] : undefined;
  if (f.success && !site && SITE_NAME.test(stack)) {
    problems.push({
      path: `sites.${stack}`,
      value: undefined,
      rule: `stack ${stack} describes site ${stack}, but the fabric file has no such site (sites: ${Object.keys(f.data.sites).join(", ")})`,
      fix: `add sites.${stack} to the fabric file, or use one of the sites' stacks`,
    });
  }
  if (f.success) problems.push(...fabricGuardrails(f.data, s.success && site ? s.data : undefined));
  if (f.success && s.success && site) problems.push(...checkStackNodes(f.data, stack, s.data));

  if (problems.length || !f.success || !s.success || !secrets.access) return { ok: false, problems };
  const access = secrets.access(s.data);
  return {
    ok: true,
    site: stack,
    fabric: f.data,
    access,
    derived: deriveFabric(f.data),
    warnings: warningsFor(f.data, stack, s.data),
  };
}

/** Reads every secret field straight from the raw config, so secret problems show up even when zod fails. */
function readSecrets(
  input: StackInput,
  decrypted: ReadonlySet<string>,
): { problems: Problem[]; access?: (s: StackConfig) => SiteAccess } {
  const problems: Problem[] = [];
  const raw = input.config;
  const api = isObject(raw.api) ? raw.api : {};
  const token = readSecret(
    api.tokenSecret,
    {
      key: "api",
      configPath: "api.tokenSecret",
      path: `${NAMESPACE}:api.tokenSecret`,
      stack: input.stack,
      what: "the Proxmox API token secret",
    },
    decrypted,
  );
  if ("problem" in token) problems.push(token.problem);

  const auth: Record<string, SshAuth> = {};
  for (const [name, node] of Object.entries(isObject(raw.nodes) ? raw.nodes : {})) {
    if (!isObject(node)) continue; // zod reports the shape
    const path = `${NAMESPACE}:nodes.${name}.privateKey`;
    if (node.agent === true) {
      if (node.privateKey !== undefined) {
        problems.push({
          path,
          value: "[redacted]",
          rule: "give either agent: true or privateKey, not both",
          fix: "remove privateKey to use the SSH agent, or remove agent: true",
        });
      } else auth[name] = { kind: "agent" };
      continue;
    }
    const key = readSecret(
      node.privateKey,
      {
        key: "nodes",
        configPath: `nodes["${name}"].privateKey`,
        path,
        stack: input.stack,
        what: `the SSH private key for node ${name} (or agent: true)`,
      },
      decrypted,
    );
    if ("problem" in key) {
      problems.push(
        node.privateKey === undefined
          ? { ...key.problem, fix: `${key.problem.fix}; or set agent: true to use $SSH_AUTH_SOCK` }
          : key.problem,
      );
    } else auth[name] = { kind: "key", key: key.ref };
  }
  if (problems.length || "problem" in token) return { problems };
  const tokenRef = token.ref;
  return {
    problems,
    access: (s) => ({
      api: { endpoint: s.api.endpoint, tokenId: s.api.tokenId, tls: s.api.tls, tokenSecret: tokenRef },
      nodes: Object.fromEntries(
        Object.entries(s.nodes).map(([name, n]) => [
          name,
          { address: n.address, port: n.port, user: n.user, hostKey: n.hostKey, auth: auth[name] },
        ]),
      ),
    }),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const ZERO_SSH_FINGERPRINT = `SHA256:${"A".repeat(43)}`;
const ZERO_TLS_FINGERPRINT = Array(32).fill("00").join(":");
// RFC 2606 / 6761 names: never a real host, so they mark a value still to be filled in.
const RESERVED_HOST = /(^|\.)(example\.(com|net|org)|example|invalid|test)\.?$/i;

/** What marks a host value as still to be filled in: an RFC 2606 name or an RFC 5737 address. */
function placeholderHost(host: string): string | undefined {
  if (RESERVED_HOST.test(host)) return `a reserved example name (${host})`;
  const a = parseIPv4(host);
  const v = a && addressVerdict(hostCidr(a), "peer");
  return v?.use === "placeholder" ? `a documentation address in ${v.range.text}` : undefined;
}

function warningsFor(f: FabricConfig, site: string, s: StackConfig): string[] {
  const w: string[] = [];
  const placeholder = (path: string, what: string | undefined) => {
    if (what) w.push(`placeholder: ${path} is ${what}; replace it before \`pulumi up -s ${site}\``);
  };
  const publicSpace = (path: string, text: string) => {
    const a = parseIPv4(text);
    if (addressVerdict(a ? hostCidr(a) : cidrOf(text)!, "overlay").use === "public")
      w.push(
        `public address space: ${path} (${text}) is public unicast space; the fabric routes it between its ` +
          "sites instead of to the internet, so use it only if your organisation holds it (else take RFC 1918 space)",
      );
  };
  if (f.zone.exitnodesLocalRouting) {
    w.push(
      `accepted risk: zone.exitnodesLocalRouting is on ("${f.zone.exitnodesLocalRoutingReason}"); expect the conntrack trap of reference §2.7`,
    );
  }
  for (const [name, sf] of Object.entries(f.sites)) {
    sf.nodes.forEach((n, i) => {
      placeholder(`sites.${name}.nodes[${i}].endpoint`, placeholderHost(n.endpoint));
      publicSpace(`sites.${name}.nodes[${i}].tunnelAddress`, n.tunnelAddress);
    });
    for (const [vnet, sub] of Object.entries(sf.subnets))
      publicSpace(`sites.${name}.subnets.${vnet}.cidr`, sub.cidr);
    const exits = sf.nodes.filter((n) => n.exitNode).length;
    if (exits > 0 && exits < sf.nodes.length && Object.keys(f.sites).length > 1) {
      w.push(
        `site ${name}: non-exit nodes pick a default route among every site's exit nodes by BGP tie-break and may leave through another site un-NATed (reference §2.7 mechanism 4); the fabric check's egress <node> row fails on it`,
      );
    }
  }
  placeholder(`${NAMESPACE}:api.endpoint`, placeholderHost(new URL(s.api.endpoint).hostname));
  if (s.api.tls.fingerprint === ZERO_TLS_FINGERPRINT)
    placeholder(`${NAMESPACE}:api.tls.fingerprint`, "the all-zero fingerprint");
  for (const [name, n] of Object.entries(s.nodes)) {
    if (n.hostKey === ZERO_SSH_FINGERPRINT)
      placeholder(`${NAMESPACE}:nodes.${name}.hostKey`, "the all-zero fingerprint");
    placeholder(`${NAMESPACE}:nodes.${name}.address`, placeholderHost(n.address));
  }
  return w;
}

/**
 * Splits a parsed `Pulumi.<stack>.yaml` into this project's config values (namespace stripped). Other
 * namespaces belong to other packages and are left alone.
 */
export function stackConfigFromFile(
  doc: unknown,
  namespace: string = NAMESPACE,
): Result<{ config: Record<string, unknown> }> {
  const cfg = isObject(doc) ? doc.config : undefined;
  if (cfg !== undefined && cfg !== null && !isObject(cfg)) {
    return {
      ok: false,
      problems: [
        {
          path: "config",
          value: cfg,
          rule: "must be a mapping of config keys",
          fix: "use `pulumi config set`",
        },
      ],
    };
  }
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg ?? {})) {
    if (k.startsWith(`${namespace}:`)) config[k.slice(namespace.length + 1)] = v;
  }
  return { ok: true, config };
}
