import { strict as assert } from "node:assert";
import { parseSysctlOutput, renderSysctlDropIn, sysctlDropInPath } from "../../providers/render/sysctl";
import { parseFrrDaemons, setFrrDaemons } from "../../providers/render/frr-daemons";

describe("render: sysctl drop-in", () => {
  it("renders the seed's five sysctls sorted by key, one 'key = value' line each", () => {
    const text = renderSysctlDropIn({
      "net.ipv4.ip_forward": "1",
      "net.bridge.bridge-nf-call-iptables": "1",
      "net.bridge.bridge-nf-call-ip6tables": "1",
      "net.ipv4.conf.all.rp_filter": "0",
      "net.ipv4.conf.default.rp_filter": "0",
    });
    assert.equal(
      text,
      [
        "# Managed by pve-fabric; edits are reported as drift and overwritten.",
        "net.bridge.bridge-nf-call-ip6tables = 1",
        "net.bridge.bridge-nf-call-iptables = 1",
        "net.ipv4.conf.all.rp_filter = 0",
        "net.ipv4.conf.default.rp_filter = 0",
        "net.ipv4.ip_forward = 1",
        "",
      ].join("\n"),
    );
    assert.equal(sysctlDropInPath("90-pve-fabric"), "/etc/sysctl.d/90-pve-fabric.conf");
  });

  it("parses `sysctl -e` output, normalising tab-separated multi-values and skipping noise", () => {
    assert.deepEqual(
      parseSysctlOutput("net.ipv4.ip_forward = 1\nnet.ipv4.ip_local_port_range = 32768\t60999\n\ngarbage\n"),
      { "net.ipv4.ip_forward": "1", "net.ipv4.ip_local_port_range": "32768 60999" },
    );
  });
});

describe("render: /etc/frr/daemons", () => {
  const PKG =
    '# comment bgpd=no stays\nbgpd=no\nospfd=no\nvtysh_enable=yes\nbgpd_options="   -A 127.0.0.1"\n';

  it("switches bgpd on and leaves every other line as the package wrote it", () => {
    assert.equal(
      setFrrDaemons(PKG, { bgpd: "yes" }),
      '# comment bgpd=no stays\nbgpd=yes\nospfd=no\nvtysh_enable=yes\nbgpd_options="   -A 127.0.0.1"\n',
    );
  });

  it("appends a line for a daemon the file does not mention, keeping the final newline", () => {
    assert.equal(setFrrDaemons("bgpd=no\n", { bgpd: "yes", bfdd: "yes" }), "bgpd=yes\nbfdd=yes\n");
  });

  it("reads the yes/no value of each daemon line only (not options, not comments)", () => {
    assert.deepEqual(parseFrrDaemons(PKG), { bgpd: "no", ospfd: "no" });
  });
});
