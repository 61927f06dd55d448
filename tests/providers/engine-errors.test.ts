// Errors reach the user once (issue 16): under the real engine, a provider failure the user must act on (a
// host key that no longer matches its pin, a wrong API token) shows its message once, never doubled on a line,
// with no JavaScript stack frame; PVE_FABRIC_DEBUG=1 shows the trace (the positive control). The old launcher
// path printed "Error: <msg>: Error: <msg>" plus frames under the stack (providers/engine-errors.ts).
import { strict as assert } from "node:assert";
import { labDown, labUp, runInOperator } from "./host-lab";

/* eslint-disable @typescript-eslint/no-explicit-any */
const FRAME = /^\s*(?:\S+\s+)*at .*\((?:\/|<anonymous>).*:\d+:\d+\)\s*$|^\s*at \/.*:\d+:\d+\s*$/m;

/** The engine's Diagnostics block: what stays on screen after the run. */
function diagnostics(output: string): string {
  const i = output.indexOf("\nDiagnostics:\n");
  assert.ok(i >= 0, `no Diagnostics in:\n${output}`);
  return output.slice(i);
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

/** The claim for one failing preview: `message` once in the summary, never twice on a line, no frames. */
function assertOnce(run: { output: string; failed: boolean }, message: string): void {
  assert.equal(run.failed, true, "the preview should fail");
  const diag = diagnostics(run.output);
  assert.equal(count(diag, message), 1, diag);
  for (const line of run.output.split("\n"))
    assert.ok(count(line, message) <= 1, `message twice on one line: ${line}`);
  assert.doesNotMatch(run.output, FRAME, "a JavaScript stack frame reached the user");
  assert.doesNotMatch(run.output, /PVE_FABRIC_DEBUG/, "no debug output without the switch");
}

describe("provider errors under the real engine: once, without a stack trace", function () {
  this.timeout(600_000);
  let r: any;

  before(async () => {
    await labDown();
    await labUp();
    const out = await runInOperator("tests/providers/engine-errors-scenario.ts", []);
    const line = out.stdout.split("\n").find((l) => l.startsWith("@@report "));
    r = line
      ? JSON.parse(line.slice("@@report ".length))
      : { fatal: `no report (exit ${out.code}): ${out.stderr}` };
    assert.equal(r.fatal, undefined, r.fatal);
    if (process.env.PVE_FABRIC_VERBOSE === "1")
      for (const k of ["host", "pve"])
        for (const m of ["plain", "debug"]) console.log(`--- ${k} ${m}\n${r[k][m].output}`);
  });
  after(() => labDown());

  it("a host key mismatch: the message once, naming both fingerprints, no frame", () => {
    const { address, expected, actual } = r.host;
    const message =
      `Unable to read packages 'frr' on ${address}: host key of root@${address}:22 does not match the pinned key: ` +
      `expected ${expected}, the host presented ${actual}.`;
    assertOnce(r.host.plain, message);
  });

  it("a token regenerated in PVE: the message once, with its fix, no frame", () => {
    assertOnce(
      r.pve.plain,
      "Unable to read EVPN controller 'evpnctl' on roz: invalid token value! (HTTP 401). Check api.tokenId and api.tokenSecret",
    );
  });

  it("PVE_FABRIC_DEBUG=1 shows the stack trace of each (positive control)", () => {
    for (const [run, file] of [
      [r.host.debug, /providers\/host\/\w+\.ts:\d+:\d+/],
      [r.pve.debug, /providers\/pve\/[\w/]+\.ts:\d+:\d+/],
    ] as const) {
      assert.equal(run.failed, true);
      assert.match(run.output, /\[PVE_FABRIC_DEBUG\] \w+: Unable to read/);
      assert.match(run.output, FRAME);
      assert.match(run.output, file);
    }
  });
});
