// Driving the real Pulumi engine from Node (tests, benchmarks, the smoke run): the provisioned CLI and a
// throwaway stack in its own file backend, so runs never share state, locks or passphrases.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, type OpMap, type Stack } from "@pulumi/pulumi/automation";

/** Changes other than "same", e.g. { update: 1 }; {} for a no-op. */
export function changesOf(ops: OpMap | undefined): Record<string, number> {
  return Object.fromEntries(
    Object.entries(ops ?? {}).filter(([op, n]) => op !== "same" && (n ?? 0) > 0),
  ) as Record<string, number>;
}

/** The CLI that scripts/bootstrap.sh provisioned (or found on PATH). */
export async function engineCommand(): Promise<PulumiCommand> {
  const bin = process.env.PVE_FABRIC_ENGINE_BIN;
  if (!bin)
    throw new Error("PVE_FABRIC_ENGINE_BIN is unset: run through scripts/with-env.sh (npm test / npm start)");
  return PulumiCommand.get({ root: path.dirname(bin) });
}

export interface TempStack {
  stack: Stack;
  /** Scratch directory holding the backend (`state/`) and PULUMI_HOME (`home/`); removed by dispose(). */
  dir: string;
  stateDir: string;
  /** Removes the stack, its Pulumi.<stack>.yaml in the program directory, and the scratch directory. */
  dispose(): Promise<void>;
}

/** A new stack of the program in `workDir`, in a fresh file backend with a random passphrase. */
export async function tempStack(
  workDir: string,
  prefix: string,
  envVars: Record<string, string> = {},
): Promise<TempStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `pve-fabric-${prefix}-`));
  const stateDir = path.join(dir, "state");
  // The file backend does not create its directory ("unable to open state directory ... no such file").
  fs.mkdirSync(stateDir);
  const stackName = `${prefix}-${crypto.randomBytes(4).toString("hex")}`;
  const stack = await LocalWorkspace.createStack(
    { stackName, workDir },
    {
      pulumiCommand: await engineCommand(),
      pulumiHome: path.join(dir, "home"),
      envVars: {
        PULUMI_BACKEND_URL: `file://${stateDir}`,
        PULUMI_CONFIG_PASSPHRASE: crypto.randomBytes(16).toString("hex"),
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        ...envVars,
      },
    },
  );
  return {
    stack,
    dir,
    stateDir,
    async dispose() {
      await stack.workspace.removeStack(stackName, { force: true }).catch(() => {});
      fs.rmSync(path.join(workDir, `Pulumi.${stackName}.yaml`), { force: true });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
