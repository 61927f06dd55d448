// The pve-fabric program: one stack per site (`pulumi up -s roz`). It reads the fabric model (fabric.yaml +
// this stack's `pve-fabric:` config, ADR 002) and this stack's program settings (`pve-fabric-site:`), learns
// the other sites' public facts from their stacks (ADR 003), and builds the Site component. Outputs: see
// docs/outputs.md.
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import {
  checkStack,
  formatProblems,
  NAMESPACE,
  parseYamlText,
  resolveSecret,
  type SecretRef,
} from "./fabric";
import type { ConnectionArgs } from "./providers/host/resources";
import type { Probe } from "./providers/check/provider";
import { readPeerFacts } from "./components/peer-facts";
import type { PeerFacts } from "./components/plan";
import { parseSiteSettings, SITE_NAMESPACE } from "./components/settings";
import { Site } from "./components/site";

// Which config keys the engine decrypted: the SDK knows (PULUMI_CONFIG_SECRET_KEYS) but marks the reader
// internal; checkStack needs it to tell a decrypted secret from a secret typed in plain text.
const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(k: string): boolean };

const site = pulumi.getStack();

/** The values of one config namespace (objects are stored as JSON text), and the keys the engine decrypted. */
function namespace(ns: string): { values: Record<string, unknown>; secret: string[] } {
  const values: Record<string, unknown> = {};
  const secret: string[] = [];
  for (const [key, text] of Object.entries(pulumi.runtime.allConfig())) {
    if (!key.startsWith(`${ns}:`)) continue;
    let v: unknown = text;
    try {
      v = JSON.parse(text);
    } catch {
      // a plain string value
    }
    values[key.slice(ns.length + 1)] = v;
    if (isConfigSecret(key)) secret.push(key);
  }
  return { values, secret };
}

function fail(message: string): never {
  // A config error is the user's to fix: no stack trace, just the problems.
  throw new pulumi.RunError(message);
}

const own = namespace(NAMESPACE);
const fabricFile = path.resolve(String(own.values.fabricFile ?? "fabric.yaml"));
if (!fs.existsSync(fabricFile))
  fail(
    `the fabric file ${fabricFile} does not exist; set ${NAMESPACE}:fabricFile or add fabric.yaml (ADR 002)`,
  );
const fabricDoc = parseYamlText(fs.readFileSync(fabricFile, "utf8"), fabricFile, "fabric");
if (!fabricDoc.ok) fail(formatProblems(fabricDoc.problems));
const checked = checkStack(
  { stack: site, fabric: fabricDoc.value, config: own.values },
  { decryptedKeys: own.secret },
);
if (!checked.ok) fail(formatProblems(checked.problems, { fabric: fabricFile, stack: `Pulumi.${site}.yaml` }));
for (const w of checked.warnings) pulumi.log.warn(w);
const parsedSettings = parseSiteSettings(namespace(SITE_NAMESPACE).values);
if (!parsedSettings.ok) fail(formatProblems(parsedSettings.problems, { stack: `Pulumi.${site}.yaml` }));
const settings = parsedSettings.settings;

function secret(ref: SecretRef, what: string): pulumi.Output<string> {
  const v = resolveSecret(ref, process.env);
  if (!v) {
    fail(
      ref.kind === "env"
        ? `${what} is read from the environment variable ${ref.name}, which is unset or empty in this \`pulumi up\`; export it`
        : `${what} could not be decrypted; check the stack's secrets provider / passphrase`,
    );
  }
  return pulumi.secret(v.reveal());
}

const { access, derived } = checked;
const tls = access.api.tls;
const api = {
  url: access.api.endpoint,
  tokenId: access.api.tokenId,
  tokenSecret: secret(access.api.tokenSecret, `${NAMESPACE}:api.tokenSecret`),
  ...(tls.fingerprint ? { fingerprint: tls.fingerprint } : { caPem: tls.ca }),
  site,
};
const connections: Record<string, pulumi.Input<ConnectionArgs>> = Object.fromEntries(
  Object.entries(access.nodes).map(([node, n]) => [
    node,
    {
      host: n.address,
      port: n.port,
      user: n.user,
      hostKey: n.hostKey,
      ...(n.auth.kind === "key"
        ? { privateKey: secret(n.auth.key, `${NAMESPACE}:nodes.${node}.privateKey`) }
        : {}),
    },
  ]),
);

