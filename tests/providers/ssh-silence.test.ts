// A link that goes silent under a running command (a WAN outage: no reset, packets just stop). Without SSH
// keepalives the command waits for ever and so does `pulumi up`; with them the pool ends it with an error that
// names the host, the command and the cause. Lab hosts, real sshd, nftables dropping port 22 both ways.
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as path from "node:path";
import { down, enterArgs, up, type LabStatus } from "../../lab/lab";
import { checkoutLabName } from "../lab-name";

const LAB = checkoutLabName("sshs");
const ROOT = path.resolve(__dirname, "../..");
const SILENCE =
  "add table inet silence; add chain inet silence in { type filter hook input priority -300; }; " +
  "add rule inet silence in tcp dport 22 drop; add chain inet silence out { type filter hook output priority -300; }; " +
  "add rule inet silence out tcp sport 22 drop";

describe("SSH pool: a link that goes silent mid-command", function () {
  this.timeout(120_000);
  let s: LabStatus;

  before(async () => {
    await down(LAB);
    s = await up({ name: LAB, sites: [{ name: "roz" }, { name: "wro" }] }, { api: false });
    assert.equal(s.state, "up", s.problems.join("; "));
  });
  after(() => down(LAB));
  afterEach(() => {
    const [cmd, ...args] = [...enterArgs(LAB, "roz"), "nft", "delete table inet silence"];
    spawnSync(cmd, args);
  });

  function probe(silence: boolean, keepaliveMs: string): Promise<Record<string, unknown>> {
    const h = s.sites[0].hosts[0];
    const args = {
      host: h.address,
      hostKey: h.hostKey,
      keyFile: s.operator!.sshPrivateKeyFile,
      watchdogMs: 15_000,
      ...(silence ? { silence: [...enterArgs(LAB, "roz"), "nft", SILENCE] } : {}),
    };
    const argv = [
      ...enterArgs(LAB, "operator"),
      process.execPath,
      "-r",
      "ts-node/register/transpile-only",
      path.join(ROOT, "tests/providers/ssh-silence-probe.ts"),
      JSON.stringify(args),
    ];
    return new Promise((resolve) => {
      const p = spawn(argv[0], argv.slice(1), {
        cwd: ROOT,
        env: { ...process.env, PVE_FABRIC_SSH_KEEPALIVE_MS: keepaliveMs },
      });
      let out = "";
      let err = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (err += d));
      p.on("close", (code) => {
        try {
          resolve(JSON.parse(out.trim().split("\n").pop()!));
        } catch {
          resolve({ crashed: code, stderr: err.slice(-2000) });
        }
      });
    });
  }

  it("positive control: the same command on a healthy link completes", async () => {
    assert.deepEqual(await probe(false, "1000"), { ok: true, stdout: "done" });
  });

  it("ends the command with SshLostError naming host, command and the keepalive timeout", async () => {
    const r = await probe(true, "1000");
    assert.equal(r.name, "SshLostError", JSON.stringify(r));
    assert.match(
      r.message as string,
      new RegExp(
        `^the SSH connection to root@${s.sites[0].hosts[0].address.replace(/\./g, "\\.")}:22 was lost while running: sleep 2; echo done \\(Keepalive timeout\\)`,
      ),
    );
  });

  it("negative control: with keepalives off the command is still waiting when the watchdog fires", async () => {
    const r = await probe(true, "0");
    assert.equal(r.hung, true, JSON.stringify(r));
  });
});
