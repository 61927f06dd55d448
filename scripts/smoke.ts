// The engine smoke run: drives the real Pulumi CLI and language host (Automation API over a local program,
// not an inline one) through preview, up, a no-op up, an update, drift, and destroy of tests/e2e/smoke.
// Used by the test suite (tests/e2e/engine.test.ts) and by `npm run -s smoke`.
import * as fs from "fs";
import * as path from "path";
import type { OpMap } from "@pulumi/pulumi/automation";
import { changesOf, tempStack } from "./engine";

export const SMOKE_DIR = path.resolve(__dirname, "../tests/e2e/smoke");

export interface SmokeOptions {
  brokenDiff?: boolean; // negative control: the dynamic provider's diff never reports a change
  withCommand?: boolean; // add the @pulumi/command local.Command (needs the command plugin)
  log?: (line: string) => void;
}

export interface SmokeReport {
  previewCreates: number;
  previewTouchedFile: boolean; // did preview write the managed file? (it must not)
  firstUp: OpMap;
  secondUp: OpMap;
  update: OpMap;
  contentAfterUpdate: string | undefined;
  driftPreview: OpMap;
  contentAfterDriftPreview: string | undefined;
  repairUp: OpMap;
  contentAfterRepair: string | undefined;
  fileAfterDestroy: boolean;
  echoed?: string;
  seconds: number;
}

function readOrUndefined(p: string): string | undefined {
  return fs.existsSync(p) ? fs.readFileSync(p, "utf8") : undefined;
}

export async function runSmoke(opts: SmokeOptions = {}): Promise<SmokeReport> {
  const started = Date.now();
  const log = opts.log ?? (() => {});
  const { stack, dir, dispose } = await tempStack(SMOKE_DIR, "smoke");
  const target = path.join(dir, "managed.txt");
  const onOutput = (s: string) => log(s.trimEnd());
  try {
    await stack.setAllConfig({
      path: { value: target },
      content: { value: "v1" },
      brokenDiff: { value: String(!!opts.brokenDiff) },
      withCommand: { value: String(!!opts.withCommand) },
    });
    const preview = await stack.preview({ onOutput });
    const previewTouchedFile = fs.existsSync(target);
    const firstUp = (await stack.up({ onOutput })).summary.resourceChanges ?? {};
    const secondUp = (await stack.up({ onOutput })).summary.resourceChanges ?? {};

    await stack.setConfig("content", { value: "v2" });
    const updated = await stack.up({ onOutput });
    const contentAfterUpdate = readOrUndefined(target);

    fs.writeFileSync(target, "edited by hand"); // drift
    const driftPreview = (await stack.preview({ onOutput })).changeSummary;
    const contentAfterDriftPreview = readOrUndefined(target);
    const repairUp = (await stack.up({ onOutput })).summary.resourceChanges ?? {};
    const contentAfterRepair = readOrUndefined(target);
    const echoed = (await stack.outputs()).echoed?.value as string | undefined;

    await stack.destroy({ onOutput });
    return {
      previewCreates: preview.changeSummary.create ?? 0,
      previewTouchedFile,
      firstUp,
      secondUp,
      update: updated.summary.resourceChanges ?? {},
      contentAfterUpdate,
      driftPreview,
      contentAfterDriftPreview,
      repairUp,
      contentAfterRepair,
      fileAfterDestroy: fs.existsSync(target),
      echoed,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await dispose();
  }
}

if (require.main === module) {
  runSmoke({
    log: process.env.PVE_FABRIC_VERBOSE === "1" ? (l) => process.stderr.write(l + "\n") : undefined,
  }).then(
    (r) => {
      const fmt = (ops: OpMap) => JSON.stringify(changesOf(ops));
      console.log(`engine smoke: ${r.seconds.toFixed(1)} s with ${process.env.PVE_FABRIC_ENGINE_BIN}/pulumi`);
      console.log(
        `  preview          plans ${r.previewCreates} creates, wrote nothing: ${!r.previewTouchedFile}`,
      );
      console.log(`  up               ${fmt(r.firstUp)}`);
      console.log(`  up again         ${fmt(r.secondUp)}`);
      console.log(`  up (content=v2)  ${fmt(r.update)} -> file holds '${r.contentAfterUpdate}'`);
      console.log(
        `  preview (drift)  ${fmt(r.driftPreview)}, file untouched: '${r.contentAfterDriftPreview}'`,
      );
      console.log(`  up (repair)      ${fmt(r.repairUp)} -> file holds '${r.contentAfterRepair}'`);
      console.log(`  destroy          file removed: ${!r.fileAfterDestroy}`);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
