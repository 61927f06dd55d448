// The translation step (lab/realize/): PVE's generated files → what this kernel and FRR 8.4 run. Pure,
// except that FRR's own parser (`vtysh -C`, Debian's 8.4.4) checks every translated conformance frr.conf.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { iptablesToNft, UntranslatableError } from "../../lab/realize/iptables";
import {
  parseStanzas,
  RealiseError,
  translate,
  translateFrr,
  translateHook,
} from "../../lab/realize/translate";
import { CONFORMANCE_DIR as CASES } from "../conformance";

const read = (c: string, f: string) => fs.readFileSync(path.join(CASES, c, f), "utf8");

describe("lab realisation: translation of PVE's generated files", () => {
  it("translates PVE's SNAT and conntrack-zone hooks into the nft commands iptables-nft would run", () => {
    assert.deepEqual(
      iptablesToNft(
        "iptables -t nat -A POSTROUTING -s '10.1.1.0/24' -o vmbr0 -j SNAT --to-source 192.168.0.1",
      ),
      [
        "nft add table ip nat",
        "nft 'add chain ip nat POSTROUTING { type nat hook postrouting priority srcnat; policy accept; }'",
        `nft 'add rule ip nat POSTROUTING ip saddr 10.1.1.0/24 oifname "vmbr0" snat to 192.168.0.1'`,
      ],
    );
    assert.deepEqual(iptablesToNft("iptables -t raw -I PREROUTING -i fwbr+ -j CT --zone 1").slice(2), [
      `nft 'insert rule ip raw PREROUTING iifname "fwbr*" ct zone set 1'`,
    ]);
    assert.equal(
      iptablesToNft("ip6tables -t nat -D POSTROUTING -s 'fd00::/64' -o vmbr0 -j SNAT --to-source fd00::1")
        .length,
      2,
    );
  });

  it("refuses an iptables form PVE does not generate instead of dropping it", () => {
    assert.throws(() => iptablesToNft("iptables -t filter -A FORWARD -j DROP"), UntranslatableError);
    assert.throws(() => translateHook("echo hello"), /no lab translation for the hook command 'echo hello'/);
  });

  it("moves `ip route … vrf X` hooks into the zone namespace X", () => {
    assert.deepEqual(translateHook("ip route del vrf vrf_myzone unreachable default metric 4278198272"), [
      "ip -n vrf_myzone route del unreachable default metric 4278198272",
    ]);
  });

  it("refuses an interface attribute it has no translation for, naming the interface and attribute", () => {
    assert.throws(
      () =>
        translate({
          interfacesSdn: "auto x\niface x\n\tbridge_ports none\n\tbond-mode 1\n",
          previousSdn: "",
          frrConf: "",
        }),
      (e: Error) =>
        e instanceof RealiseError &&
        /interface x: attribute 'bond-mode' has no lab translation/.test(e.message),
    );
  });

  it("parses the sdn file into stanzas with their attributes in order", function () {
    if (!fs.existsSync(CASES)) this.skip();
    const st = parseStanzas(read("exitnode_local_routing", "expected_sdn_interfaces"));
    assert.deepEqual(
      st.map((s) => s.name),
      ["myvnet", "vrf_myzone", "vrfbr_myzone", "vrfvx_myzone", "vxlan_myvnet", "xvrf_myzone", "xvrfp_myzone"],
    );
    assert.deepEqual(st[6].attrs, [
      ["link-type", "veth"],
      ["address", "10.255.255.2/30"],
      ["veth-peer-name", "xvrf_myzone"],
      ["vrf", "vrf_myzone"],
      ["mtu", "1500"],
    ]);
  });

  it("exit node: keeps xvrfp in the node with a policy rule into the zone, and leaks no subnet route with local routing on", function () {
    if (!fs.existsSync(CASES)) this.skip();
    const c = "exitnode_local_routing";
    const t = translate({
      interfacesSdn: read(c, "expected_sdn_interfaces"),
      previousSdn: "",
      frrConf: read(c, "expected_controller_config"),
    });
    assert.ok(
      t.script.includes(
        "ip rule show iif xvrfp_myzone | grep -q . || must ip rule add pref 1000 iif xvrfp_myzone lookup 1001",
      ),
    );
    assert.ok(t.script.includes("addrs - xvrfp_myzone noprefixroute 10.255.255.2/30"));
    assert.ok(
      t.script.includes("hook 'ip -n vrf_myzone route del unreachable default metric 4278198272' vrf_myzone"),
    );
    assert.doesNotMatch(t.script, /route replace \S+ dev lvrf_myzone proto 245/);
    assert.deepEqual(t.sdnIfaces.length, 7);
  });

  it("exit node with import vrf: the leak becomes a kernel route via the zone link, marked in frr.conf", function () {
    if (!fs.existsSync(CASES)) this.skip();
    const c = "exitnode";
    const t = translate({
      interfacesSdn: read(c, "expected_sdn_interfaces"),
      previousSdn: "",
      frrConf: read(c, "expected_controller_config"),
    });
    assert.match(t.script, /must ip route replace 10\.0\.0\.0\/24 dev lvrf_myzone proto 245/);
    assert.equal(
      (t.frrConf.match(/! lab: 'import vrf vrf_myzone' -> kernel routes via lvrf_myzone/g) ?? []).length,
      2,
    );
    assert.doesNotMatch(t.frrConf, /^\s*import vrf/m);
    assert.match(t.frrConf, /^vrf vrf_myzone\n netns \/run\/netns\/vrf_myzone\n/m);
    // MAP_VTEP_IN's default-route denies match the EVPN default route, not a prefix-list (FRR 8.4).
    assert.equal(
      (t.frrConf.match(/ match evpn route-type prefix\n match evpn default-route\n/g) ?? []).length,
      2,
    );
    assert.doesNotMatch(t.frrConf, /^ match ipv6? address prefix-list only_default/m);
    assert.match(
      t.frrConf,
      /^route-map MAP_VTEP_IN deny 1\n ! lab: [^\n]+\n match evpn route-type prefix\n/m,
    );
  });

  it("secondary exit node: MAP_VTEP_OUT's metric 200 applies to the EVPN default route", function () {
    if (!fs.existsSync(CASES)) this.skip();
    const t = translateFrr(read("exitnode_primary", "expected_controller_config"));
    assert.match(
      t.text,
      /^route-map MAP_VTEP_OUT permit 1\n ! lab: [^\n]+\n match evpn route-type prefix\n match evpn default-route\n set metric 200\nexit$/m,
    );
    assert.match(t.text, /^route-map MAP_VTEP_OUT permit 3\nexit$/m);
  });

  it("non-exit node: no route-map clause is translated", function () {
    if (!fs.existsSync(CASES)) this.skip();
    const t = translateFrr(read("ipv4", "expected_controller_config"));
    assert.doesNotMatch(t.text, /match evpn/);
    assert.deepEqual(t.importedVrfs, []);
  });

  it("every translated conformance frr.conf parses with FRR 8.4's own parser (vtysh -C)", function () {
    if (!fs.existsSync(CASES) || !fs.existsSync("/usr/bin/vtysh")) this.skip();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "frr-"));
    try {
      const cases = fs
        .readdirSync(CASES)
        .filter((c) => fs.existsSync(path.join(CASES, c, "expected_controller_config")));
      assert.ok(cases.length >= 10, `conformance cases found: ${cases.length}`);
      for (const c of cases) {
        const f = path.join(dir, `${c}.conf`);
        fs.writeFileSync(f, translateFrr(read(c, "expected_controller_config")).text);
        const r = spawnSync("vtysh", ["-C", "-f", f], { encoding: "utf8" });
        assert.equal(r.status, 0, `${c}: ${r.stdout}${r.stderr}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
