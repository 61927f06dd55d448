// Firewall resources (DESIGN §3.5): a marked rule block per scope (cluster, node, security group, vnet),
// reconciled as a whole by fw-plan.ts, and firewall options per scope with the lock-out preflight for the
// cluster. Only marked objects are changed or deleted.
import { z } from "zod";
import type { PveClient } from "../client";
import { encodeValue, updateParams, type ApiParams } from "../encode";
import { PveDigestMismatch, PveError, PveNotFound } from "../errors";
import type { LiveRule, RuleSpec, Rules } from "../api/cluster/firewall/rules";
import { DEFAULT_MARKER, drift, nextStep, ownerKey, toSpec, type KeyedRule, type Step } from "../fw-plan";
import { lockoutProblems } from "../preflight";
import type { ApiConfig } from "../transport";
import {
  apiFailures,
  canonical,
  client,
  wrapError,
  zodFailures,
  type CheckFailure,
  type Lifecycle,
} from "./common";

// ---- scopes ------------------------------------------------------------------------------------------------
type Scope = { kind: "cluster" } | { kind: "node" | "group" | "vnet"; name: string };

export function parseScope(s: string): Scope | undefined {
  if (s === "cluster") return { kind: "cluster" };
  const m = /^(node|group|vnet)\/([A-Za-z0-9][A-Za-z0-9_-]*)$/.exec(s);
  return m ? { kind: m[1] as "node" | "group" | "vnet", name: m[2] } : undefined;
}

function rulesOf(c: PveClient, s: Scope): Rules {
  if (s.kind === "cluster") return c.cluster.firewall.rules;
  if (s.kind === "node") return c.nodes.firewall.rules(s.name);
  if (s.kind === "group") return c.cluster.firewall.groups.rules(s.name);
  return c.cluster.sdn.vnetFirewall.rules(s.name);
}

const SCOPE_HELP = "use 'cluster', 'node/<node>', 'group/<security group>' or 'vnet/<vnet>'";

// ---- rules -------------------------------------------------------------------------------------------------
export interface RulesSpec {
  scope: string;
  marker: string;
  rules: KeyedRule[];
  /** Group scope: free text after the marker in the group's comment. */
  groupNote?: string;
}

