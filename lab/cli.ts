// `npm run lab -- <command>`: see lab/README.md.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { parse as parseYaml } from "yaml";
import { down, enterArgs, ownerRecord, REPO_ROOT, sshArgs, statusOf, up, type LabStatus } from "./lab";
import * as path from "node:path";
import { labDefinitionFromFabric } from "./fabric";
import { DEFAULT_SITES } from "./plan";
import { renderSdnCommand } from "./sdn/render-cli";

const USAGE = `usage: npm run lab -- [<command>] [options]
  (no command) [--fabric <fabric.yaml>]       the main job: lab up, stack configs, pulumi up for every site,
                                               the fabric check table; the lab stays up
  up [--fabric <fabric.yaml>] [--sites roz,wro,...] [--nodes <site>=<node>[,<node>...]]...
     [--config <lab.yaml|json>] [--base <cidr>] [--no-api] [--json]
                                               bring the lab up (idempotent; cleans a killed run).
                                               Default topology: ./fabric.yaml if present, else roz,wro
                                               Refused when the lab's name is taken by another checkout's
                                               lab or by namespaces no lab records
  down [--force]                               remove every namespace, process, mount and file the lab of
                                               this checkout made; --force: also a lab another checkout
                                               made (e.g. one since deleted) and unrecorded <lab>-* namespaces
  status [--json]                              what a stack config and a person debugging need
  exec <target> [-- <command...>]              run a command (default: a shell) in operator, internet,
                                               <site>, <site>/<node> or <site>/vm
  ssh <site>[/<node>] [-- <command...>]        OpenSSH from the operator namespace, host key pinned
  render-sdn --config <sdn_config.json> --interfaces <file> --node <name> --out <dir> [--route-via <if>]
                                               write what PVE would generate on that node (lab/sdn/README.md)
common: --name <lab> (default: $LAB_NAME or "lab")`;

class UsageError extends Error {}

interface Args {
  cmd: string;
  positional: string[];
  rest: string[]; // after --
  opts: Record<string, string[]>;
}

function parseArgs(argv: string[]): Args {
  const dd = argv.indexOf("--");
  const head = dd < 0 ? argv : argv.slice(0, dd);
  const rest = dd < 0 ? [] : argv.slice(dd + 1);
  const opts: Record<string, string[]> = {};
  const positional: string[] = [];
  const flags = new Set(["json", "no-api", "help", "force"]);
  for (let i = 0; i < head.length; i++) {
    const a = head[i];
    if (a.startsWith("--")) {
      const [k, inline] = a.slice(2).split("=", 2);
      const v = flags.has(k) ? "true" : (inline ?? head[++i]);
      if (v === undefined) throw new UsageError(`option --${k} needs a value`);
      (opts[k] ??= []).push(v);
    } else positional.push(a);
  }
  return { cmd: positional[0] ?? "", positional: positional.slice(1), rest, opts };
}

function definitionFrom(a: Args): Record<string, unknown> {
  let def: Record<string, unknown> = {};
  const fabricFile = a.opts.fabric?.[0] ?? (a.opts.config || a.opts.sites ? undefined : defaultFabric());
  if (fabricFile) {
    const r = labDefinitionFromFabric(parseYaml(fs.readFileSync(fabricFile, "utf8")), fabricFile);
    for (const w of r.warnings) console.error(`warning: ${w}`);
    def = r.definition as Record<string, unknown>;
  } else if (a.opts.config) {
    const file = a.opts.config[0];
    const text = fs.readFileSync(file, "utf8");
    def = (file.endsWith(".json") ? JSON.parse(text) : parseYaml(text)) ?? {};
  }
  const sitesOpt = a.opts.sites?.[0];
  if (sitesOpt || !def.sites) {
    def.sites = (sitesOpt ? sitesOpt.split(",") : DEFAULT_SITES).map((name) => ({ name }));
  }
  for (const spec of a.opts.nodes ?? []) {
    const [site, list] = spec.split("=", 2);
    const s = (def.sites as { name: string; nodes?: string[] }[]).find((x) => x.name === site);
    if (!s || !list)
      throw new UsageError(`--nodes ${spec}: write <site>=<node>[,<node>...] for a site of the lab`);
    s.nodes = list.split(",");
  }
  if (a.opts.base) def.base = a.opts.base[0];
  def.name = a.opts.name?.[0] ?? (def.name as string | undefined) ?? process.env.LAB_NAME ?? "lab";
  return def;
}

