// Firewall rule ownership and whole-order reconciliation (DESIGN §3.5; reference §3.4, §6.9). Pure.
//
// Ownership: a rule is ours when its comment starts with "<marker>:<key>" — the key names the rule across
// runs (positions do not: every insert, move and delete shifts them). Unmarked rules are never touched.
// Order: our rules form one block at the top of the scope's list, in the desired order (narrow ACCEPTs
// ahead of whatever the operator has). Unmarked rules keep their relative order below.
//
// The executor re-lists before every step and sends the list's digest with each positional call, so a
// concurrent edit surfaces as a digest mismatch and a re-plan instead of an edit of the wrong rule.
// `nextStep` returns the first step still needed; repeating list → step → execute converges:
//   1. delete ours that are not wanted (or duplicated);  2. create the missing ones, last first, so that
//   each insert at position 0 builds the block in order;  3. update changed fields in place;  4. move.
import { encodeValue, type ApiParams } from "./encode";
import { RULE_FIELDS, RULE_OPTIONAL, type LiveRule, type RuleSpec } from "./api/cluster/firewall/rules";

export const DEFAULT_MARKER = "pve-fabric";

/** A desired rule: its comment is derived from marker + key (+ an optional note for humans). */
export interface KeyedRule extends Omit<RuleSpec, "comment"> {
  key: string;
  note?: string;
}

export type Step =
  | { op: "delete"; pos: number; key: string }
  | { op: "create"; rule: RuleSpec; key: string }
  | { op: "update"; pos: number; key: string; params: ApiParams }
  | { op: "move"; pos: number; moveto: number; key: string };

export function markComment(marker: string, key: string, note?: string): string {
  return `${marker}:${key}${note ? ` ${note}` : ""}`;
}

/** The key of a rule owned by `marker`, or undefined for everyone else's. */
export function ownerKey(comment: string | undefined, marker: string): string | undefined {
  if (!comment) return undefined;
  const m = /^(\S+?):(\S+)/.exec(comment.trim());
  return m && m[1] === marker ? m[2] : undefined;
}

export function toSpec(r: KeyedRule, marker: string): RuleSpec {
  const { key, note, ...rest } = r;
  const spec: RuleSpec = { ...rest, comment: markComment(marker, key, note) };
  for (const k of Object.keys(spec) as (keyof RuleSpec)[])
    if (spec[k] === undefined || spec[k] === "") delete spec[k];
  return spec;
}

const norm = (v: unknown) =>
  v === undefined || v === null || v === "" ? undefined : encodeValue(v as string);

/** Fields that differ, as an update body: changed values + one `delete` list for removed optional fields. */
export function ruleUpdate(live: RuleSpec, want: RuleSpec): ApiParams | undefined {
  const out: ApiParams = {};
  const del: string[] = [];
  for (const f of RULE_FIELDS) {
    const a = norm(f === "enable" ? (live.enable ? 1 : 0) : live[f]);
    const b = norm(f === "enable" ? (want.enable ? 1 : 0) : want[f]);
    if (a === b) continue;
    if (b === undefined && (RULE_OPTIONAL as readonly string[]).includes(f)) del.push(f);
    else out[f] = f === "enable" ? (want.enable ? 1 : 0) : want[f];
  }
  if (del.length) out.delete = del.join(",");
  return Object.keys(out).length ? out : undefined;
}

export function nextStep(live: LiveRule[], desired: RuleSpec[], marker: string): Step | undefined {
  const wantKeys = desired.map((r) => ownerKey(r.comment, marker) ?? "");
  const wanted = new Set(wantKeys);
  // 1. unwanted or duplicate rules of ours, last first (deleting lower positions first would shift the rest)
  const seen = new Set<string>();
  const drop: LiveRule[] = [];
  for (const r of live) {
    const k = ownerKey(r.comment, marker);
    if (k === undefined) continue;
    if (!wanted.has(k) || seen.has(k)) drop.push(r);
    seen.add(k);
  }
  if (drop.length) {
    const r = drop[drop.length - 1];
    return { op: "delete", pos: r.pos, key: ownerKey(r.comment, marker) ?? "" };
  }
  // 2. missing: the last missing one first (each POST lands at position 0)
  for (let i = desired.length - 1; i >= 0; i--)
    if (!seen.has(wantKeys[i])) return { op: "create", rule: desired[i], key: wantKeys[i] };
  // 3. changed content
  const byKey = new Map(
    live.filter((r) => ownerKey(r.comment, marker)).map((r) => [ownerKey(r.comment, marker)!, r]),
  );
  for (let i = 0; i < desired.length; i++) {
    const r = byKey.get(wantKeys[i])!;
    const params = ruleUpdate(r, desired[i]);
    if (params) return { op: "update", pos: r.pos, key: wantKeys[i], params };
  }
  // 4. order: desired[i] at position i. Moving up lands exactly at `moveto`.
  for (let i = 0; i < desired.length; i++) {
    const r = byKey.get(wantKeys[i])!;
    if (r.pos !== i) return { op: "move", pos: r.pos, moveto: i, key: wantKeys[i] };
  }
  return undefined;
}

export interface Drift {
  missing: string[];
  unwanted: string[];
  changed: string[];
  misordered: boolean;
}

/** What differs between the live list and the desired block, for messages and outputs. */
export function drift(live: LiveRule[], desired: RuleSpec[], marker: string): Drift {
  const wantKeys = desired.map((r) => ownerKey(r.comment, marker) ?? "");
  const ours = live.filter((r) => ownerKey(r.comment, marker) !== undefined);
  const liveKeys = ours.map((r) => ownerKey(r.comment, marker)!);
  const byKey = new Map(ours.map((r) => [ownerKey(r.comment, marker)!, r]));
  return {
    missing: wantKeys.filter((k) => !liveKeys.includes(k)),
    unwanted: liveKeys.filter((k, i) => !wantKeys.includes(k) || liveKeys.indexOf(k) !== i),
    changed: wantKeys.filter((k, i) => byKey.has(k) && ruleUpdate(byKey.get(k)!, desired[i]) !== undefined),
    misordered: ours.some((r, i) => r.pos !== i || liveKeys[i] !== wantKeys[i]),
  };
}

/** Applies a step to a list the way PVE does (§3.4): the model the planner is tested against. */
export function simulate(live: LiveRule[], step: Step): LiveRule[] {
  const list = live.map((r) => ({ ...r }));
  if (step.op === "delete") list.splice(step.pos, 1);
  else if (step.op === "create") list.unshift({ ...step.rule, pos: 0 });
  else if (step.op === "update") {
    const r = list[step.pos] as unknown as Record<string, unknown>;
    for (const [k, v] of Object.entries(step.params))
      if (k === "delete") for (const d of String(v).split(",")) delete r[d];
      else r[k] = k === "enable" ? v === 1 || v === true : v;
  } else {
    const [r] = list.splice(step.pos, 1);
    // "insert before the element that was at index moveto in the original list"
    const at = step.moveto > step.pos ? step.moveto - 1 : step.moveto;
    list.splice(Math.min(at, list.length), 0, r);
  }
  return list.map((r, i) => ({ ...r, pos: i }));
}