const keyRe = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const ruleSchema = z.object({
  key: z.string().regex(keyRe, "rule keys are letters, digits, '.', '_' or '-' (they go into the comment)"),
  note: z
    .string()
    .regex(/^[^#\n]*$/, "notes must not contain '#' or newlines (they end up in the .fw file comment)")
    .optional(),
  type: z.enum(["in", "out", "forward", "group"]),
  action: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_-]{1,19}$/, "action is ACCEPT/DROP/REJECT or a security group name"),
  macro: z.string().optional(),
  iface: z.string().optional(),
  source: z.string().max(512).optional(),
  dest: z.string().max(512).optional(),
  proto: z.string().optional(),
  dport: z.string().optional(),
  sport: z.string().optional(),
  "icmp-type": z.string().optional(),
  log: z.enum(["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "nolog"]).optional(),
  enable: z.boolean().default(true),
});

/** Scope rules PVE enforces (§3.3), checked before anything is written. */
export function ruleProblems(spec: RulesSpec): CheckFailure[] {
  const out: CheckFailure[] = [];
  const scope = parseScope(spec.scope);
  if (!scope)
    return [{ property: "scope", reason: `scope = '${spec.scope}' is not a firewall scope: ${SCOPE_HELP}` }];
  if (scope.kind === "group" && !/^[A-Za-z][A-Za-z0-9_-]{1,17}$/.test(scope.name))
    out.push({
      property: "scope",
      reason: `security group '${scope.name}': 2-18 characters, letter first (PVE's limit)`,
    });
  const seen = new Set<string>();
  spec.rules.forEach((r, i) => {
    const at = `rules[${i}]`;
    if (seen.has(r.key))
      out.push({
        property: `${at}.key`,
        reason: `key '${r.key}' is used twice: keys identify rules, make them unique`,
      });
    seen.add(r.key);
    if (scope.kind === "vnet" && r.type !== "forward" && r.type !== "group")
      out.push({
        property: `${at}.type`,
        reason: `type '${r.type}' in a vnet scope: vnet firewalls take forward (or group) rules only`,
      });
    if ((scope.kind === "vnet" || scope.kind === "group") && r.iface)
      out.push({
        property: `${at}.iface`,
        reason: `iface '${r.iface}' in a ${scope.kind} scope: PVE refuses iface there; put the rule in the cluster or node scope`,
      });
    if (scope.kind === "group" && r.type === "group")
      out.push({ property: `${at}.type`, reason: "a security group cannot reference another group" });
    if (r.type === "forward" && r.action.toUpperCase() === "REJECT")
      out.push({ property: `${at}.action`, reason: "REJECT is not allowed on the forward chain: use DROP" });
  });
  return out;
}

type RulesProps = RulesSpec & { api: ApiConfig };

function rulesSpecOf(p: Partial<RulesProps>): RulesSpec {
  return {
    scope: String(p.scope),
    marker: p.marker ?? DEFAULT_MARKER,
    rules: p.rules ?? [],
    groupNote: p.groupNote,
  };
}

function desiredOf(s: RulesSpec): RuleSpec[] {
  return s.rules.map((r) => toSpec(r, s.marker));
}

/** Our rules as they are live, back in the input shape (key + note from the comment). */
function oursAsKeyed(live: LiveRule[], marker: string): KeyedRule[] {
  const out: KeyedRule[] = [];
  for (const r of live) {
    const key = ownerKey(r.comment, marker);
    if (key === undefined) continue;
    const { pos: _p, digest: _d, comment, ...rest } = r;
    void _p;
    void _d;
    const note = comment!.trim().slice(`${marker}:${key}`.length).trim();
    out.push({ key, ...(note ? { note } : {}), ...rest });
  }
  return out;
}

async function listOrEmpty(rules: Rules): Promise<LiveRule[] | undefined> {
  try {
    return await rules.list();
  } catch (e) {
    if (e instanceof PveNotFound) return undefined;
    throw e;
  }
}

const groupComment = (s: RulesSpec) => `${s.marker}:group${s.groupNote ? ` ${s.groupNote}` : ""}`;

/** Group scope: the group must exist and carry our marker; an unmarked group of the same name is refused. */
async function ensureGroup(c: PveClient, s: RulesSpec, name: string): Promise<void> {
  const g = await c.cluster.firewall.groups.get(name);
  if (!g) return c.cluster.firewall.groups.create(name, groupComment(s));
  if (ownerKey(g.comment, s.marker) !== "group")
    throw new PveError(
      `security group '${name}' exists and is not managed by ${s.marker} (its comment '${g.comment ?? ""}' has no ` +
        `'${s.marker}:group' marker): pick another group name, or delete that group if it is a leftover`,
    );
  if (g.comment !== groupComment(s)) await c.cluster.firewall.groups.setComment(name, groupComment(s));
}

async function execute(rules: Rules, step: Step, digest: string | undefined): Promise<void> {
  if (step.op === "delete") return rules.remove(step.pos, digest);
  if (step.op === "create") return rules.create(step.rule);
  if (step.op === "update") return rules.update(step.pos, step.params, digest);
  return rules.move(step.pos, step.moveto, digest);
}

/** list → next step → execute, until nothing is left; digest mismatches re-plan. Returns the writes made. */
export async function reconcile(rules: Rules, desired: RuleSpec[], marker: string): Promise<number> {
  let writes = 0;
  let budget = 3 * desired.length + 20;
  for (;;) {
    const live = await rules.list();
    const step = nextStep(live, desired, marker);
    if (!step) return writes;
    if (budget-- <= 0)
      throw new PveError(
        `rule list at ${rules.base} did not converge (someone keeps editing it?): last step ${step.op} ${step.key}`,
      );
    try {
      await execute(rules, step, live[0]?.digest);
      writes++;
    } catch (e) {
      if (!(e instanceof PveDigestMismatch)) throw e;
    }
  }
}

async function readRules(c: PveClient, s: RulesSpec) {
  const scope = parseScope(s.scope)!;
  if (scope.kind === "group") {
    const g = await c.cluster.firewall.groups.get(scope.name);
    if (!g || ownerKey(g.comment, s.marker) !== "group") return undefined;
  }
  const live = await listOrEmpty(rulesOf(c, scope));
  if (!live) return undefined;
  return { live, ours: oursAsKeyed(live, s.marker), drift: drift(live, desiredOf(s), s.marker) };
}

function rulesOuts(api: ApiConfig, s: RulesSpec, r: { ours: KeyedRule[]; drift: object }) {
  return { api, scope: s.scope, marker: s.marker, groupNote: s.groupNote, rules: r.ours, liveDrift: r.drift };
}

async function writeRules(c: PveClient, s: RulesSpec, action: string) {
  const scope = parseScope(s.scope)!;
  try {
    if (scope.kind === "group") await ensureGroup(c, s, scope.name);
    await reconcile(rulesOf(c, scope), desiredOf(s), s.marker);
  } catch (e) {
    throw wrapError(e, action, "firewall rules of", s.scope, c.site);
  }
  const r = await readRules(c, s);
  if (!r) throw new PveError(`Unable to read back firewall rules of '${s.scope}' on ${c.site}`);
  return r;
}

export const rulesLifecycle: Lifecycle = {
  async check(_olds, news) {
    const failures = apiFailures(news.api);
    const parsed = z
      .object({
        scope: z.string(),
        marker: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "markers are letters, digits, '.', '_' or '-'")
          .default(DEFAULT_MARKER),
        rules: z.array(ruleSchema),
        groupNote: z
          .string()
          .regex(/^[^#\n]*$/)
          .optional(),
      })
      .safeParse({ scope: news.scope, marker: news.marker, rules: news.rules, groupNote: news.groupNote });
    if (!parsed.success) return { inputs: news, failures: [...failures, ...zodFailures(parsed.error, news)] };
    failures.push(...ruleProblems(parsed.data as RulesSpec));
    return { inputs: { ...parsed.data, api: news.api }, failures };
  },
  async diff(_id, olds, news) {
    const was = rulesSpecOf(olds);
    const want = rulesSpecOf(news);
    if (was.scope !== want.scope || was.marker !== want.marker)
      return {
        changes: true,
        replaces: ["scope", "marker"].filter((k) => canonical(olds[k]) !== canonical(news[k])),
        deleteBeforeReplace: true,
      };
    const r = await readRules(client(olds.api), want);
    if (!r) return { changes: true };
    return {
      changes:
        nextStep(r.live, desiredOf(want), want.marker) !== undefined || was.groupNote !== want.groupNote,
    };
  },
  async read(id, props) {
    const s = rulesSpecOf(props);
    const r = await readRules(client(props.api), s);
    return r ? { id, props: rulesOuts(props.api, s, r) } : { id: "", props: {} };
  },
  async create(inputs) {
    const s = rulesSpecOf(inputs);
    try {
      const r = await writeRules(client(inputs.api), s, "create");
      return { id: s.scope, outs: rulesOuts(inputs.api, s, r) };
    } catch (e) {
      // All-or-nothing: a failed create leaves no marked rule (and no marked group) behind.
      await rulesLifecycle.delete(s.scope, inputs).catch(() => undefined);
      throw e;
    }
  },
  async update(_id, _olds, news) {
    const s = rulesSpecOf(news);
    return { outs: rulesOuts(news.api, s, await writeRules(client(news.api), s, "update")) };
  },
  async delete(_id, props) {
    const s = rulesSpecOf(props);
    const c = client(props.api);
    const scope = parseScope(s.scope)!;
    try {
      const rules = rulesOf(c, scope);
      // Reconciling towards "no rules of ours" deletes exactly the marked ones.
      if (await listOrEmpty(rules)) await reconcile(rules, [], s.marker);
      if (scope.kind === "group") {
        const g = await c.cluster.firewall.groups.get(scope.name);
        const left = await listOrEmpty(rules);
        // A group that still holds someone else's rules stays (PVE refuses non-empty groups anyway).
        if (g && ownerKey(g.comment, s.marker) === "group" && left && left.length === 0)
          await c.cluster.firewall.groups.remove(scope.name);
      }
    } catch (e) {
      throw wrapError(e, "delete", "firewall rules of", s.scope, c.site);
    }
  },
};

// ---- options -----------------------------------------------------------------------------------------------
export interface OptionsSpec {
  scope: string;
  options: Record<string, string | number | boolean>;
  /** Cluster scope: addresses the operator reaches SSH/API from; checked by the lock-out preflight. */
  operatorSources: string[];
}
type OptionsProps = OptionsSpec & { api: ApiConfig };

function optionsSpecOf(p: Partial<OptionsProps>): OptionsSpec {
  return { scope: String(p.scope), options: p.options ?? {}, operatorSources: p.operatorSources ?? [] };
}

function optionsApi(c: PveClient, s: Scope) {
  if (s.kind === "cluster") return c.cluster.firewall.options;
  if (s.kind === "node") return c.nodes.firewall.options(s.name);
  if (s.kind === "vnet") return c.cluster.sdn.vnetFirewall.options(s.name);
  throw new PveError(
    `firewall options have no 'group' scope: ${SCOPE_HELP.replace("'group/<security group>', ", "")}`,
  );
}

const enablesRestrictive = (o: Record<string, unknown>) =>
  Number(encodeValue((o.enable as string) ?? 0)) > 0 &&
  String(o.policy_in ?? "DROP").toUpperCase() !== "ACCEPT";

/** Reads what the preflight needs and returns its verdict for the options after the change. */
export async function preflight(
  c: PveClient,
  after: Record<string, unknown>,
  operatorSources: string[],
): Promise<string[]> {
  const fw = c.cluster.firewall;
  const rules = await fw.rules.list();
  const groups: Record<string, LiveRule[]> = {};
  for (const r of rules)
    if (r.type === "group" && r.enable)
      groups[r.action] = (await listOrEmpty(fw.groups.rules(r.action))) ?? [];
  const setNames = new Set(["management"]);
  for (const r of [...rules, ...Object.values(groups).flat()])
    for (const item of (r.source ?? "").split(","))
      if (item.startsWith("+") && !item.startsWith("+sdn/") && !item.startsWith("+guest/"))
        setNames.add(item.slice(1).replace(/^dc\//, ""));
  const ipsets: Record<string, string[]> = {};
  for (const name of setNames) {
    const entries = await fw.ipsets.entries(name);
    if (entries) ipsets[name] = entries.map((e) => (e.nomatch ? `!${e.cidr}` : e.cidr));
  }
  return lockoutProblems({
    enable: Number(encodeValue((after.enable as string) ?? 0)),
    policyIn: after.policy_in as string | undefined,
    operatorSources,
    rules,
    groups,
    ipsets,
    aliases: await fw.aliases.map(),
  });
}

async function readOptions(c: PveClient, s: OptionsSpec, keys: string[]) {
  let live: Record<string, unknown>;
  try {
    live = await optionsApi(c, parseScope(s.scope)!).get();
  } catch (e) {
    if (e instanceof PveNotFound) return undefined;
    throw e;
  }
  const mine: Record<string, unknown> = {};
  for (const k of keys) if (live[k] !== undefined) mine[k] = live[k];
  return { live, mine };
}

const differs = (want: Record<string, unknown>, live: Record<string, unknown>) =>
  Object.keys(want).some(
    (k) => live[k] === undefined || encodeValue(want[k] as string) !== encodeValue(live[k] as string),
  );

async function writeOptions(c: PveClient, s: OptionsSpec, removedKeys: string[], action: string) {
  const scope = parseScope(s.scope)!;
  const keys = [...new Set([...Object.keys(s.options), ...removedKeys])];
  try {
    const r = await readOptions(c, s, keys);
    if (!r) throw new PveNotFound(`${s.scope} has no firewall options (vnet not applied yet?)`);
    const params = updateParams(s.options as ApiParams, r.mine as ApiParams, keys);
    if (scope.kind === "cluster") {
      const after: Record<string, unknown> = { ...r.live, ...s.options };
      for (const k of removedKeys) if (!(k in s.options)) delete after[k];
      if (enablesRestrictive(after)) {
        const problems = await preflight(c, after, s.operatorSources);
        if (problems.length)
          throw new PveError(
            `lock-out preflight refused the cluster firewall options: ${problems.join("; ")}`,
          );
      }
    }
    if (Object.keys(params).length) await optionsApi(c, scope).set(params);
  } catch (e) {
    throw wrapError(e, action, "firewall options of", s.scope, c.site);
  }
  const after = await readOptions(c, s, Object.keys(s.options));
  return after?.mine ?? {};
}

const optionsOuts = (api: ApiConfig, s: OptionsSpec, live: Record<string, unknown>) => ({
  api,
  scope: s.scope,
  options: live,
  operatorSources: s.operatorSources,
});

export const optionsLifecycle: Lifecycle = {
  async check(_olds, news) {
    const failures: CheckFailure[] = apiFailures(news.api);
    const scope = typeof news.scope === "string" ? parseScope(news.scope) : undefined;
    if (!scope || scope.kind === "group")
      failures.push({
        property: "scope",
        reason: `scope = '${news.scope}': use 'cluster', 'node/<node>' or 'vnet/<vnet>'`,
      });
    const opts = news.options ?? {};
    if (typeof opts !== "object" || Array.isArray(opts))
      failures.push({
        property: "options",
        reason: "options must be an object of PVE option names to values",
      });
    for (const [k, v] of Object.entries(opts as Record<string, unknown>))
      if (!["string", "number", "boolean"].includes(typeof v))
        failures.push({
          property: `options.${k}`,
          reason: `options.${k} = ${JSON.stringify(v)}: use a string, number or boolean`,
        });
    if (scope?.kind === "cluster" && enablesRestrictive(opts) && !(news.operatorSources ?? []).length)
      failures.push({
        property: "operatorSources",
        reason:
          "operatorSources is required when the cluster firewall is enabled with policy_in DROP/REJECT: list the addresses " +
          "this program and its operators reach SSH (22) and the API (8006) from, so the lock-out preflight can check them",
      });
    return { inputs: news, failures };
  },
  async diff(_id, olds, news) {
    const was = optionsSpecOf(olds);
    const want = optionsSpecOf(news);
    if (was.scope !== want.scope) return { changes: true, replaces: ["scope"], deleteBeforeReplace: true };
    const r = await readOptions(client(olds.api), want, Object.keys(want.options));
    const removed = Object.keys(was.options).filter((k) => !(k in want.options) && r?.live[k] !== undefined);
    return {
      changes:
        !r ||
        differs(want.options, r.mine) ||
        removed.length > 0 ||
        canonical(was.operatorSources) !== canonical(want.operatorSources),
    };
  },
  async read(id, props) {
    const s = optionsSpecOf(props);
    const r = await readOptions(client(props.api), s, Object.keys(s.options));
    return r ? { id, props: optionsOuts(props.api, s, r.mine) } : { id: "", props: {} };
  },
  async create(inputs) {
    const s = optionsSpecOf(inputs);
    return {
      id: s.scope,
      outs: optionsOuts(inputs.api, s, await writeOptions(client(inputs.api), s, [], "set")),
    };
  },
  async update(_id, olds, news) {
    const s = optionsSpecOf(news);
    const removed = Object.keys(optionsSpecOf(olds).options).filter((k) => !(k in s.options));
    return { outs: optionsOuts(news.api, s, await writeOptions(client(news.api), s, removed, "update")) };
  },
  async delete(_id, props) {
    // Back to PVE's defaults for the keys we managed (one delete= list); other keys stay as they are.
    const s = optionsSpecOf(props);
    const c = client(props.api);
    const keys = Object.keys(s.options);
    try {
      const r = await readOptions(c, s, keys);
      const set = keys.filter((k) => r?.live[k] !== undefined);
      if (r && set.length) await optionsApi(c, parseScope(s.scope)!).set({ delete: set.join(",") });
    } catch (e) {
      throw wrapError(e, "reset", "firewall options of", s.scope, c.site);
    }
  },
};
