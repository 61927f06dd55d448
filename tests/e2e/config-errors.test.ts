// The program under the real engine reads fabric.yaml with the same reader as check-config (issue 16): a
// duplicate key or an empty file stops `pulumi preview` with the file, line, column and key, once.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { tempStack } from "../../scripts/engine";

const ROOT = path.resolve(__dirname, "../..");

describe("the program reads fabric.yaml like check-config", function () {
  this.timeout(10 * 60 * 1000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "config-errors-"));
  const fabric = path.join(dir, "fabric.yaml");
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function preview(text: string): Promise<string> {
    fs.writeFileSync(fabric, text);
    const { stack, dispose } = await tempStack(ROOT, "cfgerr");
    try {
      await stack.setConfig("pve-fabric:fabricFile", { value: fabric });
      let output = "";
      const failed = await stack.preview({ onOutput: (s) => (output += s) }).then(
        () => false,
        () => true,
      );
      assert.equal(failed, true, output);
      return output;
    } finally {
      await dispose();
    }
  }

  it("names a duplicate key in fabric.yaml with its line and column, once", async () => {
    const out = await preview(
      "asn: 65000\nsites:\n  roz:\n    nodes:\n      - name: pve1\n        name: pve2\n",
    );
    const where = `1. sites.roz.nodes[0].name   (${fabric}, line 6, column 9)`;
    const diag = out.slice(out.indexOf("\nDiagnostics:\n"));
    assert.equal(diag.split(where).length - 1, 1, out);
    assert.match(diag, /rule: key 'name' appears twice in one mapping \(first at line 5\)/);
  });

  it("says an empty fabric.yaml is empty", async () => {
    const out = await preview("# to be written\n");
    assert.match(out, new RegExp(`1\\. ${fabric.replace(/[./]/g, "\\$&")}\\n\\s+rule: the file is empty`));
  });
});
