// Who owns a lab (issue 19), for real (root, namespaces): a second checkout on the same machine — a copy of
// this checkout's files in /tmp with its own .lab/, driven through its own `npm run lab` CLI as a user would —
// brings up a lab with FRR and WireGuard running. This checkout's `up`, `down` and the test suites' setup and
// teardown must refuse that lab's name and leave it running; another name runs beside it; an `up` that
// fails half-way removes exactly what it made; and `down --force` removes the lab of a deleted checkout.
import { strict as assert } from "node:assert";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { down, labDir, LabOwnerError, ownerRecord, REPO_ROOT, statusOf, up } from "../../lab/lab";
import { prepare } from "../../lab/main";
import { alive, nsInode, pidsInNamespaces, procInfo } from "../../lab/proc";
import { runLabName } from "../lab-name";
import { fabricByHand } from "./fabric-by-hand";
import { LAB as HOST_LAB, labDown, labUp } from "../providers/host-lab";

// The other checkout's running lab carries the host-provider suite's lab name on purpose: the worst case
// of a collision, so that suite's own setup and teardown can be run against it.
const X = HOST_LAB;
const Y = runLabName("oy"); // ours, beside X
const U = runLabName("ou"); // a namespace of unknown owner named like one of its own
const W = runLabName("ow"); // up fails half-way
const L = runLabName("ol"); // made before owner records existed
const V = runLabName("ov"); // its checkout is deleted
const S = runLabName("os"); // a record of another checkout's lab of which nothing exists any more
const SITES = [{ name: "roz" }, { name: "wro" }];

let other: string; // the second checkout's root

/** A second checkout: this one's files (tracked and new), sharing node_modules. */
function makeCheckout(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pvefab-other-"));
  const ls = spawnSync("git", ["ls-files", "-co", "--exclude-standard", "-z"], { cwd: REPO_ROOT });
  for (const f of ls.stdout.toString().split("\0").filter(Boolean)) {
    if (!fs.existsSync(path.join(REPO_ROOT, f))) continue;
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, f), path.join(dir, f));
  }
  fs.chmodSync(path.join(dir, "lab/systemctl"), 0o755);
  fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

