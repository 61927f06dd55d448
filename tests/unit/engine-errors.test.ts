// How a provider failure is handed to the engine (providers/engine-errors.ts): the dynamic-provider launcher's
// own stderr line for it is dropped (the engine already prints the message), nothing else is; a runtime error
// is reported as a bug with the way to its trace. tests/providers/engine-errors.test.ts proves the whole path
// under the real engine.
import { strict as assert } from "node:assert";
import { forEngine, fullStack, isBug, reported } from "../../providers/engine-errors";
import { HostKeyMismatchError, unable } from "../../providers/host/errors";
import { PveAuthError } from "../../providers/pve/errors";

/** What console.error writes while `f` runs. */
function stderrOf(f: () => void): string[] {
  const written: string[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((s: string | Uint8Array) => (written.push(String(s)), true)) as typeof write;
  try {
    f();
  } finally {
    process.stderr.write = write;
  }
  return written;
}

describe("provider errors handed to the engine", () => {
  it("tells bugs (runtime errors anywhere in the cause chain) from failures the user acts on", () => {
    const mismatch = new HostKeyMismatchError("root@h:22", "SHA256:a", "SHA256:b");
    assert.equal(isBug(unable("read", "sysctls", "90-x", "h", mismatch)), false);
    assert.equal(isBug(new PveAuthError("invalid token value!", 401)), false);
    assert.equal(isBug(unable("read", "sysctls", "90-x", "h", new TypeError("x is undefined"))), true);
    assert.equal(isBug(new RangeError("Invalid array length")), true);
    assert.equal(isBug("thrown string"), true);
  });

  it("drops exactly the launcher's `${e}: ${e.stack}` line, once; other lines pass (positive control)", () => {
    const e = unable(
      "read",
      "sysctls",
      "90-x",
      "h",
      new HostKeyMismatchError("root@h:22", "SHA256:a", "SHA256:b"),
    );
    const out = forEngine(e);
    assert.equal(out, e, "a failure the user acts on goes to the engine unchanged");
    const launcherLine = `${String(out)}: ${out.stack}`;
    const written = stderrOf(() => {
      console.error(launcherLine);
      console.error("another provider's line");
      console.error(launcherLine);
    });
    assert.deepEqual(written, ["another provider's line\n", `${launcherLine}\n`]);
  });

  it("reports a bug with its message, the debug switch and the cause kept", () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'values')");
    const out = forEngine(unable("read", "sysctls", "90-x", "h", bug));
    assert.equal(
      out.message,
      "Unable to read sysctls '90-x' on h: Cannot read properties of undefined (reading 'values') " +
        "(a bug in pve-fabric: run with PVE_FABRIC_DEBUG=1 to see its stack trace, and report it)",
    );
    assert.match(fullStack(out), /\nCaused by: Error: Unable to read[^]*\nCaused by: TypeError: Cannot read/);
  });

  it("wraps every provider method: results pass through, failures go through forEngine", async () => {
    const m = reported({
      ok: async (x: number) => x + 1,
      fail: async () => {
        throw new RangeError("boom");
      },
    });
    assert.equal(await m.ok(1), 2);
    await assert.rejects(m.fail(), /^Error: boom \(a bug in pve-fabric: run with PVE_FABRIC_DEBUG=1/);
  });
});
