// `render-sdn`: print what PVE would write on one node for a running SDN config.
//   render-sdn --config <sdn_config.json> --interfaces <file> --node <name> --out <dir> [--route-via <iface>]
// writes <dir>/interfaces.sdn and <dir>/frr.conf. Dispatched from the lab CLI; also runnable alone:
//   node_modules/.bin/ts-node --transpile-only lab/sdn/render-cli.ts --config … --interfaces … --node … --out …
import * as fs from "node:fs";
import * as path from "node:path";
import { generateSdn, parseInterfaces, routeLookupVia, type GenerateOptions } from "./generate";

const USAGE =
  "usage: render-sdn --config <sdn_config.json> --interfaces <file> --node <name> --out <dir> [--route-via <iface>]\n" +
  "  --route-via <iface>  answer every `ip route get` with <iface> and its IPv4 address, as PVE's own test\n" +
  "                       harness does (needed to reproduce its fixtures); default: routes derived from\n" +
  "                       the interfaces file (connected subnets, then the interface with the gateway)\n";

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
}

const processIo: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

/** Returns the exit code: 0 written, 1 generation failed, 2 bad usage or unreadable input. */
export function renderSdnCommand(argv: string[], io: CliIo = processIo): number {
  const known = ["--config", "--interfaces", "--node", "--out", "--route-via"];
  const args: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-h" || a === "--help") {
      io.out(USAGE);
      return 0;
    }
    if (!known.includes(a) || i + 1 >= argv.length) {
      io.err(`render-sdn: ${known.includes(a) ? `${a} needs a value` : `unknown argument '${a}'`}\n${USAGE}`);
      return 2;
    }
    args[a.slice(2)] = argv[++i];
  }
  const missing = ["config", "interfaces", "node", "out"].filter((k) => !args[k]);
  if (missing.length) {
    io.err(`render-sdn: missing ${missing.map((k) => `--${k}`).join(", ")}\n${USAGE}`);
    return 2;
  }

  let config: unknown;
  let interfacesText: string;
  try {
    interfacesText = fs.readFileSync(args.interfaces, "utf8");
    const configText = fs.readFileSync(args.config, "utf8");
    try {
      config = JSON.parse(configText);
    } catch (e) {
      io.err(
        `render-sdn: --config ${args.config} is not JSON (${(e as Error).message}); pass PVE's running SDN config\n`,
      );
      return 2;
    }
  } catch (e) {
    io.err(`render-sdn: cannot read input: ${(e as Error).message}\n`);
    return 2;
  }

  const options: GenerateOptions = {};
  if (args["route-via"])
    options.routeLookup = routeLookupVia(parseInterfaces(interfacesText), args["route-via"]);
  let files;
  try {
    files = generateSdn(config, args.node, interfacesText, options);
  } catch (e) {
    io.err(`render-sdn: ${(e as Error).message}\n`);
    return 1;
  }
  for (const w of files.warnings) io.err(`render-sdn: warning: ${w}\n`);

  fs.mkdirSync(args.out, { recursive: true });
  const written: [string, string][] = [
    [path.join(args.out, "interfaces.sdn"), files.interfacesSdn],
    [path.join(args.out, "frr.conf"), files.frrConf],
  ];
  for (const [file, text] of written) {
    fs.writeFileSync(file, text);
    io.out(`${file}\t${text.split("\n").length - 1} lines\n`);
  }
  return 0;
}

if (require.main === module) process.exitCode = renderSdnCommand(process.argv.slice(2));
