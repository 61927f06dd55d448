// Runs inside the lab's operator namespace (tests/providers/engine-errors.test.ts starts it): one host
// resource on a lab host and one PVE resource on an in-process emulator, each converged under the real engine,
// then previewed with a host key that no longer matches its pin / a token regenerated in PVE, with and without
// PVE_FABRIC_DEBUG=1. Prints the
// engine's output of each failing preview as one JSON report; the test file asserts.
import * as path from "node:path";
import type { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { tempStack } from "../../scripts/engine";
import { LAB, statusOf } from "./host-lab";
import { SECRET, startLab, TOKEN_ID } from "./pve-helpers";

const PROGRAM = path.join(__dirname, "error-program");

/** The engine's whole output of a preview that should fail, and the error the automation API raised. */
async function failingPreview(stack: Stack, debug: boolean): Promise<{ output: string; failed: boolean }> {
  const env = (stack.workspace as LocalWorkspace).envVars;
  if (debug) env.PVE_FABRIC_DEBUG = "1";
  else delete env.PVE_FABRIC_DEBUG;
  let output = "";
  const failed = await stack.preview({ onOutput: (s) => (output += s) }).then(
    () => false,
    () => true,
  );
  return { output, failed };
}

async function main() {
  const report: Record<string, unknown> = {};
  const s = statusOf(LAB);
  const [roz, wro] = s.sites.map((x) => x.hosts[0]);

  const host = await tempStack(PROGRAM, "errh");
  try {
    await host.stack.setAllConfig({
      kind: { value: "host" },
      host: { value: roz.address },
      hostKey: { value: roz.hostKey },
      keyFile: { value: s.operator!.sshPrivateKeyFile },
    });
    await host.stack.up();
    // The host "was reinstalled": the pin no longer matches (wro's key stands in for the new one).
    await host.stack.setConfig("hostKey", { value: wro.hostKey });
    report.host = {
      address: roz.address,
      expected: wro.hostKeyFingerprint,
      actual: roz.hostKeyFingerprint,
      plain: await failingPreview(host.stack, false),
      debug: await failingPreview(host.stack, true),
    };
  } finally {
    await host.dispose();
  }

  // The emulator reads its token from this object on every request: changing it is the token being
  // regenerated in PVE, so the secret in config and state no longer works (diff reads with the state's).
  const token = { tokenid: TOKEN_ID, secret: SECRET };
  const lab = await startLab({ token });
  const pve = await tempStack(PROGRAM, "errp");
  try {
    await pve.stack.setAllConfig({
      kind: { value: "pve" },
      url: { value: lab.emu.url },
      tokenId: { value: lab.api.tokenId },
      fingerprint: { value: lab.emu.fingerprint },
      tokenSecret: { value: lab.api.tokenSecret, secret: true },
    });
    await pve.stack.up();
    token.secret = "0badc0de-0000-4000-8000-000000000000";
    report.pve = {
      plain: await failingPreview(pve.stack, false),
      debug: await failingPreview(pve.stack, true),
    };
  } finally {
    await pve.dispose();
    await lab.close();
  }
  process.stdout.write(`@@report ${JSON.stringify(report)}\n`);
}

main().catch((e) => {
  process.stdout.write(`@@report ${JSON.stringify({ fatal: String((e as Error).stack ?? e) })}\n`);
});
