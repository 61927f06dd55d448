// The naive baseline of tests/bench/site-bench.ts (see its header for why it is a stand-in for
// remote.Command): one resource per step, each with its own SSH connection and one command, run on create,
// update and in diff, so a preview reads the host once per step as pve-fabric's preview does per resource.
// The output is not compared (a naive program would, but that is negligible next to the dial): a step only
// changes when its command or host does.
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import type { SshTarget } from "../../../providers/host/ssh";
import { loadRuntime } from "../../../providers/runtime";
import type * as stepOps from "./step";

interface StepInputs {
  connection: SshTarget;
  command: string;
}

const STEP = "tests/bench/naive-program/step";

const provider: pulumi.dynamic.ResourceProvider = {
  async diff(_id: string, olds: StepInputs, news: StepInputs) {
    await loadRuntime<typeof stepOps>(STEP).runStep(news.connection, news.command);
    return { changes: olds.command !== news.command || olds.connection.host !== news.connection.host };
  },
  async create(inputs: StepInputs) {
    await loadRuntime<typeof stepOps>(STEP).runStep(inputs.connection, inputs.command);
    return { id: require("node:crypto").randomUUID(), outs: inputs };
  },
  async update(_id: string, _olds: StepInputs, news: StepInputs) {
    await loadRuntime<typeof stepOps>(STEP).runStep(news.connection, news.command);
    return { outs: news };
  },
};

class Step extends pulumi.dynamic.Resource {
  constructor(name: string, args: { connection: pulumi.Input<SshTarget>; command: string }) {
    super(provider, name, args, { additionalSecretOutputs: ["connection"] });
  }
}

const config = new pulumi.Config();
// The steps come in a file (site-bench.ts writes it): probe scripts can exceed a command line's limit.
const steps = JSON.parse(fs.readFileSync(config.require("stepsFile"), "utf8")) as {
  connection: Omit<SshTarget, "privateKey">;
  command: string;
}[];
const privateKey = config.requireSecret("sshPrivateKey");
steps.forEach((s, i) => {
  new Step(`step-${i}`, {
    connection: privateKey.apply((k) => ({ ...s.connection, privateKey: k })),
    command: s.command,
  });
});
export const stepCount = steps.length;