// The other sites' public facts, from their stacks (ADR 003). A multi-node site also reads its own last
// outputs: its nodes peer with each other, and a key is only known once its interface exists.
const refName = (s: string) =>
  (settings.stackReference ?? `${pulumi.getOrganization()}/${pulumi.getProject()}/{site}`).replace(
    "{site}",
    s,
  );
// Every value is parsed (components/peer-facts.ts) before anything uses it: a malformed one fails the `up`
// naming the site, the output and the rule, and never reaches a node, a file or the API.
const factSites = Object.keys(derived.sites).filter((s) => s !== site || derived.sites[s].nodes.length > 1);
const facts: pulumi.Output<Record<string, PeerFacts | undefined>> = pulumi
  .all(
    factSites.map((s) => {
      const ref = new pulumi.StackReference(`site-${s}`, { name: refName(s) });
      return pulumi
        .all([ref.getOutput("wireguard"), ref.getOutput("sdntest")])
        .apply(([wireguard, sdntest]) => {
          const read = readPeerFacts(s, refName(s), site, { wireguard, sdntest });
          return read.ok ? ([s, read.facts] as const) : fail(read.message);
        });
    }),
  )
  .apply((kv) => Object.fromEntries(kv));

const probe: Probe | undefined = settings.sdntest.probe
  ? "netns" in settings.sdntest.probe
    ? { netns: settings.sdntest.probe.netns }
    : { ssh: { ...settings.sdntest.probe.ssh } }
  : undefined;

const fabricSite = new Site(site, { checked, settings, api, connections, facts, probe });
const me = derived.sites[site];
const plan = fabricSite.plan;

// --- stack outputs (typed and documented in docs/outputs.md) ---
export { site };
export const zone = derived.names.zone;
export const vnet = me.vnets[0].id;
export const subnet = me.subnets[0].cidr;
export const gateway = me.subnets[0].gateway;
export const vnets = me.vnets.map((v) => ({
  id: v.id,
  vni: v.vni,
  subnets: me.subnets
    .filter((s) => s.vnet === v.id)
    .map((s) => ({ cidr: s.cidr, gateway: s.gateway, snat: s.snat })),
}));
export const vnis = {
  vrfVxlan: plan.overlay.zone.vrfVxlan,
  vnets: Object.fromEntries(me.vnets.map((v) => [v.id, v.vni])),
};
export const mtu = plan.mtu;
export const wireguard = pulumi
  .all([fabricSite.publicKeys, fabricSite.knownPeers])
  .apply(([keys, known]) => ({
    nodes: Object.fromEntries(
      me.nodes.map((n) => {
        const ep = checked.fabric.sites[site].nodes.find((x) => x.name === n.name)!;
        return [
          n.name,
          {
            publicKey: keys[n.name],
            endpoint: `${ep.endpoint}:${n.wireguard.listenPort}`,
            tunnelAddress: n.tunnelAddress,
          },
        ];
      }),
    ),
    knownPeers: known,
  }));
export const sdntest = fabricSite.sdntest
  ? pulumi.all([fabricSite.sdntest.address]).apply(([address]) => ({
      vmid: plan.sdntest!.vmid,
      node: plan.sdntest!.node,
      address,
    }))
  : null;
export const checks = pulumi
  .all([fabricSite.checkSummary, fabricSite.checkResults])
  .apply(([summary, results]) => ({ ...summary, results }));
export const checkTable = fabricSite.check.table;
// The readable table in the engine's output after every update (the failing case is in the error itself).
checkTable.apply((t) => pulumi.log.info(`\n${t}`));
