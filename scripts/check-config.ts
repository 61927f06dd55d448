// The config check for pull requests: validates Pulumi.<stack>.yaml (its `pve-fabric:` access settings and
// its `pve-fabric-site:` program settings) plus the fabric file without the Pulumi engine (secrets stay
// encrypted; `{ secure: ... }` counts as present).
//   npm run -s check-config -- --stack <site> [--dir <project dir>] [--syntax-only]
// Exit 0: valid, prints the derived plan. Exit 1: prints every problem. Exit 2: usage or unreadable file.
// --syntax-only reads only the stack file, as the engine would, and stops there: scripts/pulumi.sh runs it
// before the engine, whose own message for a broken stack file names neither the file nor, always, the right
// line. An empty stack file passes (a new stack's file is empty until `pulumi config set` fills it).
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { formatProblems, type Problem } from "../fabric/problems";
import { parseYamlText } from "../fabric/yaml";
// The model and the settings (zod and all) load only past --syntax-only, which runs before every
// `npm run pulumi -- … -s <site>` and should cost little.
type Model = typeof import("../fabric") & typeof import("../components/settings");
const model = (): Model => ({ ...require("../fabric"), ...require("../components/settings") });

const DEFAULT_FABRIC_FILE = "fabric.yaml";

function usage(message: string): never {
  process.stderr.write(
    `check-config: ${message}\nusage: npm run -s check-config -- --stack <site> [--dir <project dir>] [--syntax-only]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): { stack: string; dir: string; syntaxOnly: boolean } {
  let stack: string | undefined;
  let dir = ".";
  let syntaxOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if ((a === "--stack" || a === "-s") && argv[i + 1] !== undefined) stack = argv[++i];
    else if (a === "--dir" && argv[i + 1] !== undefined) dir = argv[++i];
    else if (a === "--syntax-only") syntaxOnly = true;
    else usage(`unexpected argument '${a}'`);
  }
  if (!stack) usage("--stack is required");
  return { stack, dir: resolve(dir), syntaxOnly };
}

function readText(path: string, hint: string): string {
  if (!existsSync(path)) usage(`${path} does not exist (${hint})`);
  return readFileSync(path, "utf8");
}

function main(): number {
  const { stack, dir, syntaxOnly } = parseArgs(process.argv.slice(2));
  const stackFile = `Pulumi.${stack}.yaml`;
  const stackDoc = parseYamlText(
    readText(join(dir, stackFile), `create it with \`pulumi stack init ${stack}\``),
    stackFile,
    "stack",
    { allowEmpty: syntaxOnly },
  );
  if (!stackDoc.ok) return fail(stackDoc.problems, stackFile, DEFAULT_FABRIC_FILE);
  if (syntaxOnly) return 0;
  const { checkStack, formatPlan, parseSiteSettings, SITE_NAMESPACE, stackConfigFromFile } = model();
  const cfg = stackConfigFromFile(stackDoc.value);
  const site = stackConfigFromFile(stackDoc.value, SITE_NAMESPACE);
  if (!cfg.ok) return fail(cfg.problems, stackFile, DEFAULT_FABRIC_FILE);
  if (!site.ok) return fail(site.problems, stackFile, DEFAULT_FABRIC_FILE);

  const fabricFile = typeof cfg.config.fabricFile === "string" ? cfg.config.fabricFile : DEFAULT_FABRIC_FILE;
  const fabricDoc = parseYamlText(
    readText(resolve(dir, fabricFile), "the fabric-wide definition, ADR 002"),
    fabricFile,
    "fabric",
  );
  if (!fabricDoc.ok) return fail(fabricDoc.problems, stackFile, fabricFile);

  // Both namespaces of the stack file and the fabric file: every problem in one run.
  const result = checkStack({ stack, fabric: fabricDoc.value, config: cfg.config });
  const settings = parseSiteSettings(site.config);
  const problems = [...(result.ok ? [] : result.problems), ...(settings.ok ? [] : settings.problems)];
  if (!result.ok || problems.length > 0) return fail(problems, stackFile, fabricFile);
  process.stdout.write(`${formatPlan(result)}\n`);
  return 0;
}

function fail(problems: readonly Problem[], stack: string, fabric: string): number {
  process.stderr.write(`${formatProblems(problems, { stack, fabric })}\n`);
  return 1;
}

process.exitCode = main();
