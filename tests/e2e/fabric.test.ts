// The acceptance run of issue 9, under the real engine against the lab: the program (index.ts) driven by the
// `pulumi` CLI exactly as docs/guide.md tells a user (stack init per site, then two rounds of `up`, ADR 003),
// with the CI workflow's commands (check-config, preview --diff) on the same stacks. Two sites emulating
// PVE 9.1 (roz) and 8.4 (wro); then a 3-site fabric with a 2-node site. ~9 min on 2 cores.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify, parse as parseYaml } from "yaml";
import { down, enterArgs, REPO_ROOT } from "../../lab/lab";
import {
  initStacks,
  prepare,
  programDir,
  pulumi,
  stackOutputs,
  upSite,
  type LabProgram,
} from "../../lab/main";
import { frrRouterMacBug, parseFrrVersion, type CheckResult } from "../../components/check";
import { checkoutLabName } from "../lab-name";

const LAB = checkoutLabName("fab2");
const LAB3 = checkoutLabName("fab3");
const verbose = process.env.PVE_FABRIC_VERBOSE === "1";
const log = (l: string) => verbose && console.error(l);

interface Checks {
  ok: boolean;
  pass: number;
  fail: number;
  pending: number;
  results: CheckResult[];
}

function sh(lab: string, target: string, script: string): string {
  const argv = [...enterArgs(lab, target, "/"), "/bin/sh", "-c", script];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${target}: ${script}: exit ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}

/** One API call from the operator namespace (curl, the lab's token): how a person edits PVE by hand. */
function api(p: LabProgram, site: string, method: string, apiPath: string): unknown {
  const s = p.status.sites.find((x) => x.name === site)!;
  const out = sh(
    p.lab,
    "operator",
    `curl -sk -X ${method} -H 'Authorization: PVEAPIToken=${s.api.tokenId}=${s.api.tokenSecret}' '${s.api.url}${apiPath}'`,
  );
  return (JSON.parse(out) as { data: unknown }).data;
}

async function up(p: LabProgram, site: string, extra: string[] = []) {
  const r = await upSite(p, site, log, extra);
  const all = r.stdout + r.stderr;
  // For assertion messages: the engine's diagnostics (the check table of a failure), not the outputs diff.
  const diag = all.slice(
    all.indexOf("Diagnostics:"),
    all.indexOf("Outputs:") > 0 ? all.indexOf("Outputs:") : undefined,
  );
  return { ...r, all, diag: diag.slice(0, 6000) };
}

async function checksOf(p: LabProgram, site: string): Promise<Checks> {
  return (await stackOutputs(p, site)).checks as Checks;
}

async function previewSteps(p: LabProgram, site: string): Promise<string[]> {
  const r = await pulumi(p, ["preview", "--json", "-s", site]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { steps: { op: string; urn: string }[] };
  return j.steps
    .filter((s) => !["same", "read"].includes(s.op))
    .map((s) => `${s.op} ${s.urn.split("::").pop()}`)
    .sort();
}

const byId = (c: Checks) => Object.fromEntries(c.results.map((r) => [r.id, r.status]));

/** ADR 003 / docs/guide.md: stacks first, then every site twice, in the same order. */
async function bootstrap(p: LabProgram) {
  await initStacks(p);
  for (const round of [1, 2])
    for (const site of p.sites) {
      const r = await up(p, site);
      assert.equal(r.code, 0, `round ${round} up -s ${site}:\n${r.diag}`);
    }
}

function grepTree(dir: string, needles: string[]): string[] {
  const hits: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const text = fs.readFileSync(path.join(e.parentPath, e.name), "utf8");
    for (const n of needles) if (text.includes(n)) hits.push(`${e.name}: ${n.slice(0, 8)}…`);
  }
  return hits;
}

