// Other sites' stack outputs are input (components/peer-facts.ts): parsed before anything uses them. A value
// that breaks a rule names the site, the output and the rule, and never reaches a shell or a file; an output
// that is absent (the site has not run yet) is pending, not malformed (ADR 003).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { checkStack, type CheckedStack } from "../../fabric";
import { runChecks, type CheckIO, type Sections } from "../../components/check";
import { isEndpoint, isWireGuardKey, readPeerFacts, type RawPeerOutputs } from "../../components/peer-facts";
import { checkSpecFor, planSite, wgPeers, type PeerFacts } from "../../components/plan";
import { parseSiteSettings } from "../../components/settings";
import { parseProbe, probeScript } from "../../providers/host/ssh";
import { rozStack, seedFabric } from "./fixtures/fabric";

const ROZ_KEY = Buffer.alloc(32, 1).toString("base64");
const WRO_KEY = Buffer.alloc(32, 7).toString("base64");
const STACK = "organization/pve-fabric/wro";

/** wro's outputs exactly as index.ts publishes them (docs/outputs.md). */
const published = (over: { wireguard?: unknown; sdntest?: unknown } = {}): RawPeerOutputs => ({
  wireguard: {
    nodes: {
      "pve-wro": { publicKey: WRO_KEY, endpoint: "wro.example.net:51820", tunnelAddress: "10.2.0.1" },
    },
    knownPeers: [ROZ_KEY],
  },
  sdntest: { vmid: 123, node: "pve-wro", address: "10.2.1.11" },
  ...over,
});
const withNode = (node: Record<string, unknown>) =>
  published({
    wireguard: {
      nodes: {
        "pve-wro": {
          publicKey: WRO_KEY,
          endpoint: "wro.example.net:51820",
          tunnelAddress: "10.2.0.1",
          ...node,
        },
      },
      knownPeers: [ROZ_KEY],
    },
  });

const read = (raw: RawPeerOutputs) => readPeerFacts("wro", STACK, "roz", raw);
const problems = (raw: RawPeerOutputs) => {
  const r = read(raw);
  assert.equal(r.ok, false, "refused");
  return r.ok ? [] : r.problems.map((p) => [p.path, p.value, p.rule]);
};

function roz(): CheckedStack {
  const r = checkStack({ stack: "roz", fabric: seedFabric(), config: rozStack() });
  if (!r.ok) assert.fail(JSON.stringify(r.problems));
  return r;
}
const settings = () => {
  const r = parseSiteSettings({ check: { outside: "198.18.0.1" } });
  if (!r.ok) assert.fail(JSON.stringify(r.problems));
  return r.settings;
};

