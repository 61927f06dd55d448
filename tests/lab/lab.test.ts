// The lab for real (root, Debian packages from lab/install-deps.sh): namespaces, sshd, FRR, wireguard-go.
// Lab names carry this process's pid and the checkout (tests/lab-name.ts): parallel runs never share a lab.
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  down,
  enterArgs,
  labDir,
  REPO_ROOT,
  sshFingerprint,
  statusOf,
  up,
  type LabStatus,
} from "../../lab/lab";
import { namespacesOf, type LabPlan } from "../../lab/plan";
import { alive, nsInode, pidsInNamespaces } from "../../lab/proc";
import { runLabName } from "../lab-name";
import type { ProbeResult } from "./ssh-probe";

const A = runLabName("ta"); // 2 sites, the seed's
const B = runLabName("tb"); // 3 sites, one of them with two nodes, side by side with A
const C = runLabName("tc"); // killed mid-up

function sh(lab: string, target: string, script: string) {
  const argv = [...enterArgs(lab, target), "/bin/sh", "-c", script];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}

function ok(lab: string, target: string, script: string): string {
  const r = sh(lab, target, script);
  assert.equal(r.code, 0, `${target}: ${script}\n${r.stderr}`);
  return r.stdout;
}

/** node-ssh from inside the lab's operator namespace (a child process: a Node process cannot change netns). */
function probe(lab: string, targets: { host: string; hostKey: string }[], command: string): ProbeResult[] {
  const s = statusOf(lab);
  const arg = JSON.stringify({ privateKeyFile: s.operator!.sshPrivateKeyFile, command, targets });
  const argv = [
    ...enterArgs(lab, "operator", REPO_ROOT),
    process.execPath,
    "-r",
    "ts-node/register/transpile-only",
    path.join(__dirname, "ssh-probe.ts"),
    arg,
  ];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", cwd: REPO_ROOT });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as ProbeResult[];
}

interface Trace {
  plan: LabPlan;
  netInodes: Set<number>;
  pids: number[];
}

/** What a lab consists of right now, to prove afterwards that none of it is left. */
function trace(lab: string): Trace {
  const plan = JSON.parse(fs.readFileSync(path.join(labDir(lab), "run/plan.json"), "utf8")) as LabPlan;
  const netInodes = new Set(namespacesOf(plan).map((n) => nsInode(`/run/netns/${n}`)!));
  return { plan, netInodes, pids: pidsInNamespaces(netInodes, new Set()) };
}

function assertGone(lab: string, t: Trace) {
  const netns = fs.readdirSync("/run/netns");
  assert.deepEqual(
    namespacesOf(t.plan).filter((n) => netns.includes(n)),
    [],
    "network namespaces left behind",
  );
  const mounts = spawnSync("findmnt", ["-rn", "-o", "TARGET"], { encoding: "utf8" }).stdout.split("\n");
  assert.deepEqual(
    mounts.filter((m) => m.startsWith(labDir(lab))),
    [],
    "mounts left behind",
  );
  assert.deepEqual(pidsInNamespaces(t.netInodes, new Set()), [], "processes left in the lab's namespaces");
  assert.deepEqual(
    t.pids.filter((p) => alive(p)),
    [],
    "processes of the lab still running",
  );
  assert.equal(fs.existsSync(labDir(lab)), false, "lab directory left behind");
}

