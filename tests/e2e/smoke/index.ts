// Engine smoke program: one dynamic resource built the way pve-fabric's providers are (methods load the
// live layer at run time, diff and read look at the live object so drift shows in preview), and, when the
// command provider is installed, one @pulumi/command local.Command.
import * as pulumi from "@pulumi/pulumi";
import { loadRuntime } from "../../../providers/runtime";
import type * as ops from "./file-ops";

interface FileInputs {
  path: string;
  content: string;
}

const OPS = "tests/e2e/smoke/file-ops.ts";

const provider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: FileInputs, news: FileInputs) {
    const failures = [];
    if (typeof news.path !== "string" || !news.path.startsWith("/"))
      failures.push({ property: "path", reason: `path must be absolute, got '${news.path}'` });
    return { inputs: news, failures };
  },
  async diff(_id: string, olds: FileInputs, news: FileInputs) {
    const live = loadRuntime<typeof ops>(OPS).readLive(olds.path);
    const replaces = olds.path !== news.path ? ["path"] : [];
    const changes = replaces.length > 0 || live?.content !== news.content;
    return { changes, replaces, deleteBeforeReplace: true };
  },
  async read(id: string, props: FileInputs) {
    const live = loadRuntime<typeof ops>(OPS).readLive(props.path);
    // A vanished file reads as no id: the engine then plans a create.
    return live ? { id, props: live } : { id: "", props: {} };
  },
  async create(inputs: FileInputs) {
    return { id: inputs.path, outs: loadRuntime<typeof ops>(OPS).writeLive(inputs.path, inputs.content) };
  },
  async update(_id: string, _olds: FileInputs, news: FileInputs) {
    return { outs: loadRuntime<typeof ops>(OPS).writeLive(news.path, news.content) };
  },
  async delete(_id: string, props: FileInputs) {
    loadRuntime<typeof ops>(OPS).removeLive(props.path);
  },
};

// The negative control for tests/e2e/engine.test.ts: a provider whose diff never reports a change.
const brokenDiff: pulumi.dynamic.ResourceProvider = {
  ...provider,
  async diff() {
    return { changes: false };
  },
};

class SmokeFile extends pulumi.dynamic.Resource {
  declare readonly content: pulumi.Output<string>;
  constructor(name: string, args: { path: string; content: string }, broken: boolean) {
    super(broken ? brokenDiff : provider, name, { ...args, content: args.content }, {});
  }
}

const config = new pulumi.Config();
const file = new SmokeFile(
  "file",
  { path: config.require("path"), content: config.require("content") },
  config.getBoolean("brokenDiff") ?? false,
);
export const content = file.content;

if (config.getBoolean("withCommand")) {
  // Loaded only on request: without the command plugin the engine fails at registration.
  const command = require("@pulumi/command") as typeof import("@pulumi/command");
  const echo = new command.local.Command("echo", { create: pulumi.interpolate`printf %s ${file.content}` });
  exports.echoed = echo.stdout;
}
