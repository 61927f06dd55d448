// Entry point for one lab site's emulator:
//   node -r ts-node/register/transpile-only lab/pve/main.ts --site roz --listen 10.1.0.1:8006 \
//     --state-dir /run/lab/roz/pve --nodes pve1[=ip][,pve2[=ip]] --pve-version 9.1 --token-file tok.json
// Prints `ready` once listening (cert.pem and fingerprint are written before that).
import * as fs from "node:fs";
import { FirewallRealizer, reportOnNode, scriptRunner } from "../fw/realize";
import { execOn, labRealizer, targetOf, type LabRealiseConfig } from "../realize/realize";
import { labVmBackend, type LabVmConfig } from "../realize/vm";
import { createEmulator, type NodeSpec, type PveVersion, type RunningEmulator } from "./server";

function usage(msg: string): never {
  process.stderr.write(
    `pve emulator: ${msg}\nusage: main.ts --site <name> --listen <ip>:<port> --state-dir <dir> --nodes <n1[=ip][,n2[=ip]]> --pve-version <9.1|8.4> --token-file <file> [--root-password-file <file>] [--lab-config <file>]\n`,
  );
  process.exit(2);
}

export function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const k = argv[i];
    if (!k.startsWith("--") || argv[i + 1] === undefined) usage(`bad argument '${k}'`);
    out[k.slice(2)] = argv[i + 1];
  }
  return out;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  for (const k of ["site", "listen", "state-dir", "nodes", "token-file"])
    if (!a[k]) usage(`--${k} is required`);
  const version = (a["pve-version"] ?? "9.1") as PveVersion;
  if (version !== "9.1" && version !== "8.4") usage(`--pve-version must be 9.1 or 8.4, got '${version}'`);
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(a.listen);
  if (!m) usage(`--listen must be <ip>:<port>, got '${a.listen}'`);
  const [host, port] = [m[1], Number(m[2])];
  const nodes: NodeSpec[] = a.nodes.split(",").map((n) => {
    const [name, ip] = n.split("=");
    return { name, ip: ip ?? host };
  });
  const token = JSON.parse(fs.readFileSync(a["token-file"], "utf8")) as { tokenid?: string; secret?: string };
  if (!token.tokenid || !token.secret)
    usage(`token file must be JSON {"tokenid":"user@realm!id","secret":"<uuid>"}`);
  const rootPassword = a["root-password-file"]
    ? fs.readFileSync(a["root-password-file"], "utf8").trim()
    : undefined;
  // In a lab (lab/lab.ts passes --lab-config): apply realises SDN on the site's hosts, VMs are the
  // site's VM stand-in (lab/realize/).
  const lab = a["lab-config"]
    ? (JSON.parse(fs.readFileSync(a["lab-config"], "utf8")) as {
        realise: LabRealiseConfig;
        vm: LabVmConfig;
        firewall?: { management?: string[] };
      })
    : undefined;
  // Firewall realisation (lab/fw), in a lab only (never on the machine's own namespace): every firewall write
  // and lab start compile each node's ruleset and load it with nft; a node's ruleset is reloaded after its
  // SDN reload too (the +sdn ipsets follow the running config), and a failure there fails that node's reload.
  const ref: { emu?: RunningEmulator } = {};
  const fw = lab
    ? new FirewallRealizer({
        source: () => ref.emu!.emulator,
        runner: scriptRunner((node, script) => execOn(targetOf(lab.realise, node), script)),
        extraManagement: lab.firewall?.management,
        onResult: (node, error) => ref.emu && reportOnNode(ref.emu.emulator, node, error),
        log: (l) => process.stderr.write(`${l}\n`),
      })
    : undefined;
  const sdn = lab ? labRealizer(lab.realise, (l) => process.stderr.write(`realise: ${l}\n`)) : undefined;
  const emu = await createEmulator({
    site: a.site,
    stateDir: a["state-dir"],
    nodes,
    version,
    token: { tokenid: token.tokenid, secret: token.secret },
    rootPassword,
    host,
    port,
    ...(lab && sdn && fw
      ? {
          realize: async (node: string, config: Parameters<typeof sdn>[1]) => {
            await sdn(node, config);
            await fw.applyNode(node);
          },
          firewallChanged: () => fw.changed(),
          vmBackend: labVmBackend(lab.vm),
        }
      : {}),
  });
  ref.emu = emu;
  fw?.changed();
  const stop = () => {
    fw?.stop();
    void emu.close().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdout.write("ready\n");
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`pve emulator: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