describe("lab (real namespaces, sshd, FRR, wireguard-go; root)", function () {
  this.timeout(90_000);
  let a: LabStatus;
  const logs: string[] = [];

  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // namespaces and mounts need root; CI runs as root
    this.timeout(600_000); // a first run may install the Debian packages
    a = await up({ name: A, sites: [{ name: "roz" }, { name: "wro" }] }, { log: (l) => logs.push(l) });
  });

  after(async () => {
    // Leave nothing behind even when a test failed half-way.
    for (const lab of [A, B, C]) await down(lab).catch(() => {});
  });

  it("brings the seed's two sites up with one host each, every host running", () => {
    assert.equal(a.state, "up", a.problems.join("; "));
    assert.deepEqual(
      a.sites.map((s) => [s.name, s.subnet, s.hosts.map((h) => [h.name, h.address, h.running])]),
      [
        ["roz", "198.18.1.0/24", [["roz1", "198.18.1.10", true]]],
        ["wro", "198.18.2.0/24", [["wro1", "198.18.2.10", true]]],
      ],
    );
  });

  it("node-ssh from the operator namespace reaches every host with its pinned key; each sees its own name and /etc", () => {
    for (const s of a.sites) ok(A, s.name, `echo ${s.name} > /etc/only-on-this-host`);
    const hosts = a.sites.flatMap((s) => s.hosts);
    const res = probe(
      A,
      hosts.map((h) => ({ host: h.address, hostKey: h.hostKey })),
      "hostname; cat /etc/hostname; cat /etc/only-on-this-host; cat /etc/ssh/ssh_host_ed25519_key.pub",
    );
    assert.deepEqual(
      res.map((r) => [r.host, r.ok, r.offeredKeyMatched, r.stdout?.split("\n").slice(0, 3)]),
      [
        ["198.18.1.10", true, true, ["roz1", "roz1", "roz"]],
        ["198.18.2.10", true, true, ["wro1", "wro1", "wro"]],
      ],
    );
    // The key the host serves is the one status publishes, and the two hosts' keys differ.
    hosts.forEach((h, i) =>
      assert.equal(
        res[i].stdout!.split("\n")[3].split(" ").slice(0, 2).join(" "),
        h.hostKey.split(" ").slice(0, 2).join(" "),
      ),
    );
    assert.notEqual(hosts[0].hostKey, hosts[1].hostKey);
    assert.equal(hosts[0].hostKeyFingerprint, sshFingerprint(hosts[0].hostKey));
  });

  it("refuses a host whose key is not the pinned one", () => {
    const [roz, wro] = a.sites.map((s) => s.hosts[0]);
    const [r] = probe(A, [{ host: roz.address, hostKey: wro.hostKey }], "hostname");
    assert.equal(r.ok, false);
    assert.equal(r.offeredKeyMatched, false);
    assert.match(r.error!, /verification failed/i);
  });

  it("keeps sysctls per host: set on roz, unchanged on wro and on the machine; global keys are read-only", () => {
    const machineFwd = fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim();
    const machinePidMax = fs.readFileSync("/proc/sys/kernel/pid_max", "utf8").trim();
    ok(
      A,
      "roz",
      "printf 'net.ipv4.ip_forward = 1\\nnet.ipv4.conf.all.rp_filter = 2\\n' > /etc/sysctl.d/90-fabric.conf",
    );
    ok(A, "roz", "sysctl -q --system");
    const read = "sysctl -n net.ipv4.ip_forward net.ipv4.conf.all.rp_filter";
    assert.equal(ok(A, "roz", read), "1\n2");
    assert.equal(ok(A, "wro", read), "0\n0");
    assert.equal(fs.readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim(), machineFwd);
    const w = sh(A, "roz", "sysctl -w kernel.pid_max=5000");
    assert.notEqual(w.code, 0);
    assert.match(w.stderr, /permission denied|read-only/i);
    assert.equal(fs.readFileSync("/proc/sys/kernel/pid_max", "utf8").trim(), machinePidMax);
  });

  it("systemctl start frr starts FRR on that host only", () => {
    assert.equal(ok(A, "roz", "systemctl is-enabled frr || true"), "disabled");
    ok(A, "roz", "sed -i 's/^bgpd=no/bgpd=yes/' /etc/frr/daemons && systemctl enable --now frr");
    assert.equal(ok(A, "roz", "systemctl is-active frr; systemctl is-enabled frr"), "active\nenabled");
    assert.deepEqual(
      ok(A, "roz", "ps -e -o comm= | grep -E '^(watchfrr|zebra|bgpd|staticd)$' | sort").split("\n"),
      ["bgpd", "staticd", "watchfrr", "zebra"],
    );
    assert.match(ok(A, "roz", "vtysh -c 'show version'"), /FRRouting 8\.4\.\d+ \(roz1\)/);
    const wro = sh(A, "wro", "systemctl is-active frr");
    assert.deepEqual([wro.code, wro.stdout], [3, "inactive"]);
    assert.equal(ok(A, "wro", "ps -e -o comm= | grep -cE '^(watchfrr|zebra|bgpd|staticd)$' || true"), "0");
  });

  it("a WireGuard tunnel made by hand (wg-quick@wg0 through systemctl) hand-shakes between roz and wro", async () => {
    const [roz, wro] = a.sites.map((s) => s.hosts[0]);
    const key = (t: string) =>
      ok(
        A,
        t,
        "umask 077; mkdir -p /etc/wireguard; wg genkey > /etc/wireguard/private; wg pubkey < /etc/wireguard/private",
      );
    const pub = { roz: key("roz"), wro: key("wro") };
    const conf = (me: string, addr: string, peerKey: string, endpoint: string, allowed: string) =>
      ok(
        A,
        me,
        `umask 077; { printf '[Interface]\\nAddress = ${addr}\\nListenPort = 51820\\nPrivateKey = '; cat /etc/wireguard/private; ` +
          `printf '\\n[Peer]\\nPublicKey = ${peerKey}\\nEndpoint = ${endpoint}:51820\\nAllowedIPs = ${allowed}\\nPersistentKeepalive = 25\\n'; } ` +
          `> /etc/wireguard/wg0.conf && systemctl start wg-quick@wg0`,
      );
    conf("roz", "10.1.0.1/24", pub.wro, `${wro.name}.wro.lab`, "10.2.0.0/24"); // endpoint by DNS name
    conf("wro", "10.2.0.1/24", pub.roz, roz.address, "10.1.0.0/24");
    assert.equal(ok(A, "roz", "systemctl is-active wg-quick@wg0"), "active");
    const end = Date.now() + 10_000;
    let hs = "0";
    while (Date.now() < end) {
      hs = ok(A, "roz", "wg show wg0 latest-handshakes").split(/\s+/)[1];
      if (hs !== "0") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.notEqual(hs, "0", "no handshake within 10 s");
    assert.match(ok(A, "roz", "ping -c1 -W2 10.2.0.1"), /1 received/);
    // The tunnel lives in roz's own /run: wro's wireguard-go has its own socket, the machine has none.
    assert.equal(ok(A, "roz", "ls /run/wireguard"), "wg0.sock");
    assert.equal(fs.existsSync("/run/wireguard/wg0.sock"), false);
  });

  it("ifreload -a on a host keeps the node address and the VM stand-in's port on vmbr0", () => {
    ok(A, "roz", "ifreload -a");
    assert.match(ok(A, "roz", "ip -br -4 addr show vmbr0"), /198\.18\.1\.10\/24/);
    assert.match(ok(A, "roz", "bridge link show"), /tap100i1.*master vmbr0/);
    assert.match(ok(A, "roz/vm", "ping -c1 -W2 198.18.1.10"), /1 received/);
  });

  it("up on a running lab changes nothing", async () => {
    const again = await up(
      { name: A, sites: [{ name: "roz" }, { name: "wro" }] },
      { log: (l) => logs.push(l) },
    );
    assert.equal(logs.at(-1), `lab ${A} is already up`);
    assert.deepEqual(again, statusOf(A));
    assert.equal(again.sites[0].hosts[0].hostKey, a.sites[0].hosts[0].hostKey);
  });

  it("publishes the API emulator's URL, token and fingerprint when lab/pve/main.ts exists", function () {
    if (!fs.existsSync(path.join(REPO_ROOT, "lab/pve/main.ts"))) {
      assert.deepEqual(a.sites[0].api, {
        url: null,
        node: "roz1",
        tokenId: null,
        tokenSecret: null,
        fingerprint: null,
      });
      return;
    }
    for (const s of a.sites) {
      assert.equal(s.api.url, `https://${s.hosts[0].address}:8006/api2/json`);
      assert.equal(s.api.tokenId, "root@pam!fabric");
      assert.match(s.api.tokenSecret!, /^[0-9a-f-]{36}$/);
      assert.match(s.api.fingerprint!, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    }
  });

  it("runs a 3-site lab (one site with two nodes) side by side with another lab", async () => {
    const b = await up(
      { name: B, sites: [{ name: "roz" }, { name: "wro", nodes: ["wro1", "wro2"] }, { name: "waw" }] },
      { api: false },
    );
    assert.equal(b.state, "up", b.problems.join("; "));
    const hosts = b.sites.flatMap((s) => s.hosts);
    assert.deepEqual(
      hosts.map((h) => [h.name, h.address]),
      [
        ["roz1", "198.18.1.10"],
        ["wro1", "198.18.2.10"],
        ["wro2", "198.18.2.11"],
        ["waw1", "198.18.3.10"],
      ],
    );
    const res = probe(
      B,
      hosts.map((h) => ({ host: h.address, hostKey: h.hostKey })),
      "hostname",
    );
    assert.deepEqual(
      res.map((r) => [r.ok, r.stdout]),
      [
        [true, "roz1"],
        [true, "wro1"],
        [true, "wro2"],
        [true, "waw1"],
      ],
    );
    // Same addresses, separate worlds: lab A's roz still answers with its own (different) key.
    const [aRoz] = probe(A, [{ host: "198.18.1.10", hostKey: a.sites[0].hosts[0].hostKey }], "hostname");
    assert.deepEqual([aRoz.ok, aRoz.stdout], [true, "roz1"]);
    assert.notEqual(b.sites[0].hosts[0].hostKey, a.sites[0].hosts[0].hostKey);
    // Sites reach each other through the internet namespace.
    assert.match(ok(B, "waw", "ping -c1 -W2 198.18.2.11"), /1 received/);
  });

  it("down leaves no namespace, mount, process or file behind, and is safe to run twice", async () => {
    const ta = trace(A);
    const tb = trace(B);
    assert.ok(ta.pids.length >= 8, `expected the lab's daemons, found pids ${ta.pids.join(",")}`); // positive control
    const t0 = Date.now();
    const r = await down(A);
    const took = Date.now() - t0;
    assert.equal(r.namespaces, 6);
    assertGone(A, ta);
    assert.ok(took < 2000, `down took ${took} ms`);
    assert.equal(statusOf(B).state, "up", "tearing A down must not touch B");
    await down(B);
    assertGone(B, tb);
    assert.deepEqual(await down(A), { namespaces: 0, processes: 0, mounts: 0 });
  });

  it("up cleans the leftovers of a killed `up` and comes up healthy", async () => {
    const cli = spawn(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        "lab/cli.ts",
        "up",
        "--name",
        C,
        "--sites",
        "roz,wro",
        "--no-api",
      ],
      { cwd: REPO_ROOT, stdio: "ignore" },
    );
    // Kill it once it has built namespaces and started hosts (a process runs in the last host's netns).
    const planFile = path.join(labDir(C), "run/plan.json");
    const hostStarted = () => {
      const ino = nsInode(`/run/netns/${C}-wro-wro1`);
      return ino !== undefined && pidsInNamespaces(new Set([ino]), new Set()).length > 0;
    };
    const end = Date.now() + 20_000;
    while (!hostStarted() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert.ok(fs.existsSync(planFile), "the killed run got far enough to create namespaces");
    cli.kill("SIGKILL");
    await new Promise((r) => cli.once("exit", r));
    const stale = trace(C);
    const cleaned: string[] = [];
    const c = await up(
      { name: C, sites: [{ name: "roz" }, { name: "wro" }] },
      { api: false, log: (l) => cleaned.push(l) },
    );
    assert.equal(c.state, "up", c.problems.join("; "));
    assert.match(cleaned.join("\n"), new RegExp(`cleaned up a previous lab '${C}': 6 namespaces`));
    assert.deepEqual(
      stale.pids.filter((p) => alive(p)),
      [],
      "processes of the killed run survive",
    );
    const tc = trace(C);
    await down(C);
    assertGone(C, tc);
  });
});
