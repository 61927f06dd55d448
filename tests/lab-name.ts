// Lab names for test suites and benches: derived from the checkout's path, so two clones on one machine (or
// CI beside a developer's running lab) never pick the same namespaces (issue 19), and stable across runs of
// one checkout, so PVE_FABRIC_KEEP_LAB=1 reruns find the lab they kept.
import { createHash } from "node:crypto";
import * as path from "node:path";

const CHECKOUT = path.resolve(__dirname, "..");

/** `prefix` + a short hash of the checkout path, within the lab name rule (1–12 of [a-z0-9], a letter first). */
export function checkoutLabName(prefix: string, checkout = CHECKOUT): string {
  const room = 12 - prefix.length;
  if (!/^[a-z][a-z0-9]*$/.test(prefix) || room < 4)
    throw new Error(`lab name prefix '${prefix}': 1–8 of [a-z0-9]`);
  const n = BigInt(`0x${createHash("sha256").update(checkout).digest("hex").slice(0, 16)}`);
  return prefix + n.toString(36).slice(0, room);
}

/**
 * `prefix` + this process's pid + a hash of the checkout: no two running test processes share it (pids are
 * unique while they run), and a killed run's leftovers block only the same checkout, which `up` cleans.
 */
export function runLabName(prefix: string, checkout = CHECKOUT): string {
  return checkoutLabName(prefix + process.pid.toString(36), checkout);
}
