// The config check for pull requests: validates Pulumi.<stack>.yaml plus the fabric file without the
// Pulumi engine (secrets stay encrypted; `{ secure: ... }` counts as present).
//   npm run -s check-config -- --stack <site> [--dir <project dir>]
// Exit 0: valid, prints the derived plan. Exit 1: prints every problem. Exit 2: usage or unreadable file.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { checkStack, formatPlan, formatProblems, parseYamlText, stackConfigFromFile } from "../fabric";

const DEFAULT_FABRIC_FILE = "fabric.yaml";

function usage(message: string): never {
  process.stderr.write(
    `check-config: ${message}\nusage: npm run -s check-config -- --stack <site> [--dir <project dir>]\n`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): { stack: string; dir: string } {
  let stack: string | undefined;
  let dir = ".";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if ((a === "--stack" || a === "-s") && argv[i + 1] !== undefined) stack = argv[++i];
    else if (a === "--dir" && argv[i + 1] !== undefined) dir = argv[++i];
    else usage(`unexpected argument '${a}'`);
  }
  if (!stack) usage("--stack is required");
  return { stack, dir: resolve(dir) };
}

function readText(path: string, hint: string): string {
  if (!existsSync(path)) usage(`${path} does not exist (${hint})`);
  return readFileSync(path, "utf8");
}

function main(): number {
  const { stack, dir } = parseArgs(process.argv.slice(2));
  const stackFile = `Pulumi.${stack}.yaml`;
  const stackDoc = parseYamlText(
    readText(join(dir, stackFile), `create it with \`pulumi stack init ${stack}\``),
    stackFile,
  );
  if (!stackDoc.ok) return fail(stackDoc.problems, stackFile, DEFAULT_FABRIC_FILE);
  const cfg = stackConfigFromFile(stackDoc.value);
  if (!cfg.ok) return fail(cfg.problems, stackFile, DEFAULT_FABRIC_FILE);

  const fabricFile = typeof cfg.config.fabricFile === "string" ? cfg.config.fabricFile : DEFAULT_FABRIC_FILE;
  const fabricDoc = parseYamlText(
    readText(resolve(dir, fabricFile), "the fabric-wide definition, ADR 002"),
    fabricFile,
  );
  if (!fabricDoc.ok) return fail(fabricDoc.problems, stackFile, fabricFile);

  const result = checkStack({ stack, fabric: fabricDoc.value, config: cfg.config });
  if (!result.ok) return fail(result.problems, stackFile, fabricFile);
  process.stdout.write(`${formatPlan(result)}\n`);
  return 0;
}

function fail(problems: Parameters<typeof formatProblems>[0], stack: string, fabric: string): number {
  process.stderr.write(`${formatProblems(problems, { stack, fabric })}\n`);
  return 1;
}

process.exitCode = main();
