// The config check as a user runs it: a real process, exit codes, and what it prints.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { join } from "node:path";

const ROOT = join(__dirname, "..", "..");

/** Exactly the README command (through npm and scripts/with-env.sh). */
function npmCheck(...args: string[]) {
  return spawnSync("npm", ["run", "-s", "check-config", "--", ...args], { cwd: ROOT, encoding: "utf8" });
}

/** The same script without npm, for the fixture cases (one process instead of three). */
function directCheck(...args: string[]) {
  const tsNode = join(ROOT, "node_modules", "ts-node", "dist", "bin.js");
  return spawnSync(process.execPath, [tsNode, "--transpile-only", "scripts/check-config.ts", ...args], {
    cwd: ROOT,
    encoding: "utf8",
  });
}

describe("check-config command", function () {
  this.timeout(120_000);

  for (const site of ["roz", "wro"]) {
    it(`exits 0 for the committed stack ${site} and prints the plan summary`, () => {
      const r = npmCheck("--stack", site);
      assert.equal(r.status, 0, r.stderr);
      const out = r.stdout;
      assert.match(out, new RegExp(`^stack ${site}: valid$`, "m"));
      assert.match(
        out,
        /^fabric: 2 sites \(roz, wro\), ASN 65000, controller evpnctl, zone crossite \(vrf-vxlan 99999\), vnets crossvnt \(VNI 100000\)$/m,
      );
      assert.match(
        out,
        /^MTU: overlay 1370 \(derived: underlay 1500 - 80 WireGuard - 50 VXLAN\), WireGuard 1420$/m,
      );
      assert.match(out, /^EVPN peers: 10\.1\.0\.1, 10\.2\.0\.1$/m);
      assert.match(out, /^ {2}roz {10}crossvnt 10\.1\.1\.0\/24 gw 10\.1\.1\.1 snat on/m);
      assert.match(out, /^ {2}wro {10}crossvnt 10\.2\.1\.0\/24 gw 10\.2\.1\.1 snat on/m);
      const remote = site === "roz" ? "10.2.1.0/24" : "10.1.1.0/24";
      assert.ok(out.includes(`firewall: remote subnets ${remote} -> ipset`), out);
      // The committed files carry placeholders; the check must say so rather than pass silently.
      assert.match(
        out,
        new RegExp(`placeholder: pve-fabric:api.tls.fingerprint is the all-zero fingerprint`),
      );
    });
  }

  it("exits 1 and lists every problem of both files and both stack namespaces, without echoing a secret", () => {
    const r = directCheck("--stack", "roz", "--dir", "tests/unit/fixtures/check-config-bad");
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, "");
    const paths = [...r.stderr.matchAll(/^ {2}\d+\. (\S+) = /gm)].map((m) => m[1]);
    assert.deepEqual(paths, [
      "pve-fabric:api.tokn",
      "pve-fabric:api.tokenSecret",
      "sites.wro.subnets.crossvnt.gateway",
      "sites.wro.nodes[0].tunnelAddress",
      "pve-fabric-site:operatorSources[0]",
      "pve-fabric-site:sdntest.vmid",
      "pve-fabric-site:apiToken",
    ]);
    assert.match(r.stderr, /^7 problems in the fabric configuration:$/m);
    assert.match(r.stderr, /pulumi config set --secret --path 'api\.tokenSecret' <value> --stack roz/);
    assert.equal(r.stderr.includes("dead-beef"), false, "the plain secret was printed");
    // Unknown keys: the value is never shown, wherever it sits (it may be a secret in the wrong place).
    assert.equal(r.stderr.includes("typo"), false, "an unknown key's value was printed");
    assert.equal(r.stderr.includes("11111111"), false, "an unknown key's value was printed");
    assert.match(
      r.stderr,
      /^ {2}7\. pve-fabric-site:apiToken = \[hidden\] {3}\(Pulumi\.roz\.yaml\)\n {5}rule: unknown key 'apiToken' \(its value is not shown: it may be a secret typed in the wrong place\)\n {5}fix: {2}remove it or correct its spelling \(docs\/guide\.md lists every key\)\. If it is a secret, store it under its own key with `pulumi config set --secret --path \.\.\.`$/m,
    );
    assert.match(
      r.stderr,
      /^ {2}6\. pve-fabric-site:sdntest\.vmid = 5 {3}\(Pulumi\.roz\.yaml\)\n {5}rule: Too small: expected number to be >=100\n/m,
    );
  });

  it("names the file, line, column and key of a YAML error, for the stack file and the fabric file", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "check-config-"));
    try {
      fs.writeFileSync(
        path.join(dir, "Pulumi.roz.yaml"),
        "config:\n  pve-fabric:api:\n    endpoint: https://pve1:8006\n    endpoint: https://pve2:8006\n",
      );
      fs.writeFileSync(path.join(dir, "fabric.yaml"), "");
      const stack = directCheck("--stack", "roz", "--dir", dir);
      assert.equal(stack.status, 1);
      assert.equal(
        stack.stderr.split("\n").slice(0, 3).join("\n"),
        "1 problem in the fabric configuration:\n" +
          "  1. config.pve-fabric:api.endpoint   (Pulumi.roz.yaml, line 4, column 5)\n" +
          "     rule: key 'endpoint' appears twice in one mapping (first at line 3); YAML refuses duplicate keys, and one of the two values would be lost",
      );
      fs.writeFileSync(path.join(dir, "Pulumi.roz.yaml"), "config: {}\n");
      const fabric = directCheck("--stack", "roz", "--dir", dir);
      assert.equal(fabric.status, 1);
      assert.match(fabric.stderr, /^ {2}1\. fabric\.yaml\n {5}rule: the file is empty$/m);
      // The check scripts/pulumi.sh runs before the engine: the stack file only, and a new (empty) one passes.
      fs.writeFileSync(path.join(dir, "Pulumi.roz.yaml"), "");
      assert.equal(directCheck("--stack", "roz", "--dir", dir, "--syntax-only").status, 0);
      fs.writeFileSync(path.join(dir, "Pulumi.roz.yaml"), "config:\n  a: [1\n  b: 2\n");
      const syntax = directCheck("--stack", "roz", "--dir", dir, "--syntax-only");
      assert.equal(syntax.status, 1);
      assert.match(syntax.stderr, /\(Pulumi\.roz\.yaml, line 3, column 3\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("`npm run pulumi -- … -s <site>` names a broken stack file's line before the engine reads it", () => {
    const name = `zz${process.pid}`;
    const file = join(ROOT, `Pulumi.${name}.yaml`);
    const backend = fs.mkdtempSync(path.join(os.tmpdir(), "check-config-backend-"));
    const run = () =>
      spawnSync("bash", ["scripts/pulumi.sh", "config", "-s", name], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, PULUMI_BACKEND_URL: `file://${backend}`, PULUMI_CONFIG_PASSPHRASE: "x" },
      });
    try {
      fs.writeFileSync(file, "config:\n  pve-fabric:api:\n    tls: [a\n  pve-fabric:nodes: {}\n");
      const broken = run();
      assert.equal(broken.status, 1);
      assert.match(
        broken.stderr,
        /^ {2}1\. config\.pve-fabric:api\.tls\[0\] {3}\(Pulumi\.zz\d+\.yaml, line 4, column 3\)$/m,
      );
      assert.equal(broken.stdout, "", "the engine did not run");
      // Positive control: a readable file goes on to the engine (which knows no such stack).
      fs.writeFileSync(file, "");
      const fine = run();
      assert.notEqual(fine.status, 0);
      assert.match(fine.stdout + fine.stderr, new RegExp(`no stack named '${name}' found`));
    } finally {
      fs.rmSync(file, { force: true });
      fs.rmSync(backend, { recursive: true, force: true });
    }
  });

  it("exits 2 with usage when the stack file does not exist", () => {
    const r = directCheck("--stack", "nosuch");
    assert.equal(r.status, 2);
    assert.match(
      r.stderr,
      /Pulumi\.nosuch\.yaml does not exist \(create it with `pulumi stack init nosuch`\)/,
    );
  });
});
