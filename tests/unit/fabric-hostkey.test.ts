// SSH host keys pinned as the `SHA256:` fingerprint or as the OpenSSH public-key line: the fingerprint of a
// key line is exactly what OpenSSH's own `ssh-keygen -lf` prints for it (keys made by the real ssh-keygen),
// and a line that is not a host key names what is wrong, at the field.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { checkStack, formatProblems, type Problem } from "../../fabric";
import { parseHostKey } from "../../fabric/hostkey";
import { parseSiteSettings } from "../../components/settings";
import { pinnedFingerprint } from "../../providers/host/ssh";
import { HOST_KEY, rozStack, seedFabric } from "./fixtures/fabric";
import { stackProblems } from "./fixtures/problems";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hostkey-"));
/** A fresh key from the real ssh-keygen: its .pub line and the fingerprint ssh-keygen prints for it. */
let made = 0;
function realKey(type: string, bits?: string): { line: string; fingerprint: string; file: string } {
  const file = path.join(dir, `${type}${bits ?? ""}-${++made}`);
  execFileSync("ssh-keygen", [
    "-q",
    "-t",
    type,
    ...(bits ? ["-b", bits] : []),
    "-N",
    "",
    "-C",
    "root@pve1",
    "-f",
    file,
  ]);
  const fingerprint = execFileSync("ssh-keygen", ["-lf", `${file}.pub`], { encoding: "utf8" }).split(" ")[1];
  return { line: fs.readFileSync(`${file}.pub`, "utf8").trim(), fingerprint, file };
}

function hostKeyProblems(hostKey: string): Problem[] {
  const config = rozStack();
  config.nodes.pve1.hostKey = hostKey;
  return stackProblems(seedFabric(), config);
}

const FIX =
  "paste the host's public key line (`cat /etc/ssh/ssh_host_ed25519_key.pub` on its console) or its " +
  "fingerprint (`ssh-keyscan -t ed25519 <host> | ssh-keygen -lf -`, the SHA256:... part)";

describe("SSH host keys: fingerprint or OpenSSH public-key line", () => {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [type, bits] of [["ed25519"], ["ecdsa", "256"], ["ecdsa", "521"], ["rsa", "2048"]]) {
    it(`derives the fingerprint of a ${type}${bits ? `-${bits}` : ""} key line exactly as ssh-keygen -lf prints it`, () => {
      const k = realKey(type, bits);
      const config = rozStack();
      config.nodes.pve1.hostKey = k.line;
      const r = checkStack({ stack: "roz", fabric: seedFabric(), config });
      assert.ok(r.ok, r.ok ? "" : formatProblems(r.problems));
      assert.equal(r.access.nodes.pve1.hostKey, k.fingerprint);
      // The SSH layer pins the same fingerprint from the same line (one parser).
      assert.equal(pinnedFingerprint(k.line), k.fingerprint);
    });
  }

  it("passes a fingerprint through unchanged (positive control)", () => {
    assert.deepEqual(parseHostKey(HOST_KEY), { ok: true, fingerprint: HOST_KEY });
  });

  it("refuses a key line whose blob is another type than the line says, at the field", () => {
    const ed = realKey("ed25519").line.split(" ")[1];
    const [p] = hostKeyProblems(`ecdsa-sha2-nistp256 ${ed} root@pve1`);
    assert.equal(p.path, "pve-fabric:nodes.pve1.hostKey");
    assert.equal(
      p.rule,
      "the key blob is a 'ssh-ed25519' key, but the line says 'ecdsa-sha2-nistp256' (parts of two keys?)",
    );
    assert.equal(p.fix, FIX);
  });

  it("refuses a key line cut short (not base64), an unknown type and a short fingerprint", () => {
    const ed = realKey("ed25519").line.split(" ")[1];
    const rules = [
      `ssh-ed25519 ${ed.slice(0, 30)}`,
      `ssh-dss ${ed}`,
      "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY",
      "pve1.example.net",
    ].map((k) => hostKeyProblems(k).map((p) => [p.path, p.rule]));
    assert.deepEqual(rules, [
      [["pve-fabric:nodes.pve1.hostKey", "the key is not valid base64 (cut short, wrapped or edited?)"]],
      [
        [
          "pve-fabric:nodes.pve1.hostKey",
          "'ssh-dss' is not an SSH host key type (one of ssh-ed25519, ecdsa-sha2-nistp256, ecdsa-sha2-nistp384, ecdsa-sha2-nistp521, ssh-rsa)",
        ],
      ],
      [
        [
          "pve-fabric:nodes.pve1.hostKey",
          "a SHA256 fingerprint is `SHA256:` and 43 base64 characters, as `ssh-keygen -lf` prints it",
        ],
      ],
      [
        [
          "pve-fabric:nodes.pve1.hostKey",
          "is neither a SHA256 fingerprint nor an OpenSSH public key line (`<type> <base64 key> [comment]`)",
        ],
      ],
    ]);
  });

  it("refuses a private key pasted as hostKey and never prints it", () => {
    const priv = fs.readFileSync(realKey("ed25519").file, "utf8");
    const problems = hostKeyProblems(priv);
    assert.deepEqual(
      problems.map((p) => p.path),
      ["pve-fabric:nodes.pve1.hostKey"],
    );
    assert.match(problems[0].rule, /^is a private key: pin the host's \*public\* key/);
    const text = formatProblems(problems);
    assert.ok(text.includes("pve-fabric:nodes.pve1.hostKey = [hidden] (it looks like a secret)"), text);
    assert.ok(!text.includes(priv.split("\n")[1].slice(0, 20)), "key material printed");
  });

  it("the sdntest probe's hostKey (pve-fabric-site:) takes both forms too", () => {
    const k = realKey("ed25519");
    const probe = (hostKey: string) =>
      parseSiteSettings({
        sdntest: { probe: { ssh: { host: "192.168.3.12", hostKey, privateKeyEnv: "SDNTEST_KEY" } } },
      });
    const ok = probe(k.line);
    assert.ok(ok.ok);
    assert.deepEqual(ok.settings.sdntest.probe, {
      ssh: {
        host: "192.168.3.12",
        port: 22,
        user: "root",
        hostKey: k.fingerprint,
        privateKeyEnv: "SDNTEST_KEY",
      },
    });
    const bad = probe("ssh-ed25519 AAAA");
    assert.equal(bad.ok, false);
    if (!bad.ok)
      assert.deepEqual(
        bad.problems.map((p) => p.path),
        ["pve-fabric-site:sdntest.probe.ssh.hostKey"],
      );
  });
});