/** `npm run lab -- <args>` in a checkout (the CLI as the npm script runs it). */
function cli(checkout: string, args: string[]) {
  const env = { ...process.env };
  delete env.LAB_NAME; // every call names its lab
  const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "lab/cli.ts", ...args], {
    cwd: checkout,
    encoding: "utf8",
    env,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function otherOk(args: string[]): string {
  const r = cli(other, args);
  assert.equal(r.code, 0, `${args.join(" ")} in ${other}: ${r.stderr}`);
  return r.stdout;
}

interface Snapshot {
  inodes: Record<string, number>;
  pids: { pid: number; start: string }[];
}

/** The namespaces of lab `name` (by inode) and every process in them, by pid and start time. */
function snapshot(name: string): Snapshot {
  const inodes: Record<string, number> = {};
  for (const n of fs.readdirSync("/run/netns").filter((n) => n.startsWith(`${name}-`))) {
    inodes[n] = nsInode(`/run/netns/${n}`)!;
  }
  const pids = pidsInNamespaces(new Set(Object.values(inodes)), new Set()).map((pid) => ({
    pid,
    start: procInfo(pid)?.startTime ?? "",
  }));
  return { inodes, pids };
}

let xBefore: Snapshot;

/**
 * The other checkout's lab X is as it was: same namespaces, same processes, the WireGuard tunnel carries a
 * ping; with `status`, its own `npm run lab -- status` says up (a CLI start costs seconds on a busy machine).
 */
function assertXIntact(withStatus = false) {
  const now = snapshot(X);
  assert.deepEqual(now.inodes, xBefore.inodes, "namespaces of the other checkout's lab changed");
  assert.deepEqual(
    xBefore.pids.filter((p) => !alive(p.pid, p.start)).map((p) => p.pid),
    [],
    "processes of the other checkout's lab died",
  );
  const ping = spawnSync("nsenter", [`--net=/run/netns/${X}-roz-roz1`, "ping", "-c1", "-W2", "10.2.0.1"], {
    encoding: "utf8",
  });
  assert.match(ping.stdout, /1 received/, `no ping over roz's wg0: ${ping.stdout}${ping.stderr}`);
  if (!withStatus) return;
  const st = cli(other, ["status", "--json", "--name", X]);
  assert.equal(st.code, 0, st.stdout);
  assert.equal(JSON.parse(st.stdout).state, "up");
}

/** A namespace made by "someone else", with a process in it. */
function foreignNamespace(name: string): ChildProcess {
  const r = spawnSync("ip", ["netns", "add", name], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return spawn("ip", ["netns", "exec", name, "sleep", "600"], { stdio: "ignore" });
}

function removeForeign(name: string, p: ChildProcess | undefined) {
  if (p?.pid && alive(p.pid)) process.kill(p.pid, "SIGKILL");
  spawnSync("ip", ["netns", "del", name]);
}

describe("lab ownership between two checkouts (real namespaces; root)", function () {
  this.timeout(120_000);
  const foreign: Record<string, ChildProcess | undefined> = {};

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    this.timeout(300_000);
    other = makeCheckout();
    otherOk(["up", "--name", X, "--sites", "roz,wro", "--no-api"]);
    // FRR and a WireGuard tunnel on both hosts, as the product would leave them.
    const keys: Record<string, string> = {};
    for (const s of ["roz", "wro"]) {
      keys[s] = otherOk([
        "exec",
        s,
        "--name",
        X,
        "--",
        "sh",
        "-ec",
        "sed -i 's/^bgpd=no/bgpd=yes/' /etc/frr/daemons; systemctl enable --now frr >/dev/null; " +
          "umask 077; mkdir -p /etc/wireguard; wg genkey > /etc/wireguard/private; wg pubkey < /etc/wireguard/private",
      ]).trim();
    }
    const conf = (me: string, addr: string, peer: string, endpoint: string, allowed: string) =>
      otherOk([
        "exec",
        me,
        "--name",
        X,
        "--",
        "sh",
        "-ec",
        `umask 077; { printf '[Interface]\\nAddress = ${addr}\\nListenPort = 51820\\nPrivateKey = '; ` +
          `cat /etc/wireguard/private; printf '\\n[Peer]\\nPublicKey = ${keys[peer]}\\nEndpoint = ${endpoint}:51820\\n` +
          `AllowedIPs = ${allowed}\\nPersistentKeepalive = 5\\n'; } > /etc/wireguard/wg0.conf; systemctl start wg-quick@wg0`,
      ]);
    conf("roz", "10.1.0.1/24", "wro", "198.18.2.10", "10.2.0.0/24");
    conf("wro", "10.2.0.1/24", "roz", "198.18.1.10", "10.1.0.0/24");
    xBefore = snapshot(X);
    // Positive control for assertXIntact: the lab really has these namespaces and daemons.
    assert.equal(Object.keys(xBefore.inodes).length, 6);
    const comms = xBefore.pids.map((p) => procInfo(p.pid)?.comm);
    for (const d of ["sshd", "zebra", "bgpd", "wireguard-go"])
      assert.ok(comms.includes(d), `${d} in ${comms}`);
    assertXIntact(true);
  });

  after(async () => {
    for (const [name, p] of Object.entries(foreign)) removeForeign(name, p);
    if (other && fs.existsSync(path.join(other, "lab/cli.ts"))) cli(other, ["down", "--name", X]);
    for (const lab of [Y, U, W, L, V, S]) await down(lab, { force: true }).catch(() => {});
    if (ownerRecord(X)?.checkout === other) await down(X, { force: true }).catch(() => {});
    if (other) fs.rmSync(other, { recursive: true, force: true });
  });

  it("refuses `up` of a name another checkout's lab runs under, before making anything, naming the owner and the fixes", async () => {
    const record = ownerRecord(X);
    assert.equal(record?.checkout, other);
    const r = cli(REPO_ROOT, ["up", "--name", X, "--sites", "roz,wro", "--no-api"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`a lab named '${X}' is already running from ${other} `));
    assert.match(r.stderr, /--name <other>, or LAB_NAME=<other>/);
    assert.ok(r.stderr.includes(`cd ${other} && npm run lab -- down --name ${X}`), r.stderr);
    await assert.rejects(up({ name: X, sites: SITES }, { api: false }), (e: unknown) => {
      assert.ok(e instanceof LabOwnerError);
      assert.equal(e.owner, other);
      return true;
    });
    assert.equal(fs.existsSync(labDir(X)), false, "this checkout made a lab dir");
    assert.deepEqual(ownerRecord(X), record);
    const st = cli(REPO_ROOT, ["status", "--name", X]);
    assert.equal(st.code, 3);
    assert.ok(st.stdout.includes(`a lab named '${X}' runs from ${other}`), st.stdout);
    assertXIntact(true);
  });

  it("refuses `down` of another checkout's lab, naming the owner and --force", async () => {
    await assert.rejects(down(X), (e: unknown) => {
      assert.ok(e instanceof LabOwnerError);
      assert.match(
        e.message,
        new RegExp(`Unable to take lab '${X}' down: a lab named '${X}' is already running`),
      );
      assert.match(e.message, /nothing was removed/);
      assert.ok(e.message.includes(`npm run lab -- down --name ${X} --force`), e.message);
      return true;
    });
    assertXIntact();
  });

  it("the suites' lab setup and teardown (host-lab, e2e's down + prepare, fabric-by-hand) leave it running", async () => {
    assert.equal(HOST_LAB, X);
    await assert.rejects(labDown(), LabOwnerError);
    await assert.rejects(labUp(), LabOwnerError);
    await assert.rejects(down(X), LabOwnerError);
    await assert.rejects(prepare({ name: X, log: () => {} }), LabOwnerError);
    await assert.rejects(fabricByHand({ lab: X }), LabOwnerError);
    await assert.rejects(labDown(), LabOwnerError); // the suites' after hooks
    assertXIntact();
  });

  it("runs a lab under another name beside it, and takes it down without touching it", async () => {
    const y = await up({ name: Y, sites: SITES }, { api: false });
    assert.equal(y.state, "up", y.problems.join("; "));
    assert.equal(ownerRecord(Y)?.checkout, REPO_ROOT);
    assertXIntact();
    assert.equal((await down(Y)).namespaces, 6);
    assert.equal(statusOf(Y).state, "down");
    assertXIntact();
  });

  it("refuses `up` when a namespace it needs exists and no lab records it (owner unknown); nothing is made", async () => {
    foreign[`${U}-roz-roz1`] = foreignNamespace(`${U}-roz-roz1`);
    const ino = nsInode(`/run/netns/${U}-roz-roz1`);
    await assert.rejects(up({ name: U, sites: SITES }, { api: false }), (e: unknown) => {
      assert.ok(e instanceof LabOwnerError);
      assert.equal(e.owner, null);
      assert.match(e.message, new RegExp(`network namespace ${U}-roz-roz1 exists but no lab records them`));
      assert.ok(e.message.includes(`npm run lab -- down --name ${U} --force`), e.message);
      return true;
    });
    assert.deepEqual(Object.keys(snapshot(U).inodes), [`${U}-roz-roz1`]);
    assert.equal(ownerRecord(U), undefined);
    assert.equal(fs.existsSync(labDir(U)), false);
    // `down` leaves it too; `down --force` removes it, and the process in it.
    await assert.rejects(down(U), /exists but no lab records them/);
    assert.equal(nsInode(`/run/netns/${U}-roz-roz1`), ino);
    const sleeper = foreign[`${U}-roz-roz1`]!.pid!;
    assert.ok(alive(sleeper));
    assert.deepEqual(await down(U, { force: true }), { namespaces: 1, processes: 1, mounts: 0 });
    assert.equal(nsInode(`/run/netns/${U}-roz-roz1`), undefined);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(alive(sleeper), false);
    assertXIntact();
  });

  it("an `up` that fails half-way removes exactly the namespaces and mounts it made, and nothing else", async () => {
    // Someone takes the lab's third namespace name after up checked the names (between the run's keys and
    // its namespaces): up must fail there, having made the first two.
    const madeBeforeCleanup: string[] = [];
    const log = (l: string) => {
      if (/\] keys$/.test(l)) foreign[`${W}-roz-roz1`] = foreignNamespace(`${W}-roz-roz1`);
      if (/^lab up failed/.test(l)) madeBeforeCleanup.push(...Object.keys(snapshot(W).inodes).sort());
    };
    let message = "";
    await assert.rejects(up({ name: W, sites: SITES }, { api: false, log }), (e: Error) => {
      message = e.message;
      return true;
    });
    assert.match(
      message,
      new RegExp(`^Unable to bring lab '${W}' up: network namespace ${W}-roz-roz1 was made by someone else`),
    );
    assert.match(message, /This run's 2 namespaces, 0 processes and 1 mounts were removed, nothing else\./);
    // Positive control: the run had made its first two namespaces before it failed.
    assert.deepEqual(madeBeforeCleanup, [`${W}-inet`, `${W}-operator`, `${W}-roz-roz1`]);
    const after = snapshot(W);
    assert.deepEqual(Object.keys(after.inodes), [`${W}-roz-roz1`], "only the foreign namespace is left");
    assert.ok(alive(foreign[`${W}-roz-roz1`]!.pid!), "the process in the foreign namespace was killed");
    assert.equal(ownerRecord(W), undefined);
    assert.equal(fs.existsSync(labDir(W)), false);
    const mounts = spawnSync("findmnt", ["-rn", "-o", "TARGET"], { encoding: "utf8" }).stdout;
    assert.equal(mounts.includes(labDir(W)), false);
    assertXIntact(true);
  });

  it("adopts this checkout's lab made before owner records (its hosts run in its namespaces); another checkout cannot", async () => {
    await up({ name: L, sites: SITES }, { api: false });
    fs.rmSync(`/run/pve-fabric-lab/${L}.json`); // as a lab from before this change has none
    const r = cli(other, ["down", "--name", L]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`network namespaces ${L}-inet, .* exist but no lab records them`));
    assert.equal(statusOf(L).state, "up");
    const logs: string[] = [];
    await up({ name: L, sites: SITES }, { api: false, log: (l) => logs.push(l) });
    assert.equal(logs.at(-1), `lab ${L} is already up`);
    assert.equal(ownerRecord(L)?.checkout, REPO_ROOT);
    fs.rmSync(`/run/pve-fabric-lab/${L}.json`);
    const d = await down(L);
    assert.equal(d.namespaces, 6);
    assert.ok(d.processes >= 2, `processes ${d.processes}`);
    assert.deepEqual(Object.keys(snapshot(L).inodes), []);
  });

  it("takes over a name whose record names another checkout's lab of which nothing exists any more", async () => {
    const stale = {
      lab: S,
      checkout: other,
      dir: path.join(other, ".lab", S),
      run: { pid: 1, startTime: "0", started: "2026-01-01T00:00:00.000Z" },
      namespaces: [{ name: `${S}-inet`, inode: 1 }],
      hosts: [{ pid: 1, startTime: "0" }],
    };
    fs.writeFileSync(`/run/pve-fabric-lab/${S}.json`, JSON.stringify(stale));
    const logs: string[] = [];
    const s = await up({ name: S, sites: SITES }, { api: false, log: (l) => logs.push(l) });
    assert.equal(s.state, "up");
    assert.ok(
      logs.includes(`dropped the record of a lab '${S}' from ${other}: nothing of it exists any more`),
    );
    assert.equal(ownerRecord(S)?.checkout, REPO_ROOT);
    assert.equal((await down(S)).namespaces, 6);
  });

  it("`down --force` removes the lab of a checkout that was deleted (rm -rf) while its lab ran", async () => {
    // The last test: the other checkout goes away.
    assert.equal(cli(other, ["down", "--name", X]).code, 0);
    otherOk(["up", "--name", V, "--sites", "roz,wro", "--no-api"]);
    const v = snapshot(V);
    assert.ok(v.pids.length >= 2);
    spawnSync("rm", ["-rf", other]); // the tmpfs mount point itself stays (busy)
    assert.equal(fs.existsSync(path.join(other, "lab/lab.ts")), false);
    await assert.rejects(up({ name: V, sites: SITES }, { api: false }), (e: Error) => {
      assert.ok(e.message.includes(`${other} no longer holds a checkout`), e.message);
      assert.ok(e.message.includes(`npm run lab -- down --name ${V} --force`), e.message);
      return true;
    });
    await assert.rejects(down(V), LabOwnerError);
    const r = await down(V, { force: true });
    assert.deepEqual([r.namespaces, r.mounts], [6, 1]);
    assert.deepEqual(Object.keys(snapshot(V).inodes), []);
    assert.deepEqual(
      v.pids.filter((p) => alive(p.pid, p.start)),
      [],
    );
    assert.equal(ownerRecord(V), undefined);
    const mounts = spawnSync("findmnt", ["-rn", "-o", "TARGET"], { encoding: "utf8" }).stdout;
    assert.equal(mounts.includes(other), false);
  });
});
