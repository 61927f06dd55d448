import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { quote, sh } from "../../providers/host/quote";
import { RemoteCommandError, HostKeyMismatchError, tail } from "../../providers/host/errors";

describe("host: quoting every remote argument", () => {
  it("leaves plain words bare and single-quotes everything else", () => {
    assert.equal(quote("wg0"), "wg0");
    assert.equal(quote("/etc/sysctl.d/90-x.conf"), "/etc/sysctl.d/90-x.conf");
    assert.equal(quote(""), "''");
    assert.equal(quote("a b"), "'a b'");
    assert.equal(quote("it's"), `'it'"'"'s'`);
  });

  it("round-trips hostile values through a real sh as single arguments", () => {
    const hostile = ["$(touch /tmp/pwned)", "`id`", "a;b", "x\ny", "'\"'", "*", "-rf /", "$HOME", "\\"];
    const cmd = sh`printf '%s\\0' ${hostile}`;
    const out = execFileSync("sh", ["-c", cmd]).toString().split("\0").slice(0, -1);
    assert.deepEqual(out, hostile);
  });

  it("quotes numbers and each element of an array, and keeps the template's literal parts as code", () => {
    assert.equal(sh`wg show ${"wg 0"} ${["a b", 7]} | head`, "wg show 'wg 0' 'a b' 7 | head");
  });
});

describe("host: typed errors", () => {
  it("a non-zero exit names host, command, exit code and the stderr tail (last 15 lines)", () => {
    const stderr = Array.from({ length: 40 }, (_, i) => `line ${i + 1}`).join("\n") + "\n";
    const e = new RemoteCommandError("root@198.18.1.10:22", "sysctl -p /etc/sysctl.d/x.conf", 255, stderr);
    assert.equal(e.exitCode, 255);
    assert.equal(e.stderrTail.split("\n").length, 15);
    assert.equal(e.stderrTail.split("\n")[0], "line 26");
    assert.equal(
      e.message.split("\n")[0],
      "command on root@198.18.1.10:22 exited 255: sysctl -p /etc/sysctl.d/x.conf",
    );
    assert.equal(tail("a\nb\n", 1), "b");
  });

  it("a host key mismatch names both fingerprints and what to do", () => {
    const e = new HostKeyMismatchError("root@h:22", "SHA256:expected", "SHA256:actual");
    assert.match(e.message, /expected SHA256:expected, the host presented SHA256:actual/);
    assert.match(e.message, /update the pinned hostKey/);
    assert.equal(e.name, "HostKeyMismatchError");
  });
});