describe("other sites' stack outputs", () => {
  it("reads what a site publishes, unchanged", () => {
    const r = read(published());
    assert.ok(r.ok);
    assert.deepEqual(r.facts, published());
  });

  it("takes outputs a site has not published yet as pending, not malformed (bootstrap, ADR 003)", () => {
    const none = read({ wireguard: undefined, sdntest: undefined });
    assert.deepEqual(none, { ok: true, facts: {} });
    const noVm = read(published({ sdntest: null }));
    assert.ok(noVm.ok);
    assert.equal(noVm.facts.sdntest, null);
    const c = roz();
    const p = planSite(c, settings());
    const spec = checkSpecFor(p, c, settings(), { wro: none.ok ? none.facts : undefined }, { pve1: ROZ_KEY });
    assert.deepEqual(
      [spec.peers[0].pending, spec.sdntest!.targets[0].pending],
      [
        "wro has not published pve-wro's WireGuard key: run `pulumi up -s wro`, then again here",
        "wro has not published pve-wro's WireGuard key: run `pulumi up -s wro`, then again here",
      ],
    );
  });

  it("names the site, the output, the value and the rule, and the fix", () => {
    const r = read(
      published({ sdntest: { vmid: 123, node: "pve-wro", address: "10.2.1.11; touch /tmp/x" } }),
    );
    assert.equal(r.ok, false);
    assert.equal(
      r.ok ? "" : r.message,
      [
        `Unable to read the published facts of site 'wro' on roz: 1 value in the outputs of stack ${STACK} breaks ` +
          "its rule, so nothing from that stack is used:",
        '  1. sdntest.address = "10.2.1.11; touch /tmp/x"',
        "     rule: must be an IPv4 address in dotted-quad form",
        "Fix: these outputs are written by `pulumi up -s wro`: run it with this version of pve-fabric to publish " +
          "them again, and check that pve-fabric-site:stackReference names wro's stack (ADR 003).",
      ].join("\n"),
    );
  });

  it("refuses each malformed value with its field named", () => {
    const KEY_RULE =
      "must be a WireGuard public key: 44 characters of base64 for 32 bytes, ending in '=' (as `wg pubkey` prints it)";
    const ENDPOINT_RULE = "must be host:port: a DNS name or IP address and a port 1-65535";
    const IPV4_RULE = "must be an IPv4 address in dotted-quad form";
    const NL = `${WRO_KEY}\n[Peer]`;
    assert.deepEqual(problems(withNode({ publicKey: NL })), [
      ["wireguard.nodes.pve-wro.publicKey", NL, KEY_RULE],
    ]);
    assert.deepEqual(problems(withNode({ publicKey: WRO_KEY.slice(1) })), [
      ["wireguard.nodes.pve-wro.publicKey", WRO_KEY.slice(1), KEY_RULE],
    ]);
    // 44 characters of base64, but not the canonical text of 32 bytes (the last character carries stray bits).
    const stray = `${WRO_KEY.slice(0, 42)}B=`;
    assert.deepEqual(problems(withNode({ publicKey: stray })), [
      ["wireguard.nodes.pve-wro.publicKey", stray, KEY_RULE],
    ]);
    assert.deepEqual(problems(withNode({ endpoint: "wro.example.net" })), [
      ["wireguard.nodes.pve-wro.endpoint", "wro.example.net", ENDPOINT_RULE],
    ]);
    assert.deepEqual(problems(withNode({ endpoint: "wro.example.net:70000" })), [
      ["wireguard.nodes.pve-wro.endpoint", "wro.example.net:70000", ENDPOINT_RULE],
    ]);
    assert.deepEqual(problems(withNode({ endpoint: "$(reboot):51820" })), [
      ["wireguard.nodes.pve-wro.endpoint", "$(reboot):51820", ENDPOINT_RULE],
    ]);
    assert.deepEqual(problems(withNode({ tunnelAddress: "10.2.0.256" })), [
      ["wireguard.nodes.pve-wro.tunnelAddress", "10.2.0.256", IPV4_RULE],
    ]);
    assert.deepEqual(problems(withNode({ publicKey: undefined })), [
      ["wireguard.nodes.pve-wro.publicKey", undefined, "is required"],
    ]);
    assert.deepEqual(problems(withNode({ listenPort: 51820 })), [
      [
        "wireguard.nodes.pve-wro.listenPort",
        "[hidden]",
        "unknown key 'listenPort' (its value is not shown: it may be a secret typed in the wrong place)",
      ],
    ]);
    assert.deepEqual(problems(published({ wireguard: { nodes: {}, knownPeers: [ROZ_KEY, "x y"] } })), [
      ["wireguard.knownPeers[1]", "x y", KEY_RULE],
    ]);
    assert.deepEqual(problems(published({ wireguard: { nodes: { "pve wro": {} }, knownPeers: [] } })), [
      ["wireguard.nodes.pve wro", "pve wro", "must be a PVE node name (a host name: letters, digits, '-')"],
    ]);
    assert.deepEqual(problems(published({ wireguard: null })), [
      ["wireguard", null, "expected object, received null"],
    ]);
    assert.deepEqual(
      problems(published({ sdntest: { vmid: 123, node: "pve-wro", address: "10.2.1.11/24" } })),
      [["sdntest.address", "10.2.1.11/24", IPV4_RULE]],
    );
    assert.deepEqual(problems(published({ sdntest: { vmid: 12, node: "pve-wro", address: "10.2.1.11" } })), [
      ["sdntest.vmid", 12, "Too small: expected number to be >=100"],
    ]);
  });

  it("accepts the endpoints and keys fabric.yaml and `wg pubkey` produce", () => {
    for (const ok of [
      "wro.example.net:51820",
      "203.0.113.7:51820",
      "[2001:db8::1]:51820",
      "2001:db8::1:51820",
    ])
      assert.ok(isEndpoint(ok), ok);
    for (const bad of [":51820", "wro.example.net:0", "wro.example.net:051820", "a b:1"])
      assert.ok(!isEndpoint(bad), bad);
    assert.ok(isWireGuardKey(WRO_KEY));
    assert.ok(!isWireGuardKey(`${WRO_KEY} `));
  });
});

