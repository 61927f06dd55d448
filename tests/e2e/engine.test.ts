// The real Pulumi engine (CLI + Node.js language host + dynamic-provider plugin) runs a local program with a
// dynamic resource end to end. No mocks: this is what every later "works under Pulumi" claim stands on.
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { changesOf } from "../../scripts/engine";
import { runSmoke } from "../../scripts/smoke";

const log = process.env.PVE_FABRIC_VERBOSE === "1" ? (l: string) => console.log(l) : undefined;

describe("engine smoke (real pulumi CLI, local program)", function () {
  this.timeout(10 * 60 * 1000);

  it("previews, creates, no-ops, updates, shows and repairs drift, and destroys a dynamic resource", async () => {
    const r = await runSmoke({ log });
    assert.strictEqual(r.previewCreates, 2, "preview plans the stack and the file");
    assert.strictEqual(r.previewTouchedFile, false, "preview must not create the file");
    assert.deepStrictEqual(changesOf(r.firstUp), { create: 2 });
    assert.deepStrictEqual(changesOf(r.secondUp), {}, "second up changes nothing");
    assert.deepStrictEqual(changesOf(r.update), { update: 1 });
    assert.strictEqual(r.contentAfterUpdate, "v2");
    assert.deepStrictEqual(
      changesOf(r.driftPreview),
      { update: 1 },
      "drift on the live file shows in preview",
    );
    assert.strictEqual(
      r.contentAfterDriftPreview,
      "edited by hand",
      "preview does not repair (or touch) drift",
    );
    assert.deepStrictEqual(changesOf(r.repairUp), { update: 1 });
    assert.strictEqual(r.contentAfterRepair, "v2");
    assert.strictEqual(r.fileAfterDestroy, false, "destroy removes the file");
  });

  it("catches a dynamic provider whose diff is broken (negative control)", async () => {
    const r = await runSmoke({ brokenDiff: true, log });
    // The same run as above with a diff that always answers "no changes": the update never reaches the file,
    // so the assertions of the first test would fail on exactly these values.
    assert.deepStrictEqual(changesOf(r.update), {});
    assert.strictEqual(r.contentAfterUpdate, "v1");
    assert.deepStrictEqual(changesOf(r.driftPreview), {});
  });

  const commandPlugin = fs.existsSync(
    path.join(process.env.PULUMI_HOME ?? "", "plugins", "resource-command-v1.2.1", "pulumi-resource-command"),
  );
  // Blocked: the Go module proxy refuses github.com/pulumi/pulumi-command/provider at every version and commit
  // (403, docs/adr/001-engine.md), so the command plugin cannot be built here. With it installed this runs.
  (commandPlugin ? it : it.skip)(
    "runs an @pulumi/command local.Command next to the dynamic resource",
    async () => {
      const r = await runSmoke({ withCommand: true, log });
      assert.deepStrictEqual(changesOf(r.secondUp), {});
      assert.strictEqual(r.echoed, "v2");
    },
  );
});
