// Secret fields: present-and-encrypted, environment references, plain text refused with the
// `pulumi config set --secret` hint, missing ones named, and no secret value in any message.
import assert from "node:assert/strict";
import { inspect } from "node:util";
import { checkStack, formatProblems, resolveSecret, type Problem } from "../../fabric";
import { rozStack, seedFabric } from "./fixtures/fabric";

const PLAIN = "5f0c2a3e-1b7d-4e8a-9c6f-2d4b8e1a7c90";

function refused(config: Record<string, unknown>): Problem[] {
  const r = checkStack({ stack: "roz", fabric: seedFabric(), config });
  assert.equal(r.ok, false);
  return r.ok ? [] : r.problems;
}

describe("fabric secrets", () => {
  it("refuses an API token secret in plain text, with the pulumi config set --secret hint", () => {
    const config = rozStack();
    config.api.tokenSecret = PLAIN;
    const problems = refused(config);
    assert.deepEqual(problems, [
      {
        path: "pve-fabric:api.tokenSecret",
        value: "[redacted]",
        rule: "the Proxmox API token secret is given in plain text; secrets must be stored encrypted",
        fix: "run `pulumi config set --secret --path 'api.tokenSecret' <value> --stack roz` (it replaces the plain value), then rotate the exposed secret",
      },
    ]);
    assert.equal(formatProblems(problems).includes(PLAIN), false, "the secret leaked into the message");
  });

  it("refuses a plain SSH private key and never echoes it", () => {
    const config = rozStack();
    const key =
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----";
    config.nodes.pve1 = { ...config.nodes.pve1, agent: false, privateKey: key };
    const problems = refused(config);
    assert.deepEqual(
      problems.map((p) => [p.path, p.value]),
      [["pve-fabric:nodes.pve1.privateKey", "[redacted]"]],
    );
    assert.match(
      problems[0].fix,
      /pulumi config set --secret --path 'nodes\["pve1"\]\.privateKey' <value> --stack roz/,
    );
    assert.equal(formatProblems(problems).includes("b3BlbnNzaC1rZXktdjEAAAAA"), false);
  });

  it("names missing secrets: the token, and an SSH key when there is no agent", () => {
    const config = rozStack();
    delete config.api.tokenSecret;
    delete config.nodes.pve1.agent;
    const problems = refused(config);
    assert.deepEqual(
      problems.map((p) => [p.path, p.value, p.rule]),
      [
        ["pve-fabric:api.tokenSecret", undefined, "the Proxmox API token secret is required and missing"],
        [
          "pve-fabric:nodes.pve1.privateKey",
          undefined,
          "the SSH private key for node pve1 (or agent: true) is required and missing",
        ],
      ],
    );
    assert.match(problems[1].fix, /set agent: true to use \$SSH_AUTH_SOCK$/);
  });

  it("redacts a malformed secret object too", () => {
    const config = rozStack();
    config.api.tokenSecret = { secure: PLAIN, extra: 1 };
    const [p] = refused(config);
    assert.equal(p.value, "[redacted]");
    assert.equal(JSON.stringify(p).includes(PLAIN), false);
  });

  it("treats { secure } as present and { env } as a reference resolved at run time", () => {
    const config = rozStack();
    config.nodes.pve1 = { ...config.nodes.pve1, agent: false, privateKey: { env: "ROZ_SSH_KEY" } };
    const r = checkStack({ stack: "roz", fabric: seedFabric(), config });
    assert.ok(r.ok);
    assert.deepEqual(r.access.api.tokenSecret, { kind: "encrypted" });
    const auth = r.access.nodes.pve1.auth;
    assert.deepEqual(auth, { kind: "key", key: { kind: "env", name: "ROZ_SSH_KEY" } });
    assert.equal(auth.kind === "key" && resolveSecret(auth.key, { ROZ_SSH_KEY: "k" })?.reveal(), "k");
    assert.equal(auth.kind === "key" && resolveSecret(auth.key, {}), undefined);
  });

  it("accepts a plain string only under a key the engine reports as decrypted, and keeps it unprintable", () => {
    const config = rozStack();
    config.api.tokenSecret = PLAIN;
    const r = checkStack(
      { stack: "roz", fabric: seedFabric(), config },
      { decryptedKeys: ["pve-fabric:api"] },
    );
    assert.ok(r.ok);
    const ref = r.access.api.tokenSecret;
    assert.equal(ref.kind, "value");
    const secret = resolveSecret(ref, {})!;
    assert.equal(secret.reveal(), PLAIN);
    for (const shown of [String(secret), JSON.stringify(r.access), inspect(r.access, { depth: 9 })]) {
      assert.equal(shown.includes(PLAIN), false, `leaked in: ${shown}`);
    }
    assert.match(JSON.stringify(r.access), /"tokenSecret":\{"kind":"value","value":"\[secret\]"\}/);
  });
});