function defaultFabric(): string | undefined {
  const f = path.resolve("fabric.yaml");
  return fs.existsSync(f) ? f : undefined;
}

function printStatus(s: LabStatus) {
  console.log(`lab ${s.lab}: ${s.state}${s.base ? ` (base ${s.base})` : ""}`);
  for (const p of s.problems) console.log(`  ! ${p}`);
  if (s.operator)
    console.log(
      `  operator  ${s.operator.address}  netns ${s.operator.netns}  key ${s.operator.sshPrivateKeyFile}`,
    );
  for (const site of s.sites) {
    console.log(
      `  site ${site.name}  ${site.subnet}  PVE ${site.pveVersion}  API ${site.api.url ?? "(not started)"}`,
    );
    for (const h of site.hosts) {
      console.log(
        `    host ${h.name}  ${h.address}  ${h.running ? "running" : "STOPPED"}  ${h.hostKeyFingerprint}`,
      );
    }
    for (const v of site.vms) {
      const addrs = v.nics.map((n) => `${n.name}=${n.address ?? "-"}@${n.bridge ?? n.tap}`).join(" ");
      console.log(`    vm ${v.vmid} on ${v.host}  ${addrs}`);
    }
  }
}

async function main(argv: string[]): Promise<number> {
  // render-sdn has its own argument rules (lab/sdn/render-cli.ts) and needs no lab.
  if (argv[0] === "render-sdn") return renderSdnCommand(argv.slice(1));
  const a = parseArgs(argv);
  const name = a.opts.name?.[0] ?? process.env.LAB_NAME ?? "lab";
  const json = !!a.opts.json;
  switch (a.cmd) {
    case "up": {
      const s = await up(definitionFrom(a), {
        api: a.opts["no-api"] ? false : undefined,
        log: (l) => console.error(l),
      });
      if (json) console.log(JSON.stringify(s, null, 2));
      else printStatus(s);
      return s.state === "up" ? 0 : 1;
    }
    case "down": {
      const t = Date.now();
      const r = await down(name, { force: !!a.opts.force, log: (l) => console.error(l) });
      console.error(
        `lab ${name} down in ${((Date.now() - t) / 1000).toFixed(2)} s: removed ${r.namespaces} namespaces, ` +
          `${r.processes} processes, ${r.mounts} mounts`,
      );
      return 0;
    }
    case "status": {
      const s = statusOf(name);
      if (json) console.log(JSON.stringify(s, null, 2));
      else printStatus(s);
      const owner = ownerRecord(name)?.checkout;
      if (!json && owner && owner !== REPO_ROOT) console.log(`  (a lab named '${name}' runs from ${owner})`);
      return s.state === "up" ? 0 : s.state === "down" ? 3 : 1;
    }
    case "exec":
    case "ssh": {
      const target = a.positional[0];
      if (!target) throw new UsageError(`${a.cmd} needs a target`);
      const prefix = a.cmd === "exec" ? enterArgs(name, target) : sshArgs(name, target);
      const cmd = a.cmd === "exec" && a.rest.length === 0 ? ["/bin/bash"] : a.rest;
      const r = spawnSync(prefix[0], [...prefix.slice(1), ...cmd], { stdio: "inherit" });
      return r.status ?? 1;
    }
    case "":
      // No command: the main job (lab/main.ts) — lab up, stack configs, `pulumi up` per site, check table.
      return (await import("./main")).main({ name: a.opts.name?.[0], fabric: a.opts.fabric?.[0] });
    case "help":
      console.log(USAGE);
      return 0;
    default:
      throw new UsageError(`unknown command '${a.cmd}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    if (e instanceof UsageError) console.error(USAGE);
    process.exit(1);
  },
);
