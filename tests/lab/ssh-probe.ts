// Runs inside a lab's operator namespace (spawned by lab.test.ts through nsenter): connects to each target
// with node-ssh, pinning the expected host key, runs one command, prints one JSON result per target.
// Args: a JSON object { privateKeyFile, command, targets: [{ host, hostKey }] }.
import { NodeSSH } from "node-ssh";

interface Probe {
  privateKeyFile: string;
  command: string;
  targets: { host: string; hostKey: string }[];
}

export interface ProbeResult {
  host: string;
  ok: boolean;
  stdout?: string;
  code?: number | null;
  error?: string;
  offeredKeyMatched?: boolean;
}

async function probe(p: Probe, t: Probe["targets"][number]): Promise<ProbeResult> {
  const expected = Buffer.from(t.hostKey.trim().split(/\s+/)[1], "base64");
  let offeredKeyMatched: boolean | undefined;
  const ssh = new NodeSSH();
  try {
    await ssh.connect({
      host: t.host,
      username: "root",
      privateKeyPath: p.privateKeyFile,
      readyTimeout: 5000,
      hostVerifier: (key: Buffer) => (offeredKeyMatched = key.equals(expected)),
    });
    const r = await ssh.execCommand(p.command);
    return { host: t.host, ok: true, stdout: r.stdout, code: r.code, offeredKeyMatched };
  } catch (e) {
    return { host: t.host, ok: false, error: e instanceof Error ? e.message : String(e), offeredKeyMatched };
  } finally {
    ssh.dispose();
  }
}

async function main() {
  const p = JSON.parse(process.argv[2]) as Probe;
  const results = await Promise.all(p.targets.map((t) => probe(p, t)));
  console.log(JSON.stringify(results));
}

void main();
