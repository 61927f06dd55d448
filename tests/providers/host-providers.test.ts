// Host providers against real lab hosts (sshd, wireguard-go, FRR, the systemctl shim): one scenario run
// inside the operator namespace (host-scenario.ts) drives every provider method; each `it` checks one claim
// of issue 6 against its report.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { labDown, labUp, runInOperator } from "./host-lab";

/* eslint-disable @typescript-eslint/no-explicit-any */
describe("host providers against lab hosts", function () {
  this.timeout(300_000);
  let r: any;
  let stderr = "";
  const audit = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "host-prov-")), "audit.jsonl");

  before(async () => {
    await labDown(); // a killed earlier run must not leave state behind
    await labUp();
    const out = await runInOperator("tests/providers/host-scenario.ts", [], { PVE_FABRIC_SSH_AUDIT: audit });
    stderr = out.stderr;
    const line = out.stdout.split("\n").find((l) => l.startsWith("@@report "));
    r = line
      ? JSON.parse(line.slice("@@report ".length))
      : { fatal: `no report (exit ${out.code}): ${out.stderr}` };
    assert.equal(r.fatal, undefined, r.fatal);
  });
  after(async () => {
    await labDown();
    fs.rmSync(path.dirname(audit), { recursive: true, force: true });
  });

  const FIVE = {
    "net.bridge.bridge-nf-call-ip6tables": "1",
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
    "net.ipv4.ip_forward": "1",
  };

  it("check names the field, the value and the rule for bad input", () => {
    assert.deepEqual(r.checkFailures, [
      {
        property: "name",
        reason: `name: name is the drop-in's file name without .conf (e.g. 90-pve-fabric) (got "90 x")`,
      },
      {
        property: "values.net.ipv4.ip_forward",
        reason: `values.net.ipv4.ip_forward: a value is one line without '=' (got "1\\n2")`,
      },
    ]);
  });

  it("sysctls: create writes the drop-in and the live values (2 writes) and reports what it read back", () => {
    assert.equal(r.sysctlsCreate.writes, 2);
    assert.deepEqual(r.sysctlsCreate.observed, { dropInPresent: true, values: FIVE });
    assert.deepEqual(r.sysctlsCreate.previous, {
      dropIn: null,
      values: { ...FIVE, "net.ipv4.ip_forward": "0" },
    });
  });

  it("a second apply of every resource finds no change and performs zero writes", () => {
    assert.deepEqual(r.sysctlsSecondApply, { changed: false, writes: 0 });
    assert.deepEqual(r.serviceSecondApply, { changed: false, writes: 0 });
    assert.deepEqual(r.wgSecondApply, [
      { changed: false, writes: 0 },
      { changed: false, writes: 0 },
    ]);
    assert.equal(r.packagesCreate.writes, 0, "packages already present: apt-get must not run");
  });

  it("drift injected by hand in every managed knob is detected by diff, named exactly, and repaired", () => {
    const peer = `peer ${r.wgPeered.wroPub.slice(0, 8)}`;
    const expected: Record<string, [string[], number]> = {
      "sysctl net.ipv4.ip_forward": [["net.ipv4.ip_forward"], 1],
      "sysctl net.bridge.bridge-nf-call-iptables": [["net.bridge.bridge-nf-call-iptables"], 1],
      "sysctl net.bridge.bridge-nf-call-ip6tables": [["net.bridge.bridge-nf-call-ip6tables"], 1],
      "sysctl net.ipv4.conf.all.rp_filter": [["net.ipv4.conf.all.rp_filter"], 1],
      "sysctl net.ipv4.conf.default.rp_filter": [["net.ipv4.conf.default.rp_filter"], 1],
      "sysctl dropIn edited": [["dropIn"], 1],
      "sysctl dropIn removed": [["dropIn"], 1],
      "service enabled": [["enabled"], 1],
      "service active": [["active"], 1],
      "service daemons.bgpd": [["daemons.bgpd"], 2], // the file, then a restart
      "wg config edited": [["config"], 2], // the file, then wg syncconf
      "wg listenPort": [["listenPort"], 1],
      "wg peer removed": [[`${peer}: missing`], 1],
      "wg peer allowedIps": [[`${peer}.allowedIps`], 1],
      "wg peer keepalive": [[`${peer}.persistentKeepalive`], 1],
      "wg peer endpoint": [[`${peer}.endpoint`], 1],
      // Deleting the address also makes the kernel drop the peer route that depended on it.
      "wg address": [["address", "route 10.2.0.0/16: missing"], 1],
      "wg mtu": [["mtu"], 1],
      "wg route": [["route 10.2.0.0/16: missing"], 1],
      "wg running key": [["publicKey"], 1],
      "wg enabled": [["enabled"], 1],
      "wg interface gone": [["interface"], 1],
    };
    assert.deepEqual(Object.keys(r.drift), Object.keys(expected));
    for (const [label, [names, writes]] of Object.entries(expected)) {
      assert.deepEqual(r.drift[label], { detected: true, names, repairWrites: writes, after: [] }, label);
    }
    assert.deepEqual(r.packagesMissing, { diff: true, names: ["pve-fabric-absent-package"] });
  });

  it("sysctls: update adds a key to the drop-in and the kernel", () => {
    assert.equal(r.sysctlsUpdate.changed, true);
    assert.equal(r.sysctlsUpdate.writes, 2);
    assert.match(r.sysctlsUpdate.file, /^net\.ipv4\.conf\.all\.log_martians = 1$/m);
    assert.equal(r.sysctlsUpdate.live, "1");
  });

  it("service: frr enabled and running with bgpd on, and bgpd back after a repair", () => {
    assert.equal(r.serviceCreate.writes, 3); // daemons file, enable, start
    assert.deepEqual(
      [
        r.serviceCreate.observed.enabled,
        r.serviceCreate.observed.active,
        r.serviceCreate.observed.daemons.bgpd,
      ],
      [true, true, "yes"],
    );
    assert.deepEqual([r.serviceCreate.previous.enabled, r.serviceCreate.previous.active], [false, false]);
    assert.equal(r.serviceCreate.bgpd, "running");
    assert.equal(r.serviceBgpdAfterRepair, "running");
  });

  it("two hosts converged by the WireGuard provider hand-shake and ping each other's tunnel address", () => {
    assert.deepEqual([r.wgPeered.rozToWro, r.wgPeered.wroToRoz], ["ok", "ok"]);
    assert.ok(r.wgHandshake > 1_700_000_000, `latest handshake ${r.wgHandshake}`);
    assert.match(r.wgPeered.rozPub, /^[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(r.wgPeered.rozPub, r.wgPeered.wroPub);
  });

  it("peer changes go through wg syncconf: same interface and wireguard-go process, tunnel keeps working", () => {
    assert.equal(r.wgPeerAdd.linkAfter, r.wgPeerAdd.linkBefore);
    assert.equal(r.wgPeerRemove.linkAfter, r.wgPeerAdd.linkBefore);
    assert.deepEqual(
      r.wgPeerAdd.peers,
      [r.wgPeered.wroPub, "Nq5Xm6y7Fq1V3o1H0cQ9bq0gC2Tt8pR3nH8xk2bqz0s="].sort(),
    );
    assert.equal(r.wgPeerAdd.route, "10.3.0.0/16 dev wg0 scope link");
    assert.equal(r.wgPeerRemove.route, "");
    assert.deepEqual([r.wgPeerAdd.writes, r.wgPeerRemove.writes], [3, 3]); // config, syncconf, route
    assert.deepEqual([r.wgPeerAdd.ping, r.wgPeerRemove.ping, r.wgAfterDrift.ping], ["ok", "ok", "ok"]);
  });

  it("key rotation on demand: a new public key, the host runs it, and the tunnel comes back", () => {
    assert.notEqual(r.wgRotation.newPub, r.wgRotation.oldPub);
    assert.equal(r.wgRotation.onHost, r.wgRotation.newPub);
    assert.equal(r.wgRotation.ping, "ok");
  });

  it("a host key mismatch is a hard error naming both fingerprints", () => {
    const m = r.errors.mismatch;
    assert.equal(m.name, "HostKeyMismatchError");
    assert.ok(m.message.includes(`expected ${m.expected}, the host presented ${m.actual}`), m.message);
  });

  it("dialling retries a bounded number of times, logging 'attempt n/m', then fails with a typed error", () => {
    const d = r.errors.dial;
    assert.equal(d.name, "SshConnectError");
    assert.equal(d.attempts, 3);
    assert.deepEqual(
      d.logs.map((l: string) => /attempt (\d\/\d)/.exec(l)?.[1]),
      ["1/3", "2/3", "3/3"],
    );
  });

  it("a non-zero exit raises a typed error with host, command, exit code and stderr tail", () => {
    assert.deepEqual(
      { ...r.errors.exit, message: undefined },
      {
        name: "RemoteCommandError",
        host: r.hostIds.roz,
        command: "printf 'one\\ntwo\\n' >&2; exit 3",
        exitCode: 3,
        stderrTail: "one\ntwo",
        message: undefined,
      },
    );
    assert.match(
      r.errors.provider.message,
      /^Unable to create service 'pve-fabric-nonexistent' on [\d.]+: command on root@[\d.]+:22 exited 5: systemctl enable pve-fabric-nonexistent\.service\n/,
    );
  });

  it("one SSH handshake per host for the whole run", () => {
    assert.deepEqual(r.handshakes, { [r.hostIds.roz]: 1, [r.hostIds.wro]: 1 });
    const lines = fs
      .readFileSync(audit, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.filter((l) => l.event === "handshake").length, 2);
  });

  it("delete restores the host: drop-in, sysctl values, frr state and daemons, no WireGuard left", () => {
    assert.equal(r.hostAfter, r.hostBefore);
    assert.equal(r.wroWgAfter, "disabled");
    assert.equal(r.readAfterDelete, "");
  });

  it("no WireGuard or SSH private key in any output, log line, error or the audit trail", () => {
    assert.equal(r.secretScan.wgKeysSeen, 3); // positive control: the keys were read (by hand) to grep for
    assert.equal(r.secretScan.sshKeyLines, 5);
    assert.deepEqual([r.secretScan.wgKeyHits, r.secretScan.sshKeyHits], [0, 0]);
    assert.ok(r.auditLines > 100);
    assert.doesNotMatch(stderr, /PRIVATE KEY/);
  });
});
