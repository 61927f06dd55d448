// The edge of the check: findings with typed causes become the published rows (CheckResult, docs/outputs.md)
// with their text rendered from the one table (causes.ts), the summary, and the table `up` prints.
import { rowOf } from "./causes";
import type { Finding } from "./evaluate";
import type { CheckResult, Status } from "./spec";

/** A finding as published: the measured detail, and for a failure its diagnosis. */
export function render(f: Finding): CheckResult {
  const row = rowOf(f);
  const detail = row.detail(f);
  const diagnosis =
    f.status !== "fail"
      ? undefined
      : f.blockedBy
        ? `blocked by the ${f.blockedBy} layer (fix that first)`
        : (row.diagnosis?.(f) ?? detail);
  return { id: f.id, layer: f.layer, status: f.status, detail, ...(diagnosis ? { diagnosis } : {}) };
}

export interface CheckSummary {
  ok: boolean;
  pass: number;
  fail: number;
  pending: number;
  skipped: number;
}

export function summarise(results: readonly { status: Status }[]): CheckSummary {
  const n = (s: Status) => results.filter((r) => r.status === s).length;
  return {
    ok: n("fail") === 0,
    pass: n("pass"),
    fail: n("fail"),
    pending: n("pending"),
    skipped: n("skipped"),
  };
}

/** The readable table printed after `up` and in a failure's message. */
export function formatTable(site: string, results: CheckResult[]): string {
  const w = Math.max(8, ...results.map((r) => r.id.length));
  const lines = [`fabric check: ${site}`, `${"check".padEnd(w)}  status   detail`];
  for (const r of results) {
    lines.push(`${r.id.padEnd(w)}  ${r.status.toUpperCase().padEnd(7)}  ${r.detail}`);
    if (r.diagnosis) lines.push(`${"".padEnd(w)}  ${"".padEnd(7)}  -> ${r.diagnosis}`);
  }
  const s = summarise(results);
  lines.push(`${s.pass} pass, ${s.fail} fail, ${s.pending} pending, ${s.skipped} skipped`);
  return lines.join("\n");
}