describe("the program end to end (real engine, lab)", function () {
  this.timeout(15 * 60 * 1000);
  let p: LabProgram;

  before(async () => {
    await down(LAB);
    fs.rmSync(programDir(LAB), { recursive: true, force: true });
    p = await prepare({ name: LAB, pveVersions: { roz: "9.1", wro: "8.4" }, log });
  });
  after(async () => {
    if (process.env.PVE_FABRIC_KEEP_LAB !== "1") {
      await down(LAB);
      fs.rmSync(programDir(LAB), { recursive: true, force: true });
    }
  });

  it("bootstraps roz (PVE 9.1) and wro (PVE 8.4) from nothing and every check passes on both", async () => {
    assert.deepEqual(
      p.status.sites.map((s) => [s.name, s.pveVersion]),
      [
        ["roz", "9.1"],
        ["wro", "8.4"],
      ],
    );
    await bootstrap(p);
    for (const [site, other] of [
      ["roz", "wro"],
      ["wro", "roz"],
    ]) {
      const c = await checksOf(p, site);
      assert.deepEqual([c.ok, c.fail, c.pending], [true, 0, 0], JSON.stringify(c.results, null, 1));
      const s = byId(c);
      const node = p.status.sites.find((x) => x.name === site)!.hosts[0].name;
      const peer = p.status.sites.find((x) => x.name === other)!.hosts[0].name;
      for (const id of [
        `underlay ${node}->${other}/${peer}`,
        `control-plane ${node}->${other}/${peer}`,
        `vxlan ${node}->${other}/${peer}`,
        `overlay sdntest->${other}`,
        "snat sdntest->outside",
        "mtu fits",
        "mtu +1 refused",
      ])
        assert.equal(s[id], "pass", id);
    }
  });

  it("changes nothing and writes nothing on a second up of each site (positive control: the audit sees reads)", async () => {
    const audit = path.join(os.tmpdir(), `fabe2e-audit-${process.pid}.jsonl`);
    const emulatorState = (site: string) =>
      fs.readFileSync(path.join(p.status.dir, "run/sites", site, "pve/state.json"), "utf8");
    for (const site of p.sites) {
      fs.rmSync(audit, { force: true });
      const before = emulatorState(site);
      // --expect-no-changes: the engine itself fails the run if any resource changes.
      const r = await up({ ...p, env: { ...p.env, PVE_FABRIC_SSH_AUDIT: audit } }, site, [
        "--expect-no-changes",
      ]);
      assert.equal(r.code, 0, `${site}: ${r.diag}`);
      assert.match(r.all, /\d+ unchanged/);
      const events = fs
        .readFileSync(audit, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { event: string });
      assert.ok(events.filter((e) => e.event === "exec").length > 0, "the audit trail saw the reads");
      assert.equal(events.filter((e) => e.event === "write").length, 0, `${site}: SSH writes`);
      assert.equal(emulatorState(site), before, `${site}: the emulator's state changed`);
    }
    fs.rmSync(audit, { force: true });
  });

  it("runs the PR workflow's per-site step (config check + preview --diff) on every stack: both ok, nothing to change", () => {
    for (const site of p.sites) {
      const r = spawnSync("bash", [".github/workflows/preview-site.sh", site, p.dir], {
        cwd: REPO_ROOT,
        encoding: "utf8",
        env: {
          ...process.env,
          ...p.env,
          PREVIEW_PULUMI: [
            ...enterArgs(LAB, "operator"),
            path.join(process.env.PVE_FABRIC_ENGINE_BIN!, "pulumi"),
          ].join(" "),
        },
      });
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`^### Site \`${site}\``));
      assert.match(r.stdout, /Previewing update/);
      assert.match(r.stdout, /\d+ unchanged/);
      assert.doesNotMatch(r.stdout, /to (create|update|delete|replace)/);
      assert.match(r.stdout, new RegExp(`\\*\\*${site}: ok\\*\\*`));
    }
  });

  it("refuses a hostile value in another site's outputs before any shell runs; the up names site, output, rule", async () => {
    // wro's published sdntest address as a compromised or hand-edited state would carry it.
    // Short enough that the error shows the value whole (it cuts values at 80 characters).
    const marker = `/tmp/pfx-${process.pid}`;
    const hostile = `10.2.1.11; touch ${marker}`;
    const vmNetns = p.status.sites.find((s) => s.name === "roz")!.vms[0].netns;
    const exists = () => sh(LAB, "operator", `test -e '${marker}' && echo yes || echo no`) === "yes";
    // Positive control: the text does run its second command when a shell gets it unquoted in roz's VM netns,
    // where the check's probe runs, and the marker is seen from here.
    sh(LAB, "operator", `ip netns exec ${vmNetns} sh -c 'ping -n -c 1 -W 1 ${hostile}; true'`);
    assert.equal(exists(), true, "positive control: the marker appears");
    sh(LAB, "operator", `rm -f '${marker}'`);

    const exported = await pulumi(p, ["stack", "export", "-s", "wro"]);
    assert.equal(exported.code, 0, exported.stderr);
    const saved = path.join(p.dir, "wro-export.json");
    const edited = path.join(p.dir, "wro-hostile.json");
    fs.writeFileSync(saved, exported.stdout);
    const doc = JSON.parse(exported.stdout) as {
      deployment: { resources: { type: string; outputs?: { sdntest?: { address: string } } }[] };
    };
    doc.deployment.resources.find((r) => r.type === "pulumi:pulumi:Stack")!.outputs!.sdntest!.address =
      hostile;
    fs.writeFileSync(edited, JSON.stringify(doc));
    try {
      assert.equal((await pulumi(p, ["stack", "import", "-s", "wro", "--file", edited])).code, 0);
      const r = await up(p, "roz");
      assert.notEqual(r.code, 0, "the up fails");
      // The engine indents a message's lines in its diagnostics: compare line by line.
      const lines = [
        "Unable to read the published facts of site 'wro' on roz: 1 value in the outputs of stack " +
          "organization/pve-fabric/wro breaks its rule, so nothing from that stack is used:",
        `1. sdntest.address = ${JSON.stringify(hostile)}`,
        "rule: must be an IPv4 address in dotted-quad form",
      ];
      const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      assert.match(r.all, new RegExp(lines.map(escape).join("\\n\\s*")), r.diag);
      assert.doesNotMatch(r.all, /at readPeerFacts|peer-facts\.ts:\d+/, "no stack trace");
      assert.equal(exists(), false, "no shell ran the hostile text");
    } finally {
      assert.equal((await pulumi(p, ["stack", "import", "-s", "wro", "--file", saved])).code, 0);
      fs.rmSync(saved, { force: true });
      fs.rmSync(edited, { force: true });
    }
    // The refused up changed nothing anywhere: with wro's real outputs back, roz has nothing to do.
    const again = await up(p, "roz", ["--expect-no-changes"]);
    assert.equal(again.code, 0, again.diag);
  });

  it("lets another project attach a VM to roz's vnet from the stack outputs (examples/consumer, preview)", async () => {
    const dir = path.join(REPO_ROOT, "examples/consumer");
    const s = p.status.sites[0];
    const ex = { ...p, dir };
    const run = (args: string[]) => pulumi(ex, [...args, "-s", "app-roz"]);
    try {
      assert.equal((await run(["stack", "select", "--create", "--non-interactive"])).code, 0);
      const api = {
        url: s.api.url!.replace(/\/api2\/json$/, ""),
        tokenId: s.api.tokenId,
        fingerprint: s.api.fingerprint,
      };
      for (const a of [
        ["config", "set", "fabricStack", "organization/pve-fabric/roz"],
        ["config", "set", "hostIndex", "50"],
        ["config", "set", "api", JSON.stringify(api)],
        ["config", "set", "--secret", "tokenSecret", s.api.tokenSecret!],
      ])
        assert.equal((await run(a)).code, 0, a.join(" "));
      const r = await run(["preview", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const create = (
        JSON.parse(r.stdout) as {
          steps: { op: string; urn: string; newState?: { inputs: Record<string, unknown> } }[];
        }
      ).steps.find((x) => x.op === "create" && x.urn.endsWith("::app"))!;
      const i = create.newState!.inputs;
      assert.deepEqual(
        [i.vnet, i.address, i.gateway, i.node],
        ["crossvnt", "10.1.1.50/24", "10.1.1.1", s.hosts[0].name],
      );
    } finally {
      await run(["stack", "rm", "--yes", "--force"]);
      fs.rmSync(path.join(dir, "Pulumi.app-roz.yaml"), { force: true });
    }
  });

  it("shows rp_filter flipped on a host and a firewall rule deleted in PVE in preview, and up repairs both", async () => {
    sh(LAB, "roz", "sysctl -qw net.ipv4.conf.all.rp_filter=2");
    const rules = api(p, "roz", "GET", "/cluster/firewall/rules") as { pos: number; comment?: string }[];
    const bgp = rules.find((r) => r.comment?.startsWith("pve-fabric:bgp-in"))!;
    api(p, "roz", "DELETE", `/cluster/firewall/rules/${bgp.pos}`);

    const steps = await previewSteps(p, "roz");
    const node = p.status.sites[0].hosts[0].name;
    assert.ok(steps.includes(`update roz-${node}-sysctls`), steps.join("; "));
    assert.ok(steps.includes("update roz-fw-cluster"), steps.join("; "));

    const r = await up(p, "roz");
    assert.equal(r.code, 0, r.diag);
    assert.equal(sh(LAB, "roz", "sysctl -n net.ipv4.conf.all.rp_filter"), "0");
    const after = api(p, "roz", "GET", "/cluster/firewall/rules") as { comment?: string }[];
    assert.equal(after.filter((x) => x.comment?.startsWith("pve-fabric:bgp-in")).length, 1);
    assert.deepEqual([(await checksOf(p, "roz")).ok, (await checksOf(p, "roz")).fail], [true, 0]);
  });

  it("fails the check naming the firewall layer when the FORWARD rule is removed from the config; passes when restored", async () => {
    const set = await pulumi(p, [
      "config",
      "set",
      "--path",
      "pve-fabric-site:firewall.omitRules[0]",
      "fwd-in",
      "-s",
      "roz",
    ]);
    assert.equal(set.code, 0, set.stderr);
    const broken = await up(p, "roz");
    assert.notEqual(broken.code, 0, "the update fails");
    assert.match(broken.all, /the fabric check failed on roz/);
    assert.match(broken.all, /firewall forward 10\.2\.1\.0\/24->\+sdn\/crossvnt-all +FAIL/);
    assert.match(
      broken.all,
      /-> firewall: 10\.2\.1\.0\/24->\+sdn\/crossvnt-all is not accepted in FORWARD.*fwd-in/,
    );

    for (const args of [
      ["config", "rm", "pve-fabric-site:firewall", "-s", "roz"],
      ["config", "rm", "--path", "pve-fabric-site:check.settleSeconds", "-s", "roz"],
    ]) {
      const rm = await pulumi(p, args);
      assert.equal(rm.code, 0, rm.stderr);
    }
    const fixed = await up(p, "roz");
    assert.equal(fixed.code, 0, fixed.diag);
    const c = await checksOf(p, "roz");
    assert.deepEqual(
      [c.ok, c.fail, byId(c)["firewall forward 10.2.1.0/24->+sdn/crossvnt-all"]],
      [true, 0, "pass"],
    );
  });

  it("names a router MAC that FRR's zebra dropped (FRRouting/frr#16340), and its printed repair heals it", async () => {
    const vt = (site: string, ...cmds: string[]) =>
      sh(LAB, site, `vtysh ${cmds.map((c) => `-c '${c}'`).join(" ")}`);
    const denies = ["deny 1", "deny 2"].map((d) => [
      `route-map MAP_VTEP_IN ${d}`,
      "match evpn route-type prefix",
      "match evpn default-route",
    ]);
    const wroDefaultV6 = ["router bgp 65000 vrf vrf_crossite", "address-family l2vpn evpn"];
    // Break it as upstream's report does: roz takes IPv4 and IPv6 routes from wro, then wro withdraws its IPv6 one.
    vt("roz", "conf t", "no route-map MAP_VTEP_IN deny 1", "no route-map MAP_VTEP_IN deny 2", "end");
    vt("roz", "clear bgp l2vpn evpn 10.2.0.1 soft in");
    await new Promise((r) => setTimeout(r, 3000));
    assert.match(vt("roz", "show evpn next-hops vni all"), /::ffff:a02:1/);
    vt("wro", "conf t", ...wroDefaultV6, "no default-originate ipv6", "end");
    await new Promise((r) => setTimeout(r, 3000));
    const broken = await up(p, "roz");
    assert.notEqual(broken.code, 0, "the update fails");
    const row =
      /router-mac proxmox-dell-r740->wro\/pve-wro +FAIL +zebra routes via VTEP 10\.2\.0\.1 with router MAC \S+ but has no router-MAC entry/;
    assert.match(broken.all, row);
    const repair = /Repair: `(vtysh -c 'clear bgp l2vpn evpn 10\.2\.0\.1')` on this node/.exec(broken.all);
    assert.ok(repair, broken.diag);
    // The diagnosis names the FRR version on the node and that version's bug (read in the same probe round).
    const version = parseFrrVersion(sh(LAB, "roz", "vtysh -c 'show version'"));
    assert.ok(version, "the lab node's FRR prints its version");
    assert.ok(broken.all.includes(`Why: ${frrRouterMacBug(version)}`), broken.diag);
    assert.match(broken.all, /overlay sdntest->wro +FAIL .*\n.*-> blocked by the vxlan layer/);

    // Undo the configuration by hand: zebra still lacks the router MAC, then the printed repair restores it.
    vt("wro", "conf t", ...wroDefaultV6, "default-originate ipv6", "end");
    vt("roz", "conf t", ...denies[0], "exit", ...denies[1], "end");
    vt("roz", "clear bgp l2vpn evpn 10.2.0.1 soft in");
    await new Promise((r) => setTimeout(r, 3000));
    assert.doesNotMatch(vt("roz", "show evpn rmac vni all"), /10\.2\.0\.1/);
    sh(LAB, "roz", repair[1]);
    const fixed = await up(p, "roz");
    assert.equal(fixed.code, 0, fixed.diag);
    assert.equal(byId(await checksOf(p, "roz"))["router-mac proxmox-dell-r740->wro/pve-wro"], "pass");
  });

  it("survives an SSH link that goes silent mid-update: an error naming the host, whole files, the next up repairs", async () => {
    const node = p.status.sites[0].hosts[0];
    const audit = path.join(os.tmpdir(), `fabe2e-audit-${process.pid}.jsonl`);
    fs.rmSync(audit, { force: true });
    sh(LAB, "roz", "sysctl -qw net.ipv4.conf.all.rp_filter=2");
    const env = {
      ...p.env,
      PVE_FABRIC_SSH_AUDIT: audit,
      PVE_FABRIC_SSH_ATTEMPTS: "2",
      PVE_FABRIC_SSH_TIMEOUT_MS: "3000",
    };
    const running = up({ ...p, env }, "roz");
    // Once a provider holds its connection to roz, the link goes silent both ways (no RST: a WAN outage).
    const handshake = `"host":"root@${node.address}:22","event":"handshake"`;
    const deadline = Date.now() + 120_000;
    while (!(fs.existsSync(audit) && fs.readFileSync(audit, "utf8").includes(handshake))) {
      assert.ok(Date.now() < deadline, "no SSH handshake with roz within 120 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    sh(
      LAB,
      "roz",
      "nft -f - <<'EOF'\ntable inet e2e_silence {\n chain in { type filter hook input priority -300; tcp dport 22 drop; }\n" +
        " chain out { type filter hook output priority -300; tcp sport 22 drop; }\n}\nEOF",
    );
    let broken: Awaited<ReturnType<typeof up>>;
    try {
      broken = await running;
    } finally {
      sh(LAB, "roz", "nft delete table inet e2e_silence");
      fs.rmSync(audit, { force: true });
    }
    // Without SSH keepalives this update would hang for ever; now it ends, naming the host.
    assert.notEqual(broken.code, 0, "the update fails");
    assert.match(broken.all, new RegExp(`${node.address.replace(/\./g, "\\.")}`));
    assert.match(broken.all, /was lost while running|attempt 2\/2|host unreachable/);
    // A known state: the files the providers manage are whole (written atomically or not at all).
    sh(LAB, "roz", "sysctl -p /etc/sysctl.d/90-pve-fabric.conf >/dev/null && wg-quick strip wg0 >/dev/null");
    const fixed = await up(p, "roz");
    assert.equal(fixed.code, 0, fixed.diag);
    assert.equal(sh(LAB, "roz", "sysctl -n net.ipv4.conf.all.rp_filter"), "0");
    // The refused up changed nothing anywhere: with wro's real outputs back, roz has nothing to do.
    const again = await up(p, "roz", ["--expect-no-changes"]);
    assert.equal(again.code, 0, again.diag);
  });

  it("keeps every private key and the API tokens out of the state files (grep), which do hold the public facts", async () => {
    const wgKeys = p.status.sites.map((s) => sh(LAB, s.name, "cat /etc/wireguard/wg0.key"));
    const tokens = p.status.sites.map((s) => s.api.tokenSecret!);
    const sshKeyLines = p.env.PVE_FABRIC_LAB_SSH_KEY.split("\n").filter((l) => l && !l.startsWith("-----"));
    const stateDir = path.join(p.dir, "state");
    const pub = ((await stackOutputs(p, "roz")).wireguard as { nodes: Record<string, { publicKey: string }> })
      .nodes;
    assert.ok(
      grepTree(stateDir, [Object.values(pub)[0].publicKey]).length > 0,
      "positive control: a public key is in state",
    );
    assert.deepEqual(grepTree(stateDir, [...wgKeys, ...tokens, ...sshKeyLines]), []);
  });

  it("destroys every site and leaves no object of the program on hosts or emulators", async () => {
    const state = (site: string) =>
      fs.readFileSync(path.join(p.status.dir, "run/sites", site, "pve/state.json"), "utf8");
    assert.match(state("roz"), /crossite/, "positive control: the emulator held the zone");
    for (const site of [...p.sites].reverse()) {
      const r = await pulumi(p, ["destroy", "--yes", "--skip-preview", "-s", site, "--non-interactive"]);
      assert.equal(r.code, 0, (r.stdout + r.stderr).slice(-3000));
    }
    for (const s of p.status.sites) {
      // The emulator's whole world, minus its task log: SDN, firewall (every scope) and VMs all empty. An
      // emptied vnet firewall scope stays as {options: {}, rules: []} (like PVE's empty .fw file).
      const world = JSON.parse(state(s.name));
      for (const k of ["tasks", "counter", "nodeSdn"]) delete world[k];
      const emptySdn = {
        zones: { ids: {} },
        vnets: { ids: {} },
        subnets: { ids: {} },
        controllers: { ids: {} },
      };
      const emptyScope = { options: {}, rules: [] };
      assert.deepEqual(world, {
        sdn: emptySdn,
        running: { ...emptySdn, version: world.running.version },
        fw: {
          cluster: emptyScope,
          groups: {},
          ipsets: {},
          aliases: {},
          nodes: Object.fromEntries(s.hosts.map((h) => [h.name, emptyScope])),
          vnets: Object.fromEntries(Object.keys(world.fw.vnets).map((v) => [v, emptyScope])),
        },
        vms: {},
      });
      const host = sh(
        LAB,
        s.name,
        "ls /etc/wireguard; ip -br link show wg0 2>/dev/null; ls /etc/sysctl.d | grep pve-fabric; grep ^bgpd= /etc/frr/daemons; systemctl is-enabled frr; true",
      );
      assert.equal(host, "bgpd=no\ndisabled", `${s.name}: ${host}`);
    }
  });
});

// Three exit-node sites: every node learns EVPN routes from two others. This case found the lab's FRR 8.4
// translation letting other exits' default routes into zebra, which tripped FRRouting/frr#16340 (lab/README.md,
// "Router MAC deleted"); the router-mac checks now watch for that black hole.
describe("a 3-site fabric end to end (real engine, lab)", function () {
  this.timeout(15 * 60 * 1000);
  let p: LabProgram;
  let tmp: string;
  before(async () => {
    await down(LAB3);
    fs.rmSync(programDir(LAB3), { recursive: true, force: true });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fab3-"));
    const f = parseYaml(fs.readFileSync(path.join(REPO_ROOT, "fabric.yaml"), "utf8")) as {
      sites: Record<string, { nodes: unknown[] } | unknown>;
    };
    // roz gets a second node: in the first bootstrap run its tunnel cannot route to the first controller peer
    // (roz's first node) yet, so PVE's apply gives it the uplink address as VTEP; round 2 must re-apply.
    (f.sites.roz as { nodes: unknown[] }).nodes.push({
      name: "roz2",
      tunnelAddress: "10.1.0.2",
      endpoint: "roz2.example.net",
      exitNode: true,
    });
    f.sites.waw = {
      nodes: [{ name: "waw1", tunnelAddress: "10.3.0.1", endpoint: "waw.example.net", exitNode: true }],
      subnets: { crossvnt: { cidr: "10.3.1.0/24", gateway: "10.3.1.1", snat: true } },
    };
    fs.writeFileSync(path.join(tmp, "fabric.yaml"), stringify(f));
    p = await prepare({
      name: LAB3,
      fabric: path.join(tmp, "fabric.yaml"),
      log,
    });
  });
  after(async () => {
    if (process.env.PVE_FABRIC_KEEP_LAB !== "1") {
      await down(LAB3);
      fs.rmSync(programDir(LAB3), { recursive: true, force: true });
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("converges roz (2 nodes), wro and waw and every check passes on each, the sdntest pinging both other sites", async () => {
    assert.deepEqual(p.sites, ["roz", "wro", "waw"]);
    await bootstrap(p);
    const roz = byId(await checksOf(p, "roz"));
    assert.deepEqual(
      [roz["vtep proxmox-dell-r740"], roz["vtep roz2"], roz["vxlan proxmox-dell-r740->roz/roz2"]],
      ["pass", "pass", "pass"],
    );
    assert.equal(
      sh(
        LAB3,
        "roz/roz2",
        "ip netns exec vrf_crossite ip -d -o link show vxlan_crossvnt | grep -o 'local [0-9.]*'",
      ),
      "local 10.1.0.2",
    );
    for (const site of p.sites) {
      const c = await checksOf(p, site);
      assert.deepEqual(
        [c.ok, c.fail, c.pending],
        [true, 0, 0],
        `${site}: ${JSON.stringify(c.results, null, 1)}`,
      );
      const others = p.sites.filter((s) => s !== site);
      for (const o of others) assert.equal(byId(c)[`overlay sdntest->${o}`], "pass", `${site} -> ${o}`);
    }
  });
});