describe("a hostile cross-stack value never reaches a shell or a file", () => {
  let dir: string;
  let marker: string;
  let pingLog: string;
  let shells: string[];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "peer-facts-"));
    marker = path.join(dir, "pwned");
    pingLog = path.join(dir, "ping.log");
    // A stand-in for ping that records its arguments, one per line, and answers as a reply would.
    fs.writeFileSync(
      path.join(dir, "ping"),
      `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done >> '${pingLog}'\n` +
        "echo '2 packets transmitted, 2 received, 0% packet loss'\n",
      { mode: 0o755 },
    );
    shells = [];
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A real sh for the VM's probe round (as the lab's netns probe runs it); the nodes answer from a recording. */
  const io = (): CheckIO => ({
    host: async (node, commands) => {
      shells.push(`host ${node}: ${probeScript(commands)}`);
      return {} as Sections;
    },
    vm: async (commands) => {
      const script = probeScript(commands);
      shells.push(`vm: ${script}`);
      const out = execFileSync("sh", ["-c", script], { env: { PATH: `${dir}:/usr/bin:/bin` } });
      return parseProbe(out.toString());
    },
  });

  /** As index.ts and Site wire it: parse the outputs, plan the check, run it. */
  async function toTheCheck(raw: RawPeerOutputs) {
    const r = read(raw);
    if (!r.ok) throw new Error(r.message);
    const c = roz();
    const s = settings();
    return runChecks(checkSpecFor(planSite(c, s), c, s, { wro: r.facts }, { pve1: ROZ_KEY }), io());
  }

  const hostile = (file: string) => `10.2.1.11; touch ${file}`;
  const withAddress = (address: string) => published({ sdntest: { vmid: 123, node: "pve-wro", address } });

  it("refuses an sdntest address carrying shell syntax before any shell runs (positive control: a good one runs)", async () => {
    await assert.rejects(toTheCheck(withAddress(hostile(marker))), /sdntest\.address = /);
    assert.equal(shells.length, 0, "no shell ran");
    assert.equal(fs.existsSync(marker), false);
    // Positive control: the same path with a valid address does run the probes, and ping gets the address.
    const rows = await toTheCheck(withAddress("10.2.1.11"));
    assert.equal(rows.find((r) => r.id === "overlay sdntest->wro")!.status, "pass");
    assert.deepEqual(
      shells.map((s) => s.split(":")[0]),
      ["host pve1", "vm"],
    );
    assert.match(fs.readFileSync(pingLog, "utf8"), /^10\.2\.1\.11$/m);
  });

  it("refuses a public key with a newline before it reaches a WireGuard config (positive control: a good key does)", () => {
    const host = planSite(roz(), settings()).hosts[0];
    const peersFor = (raw: RawPeerOutputs) => {
      const r = read(raw);
      if (!r.ok) throw new Error(r.message);
      return wgPeers(host, { pve1: ROZ_KEY }, { wro: r.facts as PeerFacts }, "roz").peers.map(
        (p) => p.publicKey,
      );
    };
    assert.throws(
      () => peersFor(withNode({ publicKey: `${WRO_KEY}\nEndpoint = 198.51.100.1:1` })),
      /publicKey/,
    );
    assert.deepEqual(peersFor(withNode({})), [WRO_KEY]);
  });

  it("quotes the address even if one got past the parse: sh passes it to ping as one argument", () => {
    // Defence in depth: the probe command built from a hostile value, run by a real sh.
    const value = hostile(marker);
    const good = read(published());
    assert.ok(good.ok);
    const spec = { wro: { ...good.facts, sdntest: { vmid: 123, node: "pve-wro", address: value } } };
    const c = roz();
    const s = settings();
    const check = checkSpecFor(planSite(c, s), c, s, spec, { pve1: ROZ_KEY });
    return runChecks(check, io()).then(() => {
      assert.equal(fs.existsSync(marker), false, "the hostile text ran as a command");
      assert.ok(fs.readFileSync(pingLog, "utf8").split("\n").includes(value), "ping got it as one argument");
      // Positive control: the same text unquoted in a command line does run the touch.
      execFileSync("sh", ["-c", `ping -c 1 ${value}`], { env: { PATH: `${dir}:/usr/bin:/bin` } });
      assert.equal(fs.existsSync(marker), true);
    });
  });
});
