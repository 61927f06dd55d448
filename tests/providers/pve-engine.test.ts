// PVE providers under the REAL engine (CLI + language host + dynamic-provider plugin), against an in-process
// emulator: up, no-op up, drift preview, destroy, and a run with a wrong token. The claim: no API token
// secret lands in the state (any file of the backend), in the engine's output, or in errors.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { changesOf, tempStack } from "../../scripts/engine";
import { SECRET, startLab, type Lab } from "./pve-helpers";

const PROGRAM = path.join(__dirname, "pve-program");

function grepTree(dir: string, needle: string): string[] {
  const hits: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = path.join(e.parentPath, e.name);
    if (e.isFile() && fs.readFileSync(p).includes(needle)) hits.push(p);
  }
  return hits;
}

describe("PVE providers under the real engine (emulator)", function () {
  this.timeout(10 * 60 * 1000);
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab.close();
  });

  it("creates, no-ops, shows PVE-side drift, reports a wrong token clearly, destroys — and never stores or prints the token", async () => {
    let output = "";
    const onOutput = (s: string) => {
      output += s;
      if (process.env.PVE_FABRIC_VERBOSE === "1") process.stdout.write(s);
    };
    const { stack, stateDir, dispose } = await tempStack(PROGRAM, "pve");
    try {
      await stack.setAllConfig({
        url: { value: lab.emu.url },
        tokenId: { value: lab.api.tokenId },
        fingerprint: { value: lab.emu.fingerprint },
        tokenSecret: { value: SECRET, secret: true },
      });
      const up = await stack.up({ onOutput });
      assert.deepEqual(changesOf(up.summary.resourceChanges), { create: 9 });
      assert.deepEqual((await stack.outputs()).nodeStatus.value, { pve1: "available", pve2: "available" });
      const cluster = await lab.client.cluster.firewall.rules.list();
      assert.deepEqual(
        cluster.map((r) => r.comment?.split(" ")[0]),
        ["pve-fabric:group", "pve-fabric:bgp-in", "pve-fabric:vxlan-in"],
      );

      const again = await stack.up({ onOutput });
      assert.deepEqual(changesOf(again.summary.resourceChanges), {}, "second up changes nothing");

      await lab.client.cluster.firewall.rules.remove(1); // someone deletes our BGP rule in PVE
      const drift = await stack.preview({ onOutput, refresh: true });
      assert.deepEqual(changesOf(drift.changeSummary), { update: 1 });
      await stack.up({ onOutput, refresh: true });
      assert.equal((await lab.client.cluster.firewall.rules.list()).length, 3, "repaired");

      // Positive control for the grep: the state is there and holds other values of these resources.
      assert.ok(grepTree(stateDir, "evpnctl").length > 0);
      assert.ok(grepTree(stateDir, "ciphertext").length > 0, "secrets are stored encrypted");
      assert.deepEqual(grepTree(stateDir, SECRET), [], "no token secret in any state file");

      // A wrong token: a clear error, and neither secret in what the engine prints.
      const wrong = "0badc0de-0000-4000-8000-000000000000";
      await stack.setConfig("tokenSecret", { value: wrong, secret: true });
      await stack.setConfig("mtu", { value: "1400" });
      const failed = await stack.up({ onOutput }).then(
        () => "",
        (e: Error) => e.message,
      );
      assert.match(
        failed,
        /Unable to (read|update) [\w ]+ '[\w/]+' on roz: invalid token value! \(HTTP 401\)\. Check api\.tokenId/,
      );
      assert.ok(!failed.includes(wrong) && !failed.includes(SECRET), "the error names no secret");
      assert.deepEqual(grepTree(stateDir, wrong), []);

      await stack.setConfig("tokenSecret", { value: SECRET, secret: true });
      await stack.destroy({ onOutput });
      assert.deepEqual(await lab.client.cluster.firewall.rules.list(), []);
      assert.equal(await lab.client.cluster.sdn.zones.get("crossite"), undefined);
      assert.ok(!output.includes(SECRET) && !output.includes(wrong), "engine output holds no token secret");
      assert.deepEqual(grepTree(stateDir, SECRET), []);
    } finally {
      await dispose();
    }
  });
});
