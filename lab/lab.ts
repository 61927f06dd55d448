// Bringing a lab up and down, and describing it. The plan (names, addresses) is pure (plan.ts); the
// host's files and setup script are pure (host.ts); this module runs them. Layout and reasons:
// lab/README.md.
import { createHash, randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { hostDir, hostFiles, hostSetupScript, q } from "./host";
import { vmNetnsPath } from "./realize/vm";
import {
  allHosts,
  chooseBase,
  machineNetsFromIpJson,
  namespacesOf,
  parseDefinition,
  type HostPlan,
  type LabPlan,
  type SitePlan,
} from "./plan";
import {
  alive,
  LabCommandError,
  nsInode,
  pidsInNamespaces,
  procInfo,
  run,
  runSync,
  startDetached,
  waitFor,
} from "./proc";

export const REPO_ROOT = path.resolve(__dirname, "..");
const EMULATOR = path.join(REPO_ROOT, "lab/pve/main.ts");
const SHIM = path.join(REPO_ROOT, "lab/systemctl");
export const TOKEN_ID = "root@pam!fabric";

// Inside a host these paths are private (overlay or bind): lab files below them would be invisible or
// diverted there, so a lab dir under one of them moves to /var/lib.
const PRIVATE_IN_HOSTS = ["/etc", "/root", "/run", "/var/log", "/var/tmp"];

export function labDir(name: string): string {
  const inRepo = path.join(REPO_ROOT, ".lab", name);
  // The fallback is per checkout (a hash of its path): two checkouts under /root must not share lab files.
  const checkout = createHash("sha256").update(REPO_ROOT).digest("hex").slice(0, 12);
  return PRIVATE_IN_HOSTS.some((p) => inRepo === p || inRepo.startsWith(p + "/"))
    ? path.join("/var/lib/pve-fabric-lab", checkout, name)
    : inRepo;
}

interface Paths {
  dir: string; // .lab/<name>: only a mount point
  run: string; // tmpfs: everything the running lab has (keys, host layers, logs, state)
  plan: string; // the lab's plan, for status (what exists is the owner record's business)
  state: string;
  keys: string;
}

function pathsOf(name: string): Paths {
  const dir = labDir(name);
  const r = path.join(dir, "run");
  return {
    dir,
    run: r,
    plan: path.join(r, "plan.json"),
    state: path.join(r, "state.json"),
    keys: path.join(r, "keys"),
  };
}

// ---------------------------------------------------------------------------------------------------
// The published description (`status --json`). Field names are a contract: lab/README.md documents them.

export interface LabStatus {
  lab: string;
  state: "up" | "down" | "degraded";
  dir: string;
  base: string | null;
  operator: {
    netns: string;
    address: string;
    sshUser: "root";
    sshPrivateKeyFile: string;
    sshPublicKey: string;
    knownHostsFile: string;
  } | null;
  sites: SiteStatus[];
  problems: string[];
}

export interface SiteStatus {
  name: string;
  pveVersion: string;
  subnet: string;
  gateway: string;
  api: {
    url: string | null;
    node: string;
    tokenId: string | null;
    tokenSecret: string | null;
    fingerprint: string | null;
  };
  hosts: {
    name: string;
    netns: string;
    address: string;
    sshPort: 22;
    sshUser: "root";
    hostKey: string; // "ssh-ed25519 AAAA..."
    hostKeyFingerprint: string; // "SHA256:..." as ssh-keygen -l shows it
    running: boolean;
  }[];
  vms: {
    name: string;
    vmid: number;
    host: string;
    netns: string;
    nics: { name: string; tap: string; bridge: string | null; address: string | null }[];
  }[];
}

interface HostRuntime {
  unsharePid: number;
  pid: number; // PID 1 of the host, as the machine sees it
  startTime: string;
  hostKey: string;
}

interface LabState {
  plan: LabPlan;
  hosts: Record<string, HostRuntime>; // key: netns
  api: Record<string, { tokenSecret: string; fingerprint: string; url: string } | null>;
  operatorPublicKey: string;
}

export function sshFingerprint(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? "", "base64");
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

function writeFile(file: string, content: string, mode: number) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

// ---------------------------------------------------------------------------------------------------
// Ownership (issue 19). A lab's namespaces, processes, mounts and files belong to the checkout and the run
// that made them, and only those are ever removed: another checkout's lab of the same name is refused,
// named, and left alone. The record lives where every checkout looks, /run/pve-fabric-lab/<lab>.json (a
// tmpfs, like /run/netns: it ends with the namespaces it describes). Every lab command of a name, from any
// checkout, holds /run/pve-fabric-lab/<lab>.lock; so a namespace name that `up` found free while holding it
// can only be taken meanwhile by something that is not a lab (see createNamespaces).

const OWNERS = "/run/pve-fabric-lab";

export interface OwnerRecord {
  lab: string;
  /** The repository root of the checkout that made the lab. */
  checkout: string;
  /** Its lab dir (the tmpfs mount and files). */
  dir: string;
  /** The `up` that made it. */
  run: { pid: number; startTime: string; started: string };
  /** Network namespaces that run made, in order. inode null: `ip netns add` was started, its end not seen. */
  namespaces: { name: string; inode: number | null }[];
  /** The hosts' PID 1s: their mount namespaces also hold processes that left the host's netns. */
  hosts: { pid: number; startTime: string }[];
}

/** Refusal to touch a lab (or namespaces) that this checkout did not make; owner null = unknown. */
export class LabOwnerError extends Error {
  constructor(
    readonly lab: string,
    readonly owner: string | null,
    message: string,
  ) {
    super(message);
  }
}

const recordFile = (name: string) => path.join(OWNERS, `${name}.json`);

export function ownerRecord(name: string): OwnerRecord | undefined {
  return readJson<OwnerRecord>(recordFile(name));
}

function saveRecord(rec: OwnerRecord) {
  fs.mkdirSync(OWNERS, { recursive: true, mode: 0o755 });
  const tmp = `${recordFile(rec.lab)}.${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(rec, null, 2) + "\n", { mode: 0o644 });
  fs.renameSync(tmp, recordFile(rec.lab)); // a reader never sees half a record
}

/** The recorded namespaces that exist now and are still the ones the run made (same inode). */
function existingOf(rec: OwnerRecord): string[] {
  return rec.namespaces
    .filter((n) => {
      const ino = nsInode(`/run/netns/${n.name}`);
      return ino !== undefined && (n.inode === null || n.inode === ino);
    })
    .map((n) => n.name);
}

/** Network namespaces named like lab `name`'s (lab names have no '-', so `<name>-…` is no other lab's). */
function namespacesNamed(name: string): string[] {
  try {
    return fs.readdirSync("/run/netns").filter((n) => n.startsWith(`${name}-`));
  } catch {
    return [];
  }
}

function isStale(rec: OwnerRecord): boolean {
  return (
    existingOf(rec).length === 0 &&
    !rec.hosts.some((h) => alive(h.pid, h.startTime)) &&
    mountsUnder(rec.dir).length === 0
  );
}

/**
 * A lab made before owner records existed: this checkout's if every host of its own state runs, with the
 * recorded start time, in the namespace of that name (proof that this lab dir's run made them). Recorded then.
 */
function adoptUnrecorded(name: string, p: Paths): OwnerRecord | undefined {
  const st = readJson<LabState>(p.state);
  const hosts = st ? allHosts(st.plan).map((h) => ({ h, rt: st.hosts[h.netns] })) : [];
  const proven =
    hosts.length > 0 &&
    hosts.every(
      ({ h, rt }) =>
        rt &&
        alive(rt.pid, rt.startTime) &&
        nsInode(`/proc/${rt.pid}/ns/net`) === nsInode(`/run/netns/${h.netns}`),
    );
  if (!st || !proven) return undefined;
  const rec: OwnerRecord = {
    lab: name,
    checkout: REPO_ROOT,
    dir: p.dir,
    run: { pid: 0, startTime: "", started: "before owner records" },
    namespaces: namespacesOf(st.plan).flatMap((n) => {
      const inode = nsInode(`/run/netns/${n}`);
      return inode === undefined ? [] : [{ name: n, inode }];
    }),
    hosts: hosts.map(({ rt }) => ({ pid: rt.pid, startTime: rt.startTime })),
  };
  saveRecord(rec);
  return rec;
}

type Action = "up" | "down";
const unable = (name: string, action: Action) =>
  action === "up" ? `Unable to bring lab '${name}' up` : `Unable to take lab '${name}' down`;
const untouched = (action: Action) =>
  action === "up" ? "nothing was created or removed" : "nothing was removed";
const list = (names: string[]) =>
  names.length > 4 ? `${names.slice(0, 4).join(", ")}, … (${names.length})` : names.join(", ");

function ownedElsewhere(name: string, rec: OwnerRecord, action: Action): LabOwnerError {
  const running = rec.hosts.some((h) => alive(h.pid, h.startTime));
  const what = running ? "is already running" : "has left remains (no host running)";
  const gone = !fs.existsSync(path.join(rec.checkout, "lab/lab.ts"));
  const fixes = [
    ...(action === "up" ? ["give this lab another name (--name <other>, or LAB_NAME=<other>)"] : []),
    gone
      ? `${rec.checkout} no longer holds a checkout, so remove its lab from here: npm run lab -- down --name ${name} --force`
      : `take that lab down in its checkout: cd ${rec.checkout} && npm run lab -- down --name ${name}` +
        ` (if that checkout is gone: npm run lab -- down --name ${name} --force)`,
  ];
  const objects = existingOf(rec);
  return new LabOwnerError(
    name,
    rec.checkout,
    `${unable(name, action)}: a lab named '${name}' ${what} from ${rec.checkout}` +
      ` (made ${rec.run.started}${rec.run.pid ? ` by pid ${rec.run.pid}` : ""}` +
      `${objects.length ? `; namespaces ${list(objects)}` : ""}). It is not this checkout's (${REPO_ROOT}): ` +
      `${untouched(action)}.\nFix: ${fixes.join("; or ")}`,
  );
}

function ownerUnknown(name: string, namespaces: string[], action: Action): LabOwnerError {
  return new LabOwnerError(
    name,
    null,
    `${unable(name, action)}: network namespace${namespaces.length > 1 ? "s" : ""} ${list(namespaces)} ` +
      `exist${namespaces.length > 1 ? "" : "s"} but no lab records them (owner unknown: made by hand, by another ` +
      `program, or by a lab older than owner records): ${untouched(action)}.\nFix: give this lab another name ` +
      `(--name <other>, or LAB_NAME=<other>); or, if they are remains you may remove: ` +
      `npm run lab -- down --name ${name} --force`,
  );
}

/**
 * The record of lab `name` when this checkout made it (or made it before records existed); undefined when
 * nothing is recorded. Another checkout's lab is refused (LabOwnerError) unless `force`; its record is
 * dropped when nothing of it exists any more.
 */
function resolveOwner(
  name: string,
  p: Paths,
  action: Action,
  log: (l: string) => void,
  force = false,
): OwnerRecord | undefined {
  const rec = ownerRecord(name) ?? adoptUnrecorded(name, p);
  if (!rec || rec.checkout === REPO_ROOT || force) return rec;
  if (!isStale(rec)) throw ownedElsewhere(name, rec, action);
  log(`dropped the record of a lab '${name}' from ${rec.checkout}: nothing of it exists any more`);
  fs.rmSync(recordFile(name), { force: true });
  return undefined;
}

// One lab command per lab name at a time, machine-wide (every checkout takes the same lock).
function withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(OWNERS, { recursive: true, mode: 0o755 });
  const lock = path.join(OWNERS, `${name}.lock`);
  const me = `${process.pid} ${procInfo(process.pid)?.startTime} ${REPO_ROOT}`;
  for (let i = 0; ; i++) {
    try {
      fs.writeFileSync(lock, me, { flag: "wx" });
      break;
    } catch {
      const [pid, start, ...dir] = (fs.readFileSync(lock, "utf8").trim() || "0 x").split(" ");
      if (alive(Number(pid), start)) {
        throw new Error(
          `lab: another lab command (pid ${pid}, checkout ${dir.join(" ") || "unknown"}) is working on lab ` +
            `'${name}' (${lock}). Wait for it, or stop it.`,
        );
      }
      fs.rmSync(lock, { force: true }); // left by a killed run
      if (i > 2) throw new Error(`lab: cannot take the lock ${lock}`);
    }
  }
  return fn().finally(() => fs.rmSync(lock, { force: true }));
}

// ---------------------------------------------------------------------------------------------------
// up

export interface UpOptions {
  /** Start the Proxmox API emulator (lab/pve/main.ts) per site. Default: when that file exists. */
  api?: boolean;
  log?: (line: string) => void;
}

// One file per package lab/install-deps.sh installs: when all exist, the script is not even started.
const NEEDED = [
  "/usr/sbin/sshd",
  "/usr/bin/ssh-keygen",
  "/usr/bin/wireguard-go",
  "/usr/bin/wg-quick",
  "/usr/lib/frr/frrinit.sh",
  "/usr/lib/frr/frr-reload.py",
  "/usr/sbin/nft",
  "/usr/sbin/ifreload",
  "/sbin/brctl",
  "/usr/bin/tcpdump",
  "/usr/bin/ping",
  "/usr/bin/nsenter",
];

function ensurePackages(log: (l: string) => void) {
  if (NEEDED.every((f) => fs.existsSync(f))) return;
  log("installing the lab's Debian packages (lab/install-deps.sh)");
  runSync(["bash", path.join(REPO_ROOT, "lab/install-deps.sh")]);
}

export async function up(definition: unknown, opts: UpOptions = {}): Promise<LabStatus> {
  const def = parseDefinition(definition);
  const log = opts.log ?? (() => {});
  ensurePackages(log);
  const machine = machineNetsFromIpJson(
    JSON.parse(runSync(["ip", "-j", "-4", "addr", "show"]).stdout),
    JSON.parse(runSync(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout),
  );
  const { plan, note } = chooseBase(def, machine);
  if (note) log(note);
  const p = pathsOf(def.name);
  const wantApi = opts.api ?? fs.existsSync(EMULATOR);

  return withLock(def.name, async () => {
    const own = resolveOwner(def.name, p, "up", log);
    const st = readJson<LabState>(p.state);
    if (own && st && JSON.stringify(st.plan) === JSON.stringify(plan) && (!wantApi || apiStarted(st))) {
      const s = statusOf(def.name);
      if (s.state === "up") {
        log(`lab ${def.name} is already up`);
        return s;
      }
    }
    // This checkout's own lab of that name (another topology, or the remains of a killed run) goes first.
    const cleaned = await removeLab(def.name, p, own);
    if (cleaned.namespaces + cleaned.processes + cleaned.mounts > 0) {
      log(
        `cleaned up a previous lab '${def.name}': ${cleaned.namespaces} namespaces, ${cleaned.processes} processes, ` +
          `${cleaned.mounts} mounts`,
      );
    }
    // Refuse before creating anything when a name this lab needs is taken.
    const taken = namespacesOf(plan).filter((n) => nsInode(`/run/netns/${n}`) !== undefined);
    if (taken.length) throw ownerUnknown(def.name, taken, "up");
    const rec: OwnerRecord = {
      lab: def.name,
      checkout: REPO_ROOT,
      dir: p.dir,
      run: {
        pid: process.pid,
        startTime: procInfo(process.pid)!.startTime,
        started: new Date().toISOString(),
      },
      namespaces: [],
      hosts: [],
    };
    saveRecord(rec);
    try {
      await build(plan, p, wantApi, log, rec);
    } catch (e) {
      log(`lab up failed; removing what this run made (logs were in ${p.run})`);
      const detail = e instanceof Error ? e.message : String(e);
      let after: string;
      try {
        const r = await removeLab(def.name, p, rec);
        after = `This run's ${r.namespaces} namespaces, ${r.processes} processes and ${r.mounts} mounts were removed, nothing else.`;
      } catch (e2) {
        after = `Removing what this run made failed too: ${e2 instanceof Error ? e2.message : String(e2)}. Fix: npm run lab -- down --name ${def.name}`;
      }
      throw new Error(`Unable to bring lab '${def.name}' up: ${detail}\n${after}`);
    }
    return statusOf(def.name);
  });
}

function apiStarted(st: LabState): boolean {
  return st.plan.sites.every((s) => st.api[s.name]);
}

async function build(plan: LabPlan, p: Paths, wantApi: boolean, log: (l: string) => void, rec: OwnerRecord) {
  const t0 = Date.now();
  const step = (what: string) => log(`[${((Date.now() - t0) / 1000).toFixed(2)}s] ${what}`);

  // One private tmpfs holds all runtime files: `down` is one umount, and secrets never touch the disk.
  fs.mkdirSync(p.run, { recursive: true, mode: 0o700 });
  runSync(["mount", "-t", "tmpfs", "-o", "mode=700,size=512m", `lab-${plan.name}`, p.run]);
  runSync(["mount", "--make-private", p.run]);
  writeFile(p.plan, JSON.stringify(plan, null, 2), 0o600);

  fs.mkdirSync(p.keys, { mode: 0o700 });
  await run([
    "ssh-keygen",
    "-q",
    "-t",
    "ed25519",
    "-N",
    "",
    "-C",
    `operator@lab-${plan.name}`,
    "-f",
    `${p.keys}/operator`,
  ]);
  const operatorPublicKey = fs.readFileSync(`${p.keys}/operator.pub`, "utf8").trim();
  const shim = path.join(p.run, "bin/systemctl");
  fs.mkdirSync(path.dirname(shim));
  fs.copyFileSync(SHIM, shim);
  fs.chmodSync(shim, 0o755);
  step("keys");

  await createNamespaces(plan, rec);
  await buildNetworks(plan);
  step("namespaces and links");

  const hosts = await Promise.all(
    plan.sites.flatMap((site) => site.hosts.map((h) => startHost(plan, site, h, p, shim, operatorPublicKey))),
  );
  const runtime: Record<string, HostRuntime> = {};
  allHosts(plan).forEach((h, i) => (runtime[h.netns] = hosts[i]));
  writeFile(
    `${p.keys}/known_hosts`,
    allHosts(plan)
      .map((h) => `${h.address} ${runtime[h.netns].hostKey}`)
      .join("\n") + "\n",
    0o600,
  );
  step("hosts (sshd listening)");

  rec.hosts = Object.values(runtime).map((h) => ({ pid: h.pid, startTime: h.startTime }));
  saveRecord(rec);
  const state: LabState = { plan, hosts: runtime, api: {}, operatorPublicKey };
  for (const s of plan.sites) state.api[s.name] = null;
  writeFile(p.state, JSON.stringify(state, null, 2), 0o600);
  if (wantApi) {
    const apis = await Promise.all(plan.sites.map((s) => startApi(s, runtime, p)));
    plan.sites.forEach((s, i) => (state.api[s.name] = apis[i]));
    writeFile(p.state, JSON.stringify(state, null, 2), 0o600);
    step("API emulators ready");
  }
}

/**
 * Makes the lab's network namespaces one by one, each recorded before it is made and confirmed (inode)
 * after, so a failed or killed run removes exactly those it made. A name taken after up's check, while we
 * hold the lab's lock, was taken by something that is not a lab: refused, and left alone.
 */
async function createNamespaces(plan: LabPlan, rec: OwnerRecord) {
  for (const name of namespacesOf(plan)) {
    const entry: OwnerRecord["namespaces"][number] = { name, inode: null };
    rec.namespaces.push(entry);
    saveRecord(rec);
    const r = await run(["ip", "netns", "add", name], { allowFail: true });
    const inode = nsInode(`/run/netns/${name}`);
    if (r.code !== 0 || inode === undefined) {
      rec.namespaces.pop();
      saveRecord(rec);
      if (inode !== undefined) {
        throw new Error(
          `network namespace ${name} was made by someone else (owner unknown) after up had checked that ` +
            `the name was free; it was left alone. Fix: find what made it (ip netns pids ${name}), or use ` +
            `another name (--name <other>, or LAB_NAME=<other>)`,
        );
      }
      throw new LabCommandError(["ip", "netns", "add", name], r.code, r.stderr);
    }
    entry.inode = inode;
    saveRecord(rec);
  }
}

async function buildNetworks(plan: LabPlan) {
  const batch = (netns: string, lines: string[]) =>
    run(["ip", "-n", netns, "-batch", "-"], { input: lines.join("\n") + "\n" });

  // The internet: one bridge per site (the site's LAN, gateway .1) and the operator link; it routes
  // between them and nowhere else (no link to the machine's namespace exists at all).
  const inet: string[] = ["link set lo up"];
  for (const s of plan.sites) {
    inet.push(
      `link add ${s.inetBridge} type bridge`,
      `addr add ${s.gateway}/24 dev ${s.inetBridge}`,
      `link set ${s.inetBridge} up`,
    );
    for (const h of s.hosts) {
      inet.push(
        `link add ${h.inetIf} type veth peer name eth0 netns ${h.netns}`,
        `link set ${h.inetIf} master ${s.inetBridge} up`,
      );
    }
  }
  const op = plan.operator;
  inet.push(
    `link add ${op.inetIf} type veth peer name eth0 netns ${op.netns}`,
    `addr add ${op.gateway}/24 dev ${op.inetIf}`,
    `link set ${op.inetIf} up`,
  );
  await batch(plan.inet.netns, inet);
  await run(["nsenter", `--net=/run/netns/${plan.inet.netns}`, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);

  const jobs: Promise<unknown>[] = [
    batch(op.netns, [
      "link set lo up",
      "link set eth0 up",
      `addr add ${op.address}/24 dev eth0`,
      `route add default via ${op.gateway}`,
    ]),
  ];
  for (const s of plan.sites) {
    for (const h of s.hosts) {
      const lines = [
        "link set lo up",
        // vmbr0 carries the node address, as on Proxmox; forward_delay 0 = `bridge-fd 0` in interfaces.
        "link add vmbr0 type bridge stp_state 0 forward_delay 0",
        "link set eth0 master vmbr0",
        "link set eth0 up",
        `addr add ${h.address}/24 dev vmbr0`,
        "link set vmbr0 up",
        `route add default via ${s.gateway}`,
      ];
      if (h.name === s.vm.host) {
        for (const nic of s.vm.nics) {
          lines.push(`link add ${nic.tap} type veth peer name ${nic.name} netns ${s.vm.netns}`);
          lines.push(nic.bridge ? `link set ${nic.tap} master ${nic.bridge} up` : `link set ${nic.tap} up`);
        }
      }
      jobs.push(batch(h.netns, lines));
    }
  }
  await Promise.all(jobs);
  await Promise.all(
    plan.sites.map((s) =>
      batch(s.vm.netns, [
        "link set lo up",
        ...s.vm.nics.flatMap((n) => [
          `link set ${n.name} up`,
          ...(n.address ? [`addr add ${n.address} dev ${n.name}`] : []),
        ]),
      ]),
    ),
  );
}

async function startHost(
  plan: LabPlan,
  site: SitePlan,
  host: HostPlan,
  p: Paths,
  shim: string,
  operatorPublicKey: string,
): Promise<HostRuntime> {
  const dir = hostDir(p.run, host);
  for (const d of ["etc.upper", "etc.work", "root.upper", "root.work", "run", "log", "vartmp"]) {
    fs.mkdirSync(path.join(dir, d), { recursive: true });
  }
  fs.chmodSync(path.join(dir, "vartmp"), 0o1777);
  const input = { plan, site, host, dir, systemctl: shim, operatorPublicKey };
  for (const [rel, f] of Object.entries(hostFiles(input))) writeFile(path.join(dir, rel), f.content, f.mode);
  fs.chmodSync(path.join(dir, "root.upper/.ssh"), 0o700);

  const logFile = path.join(dir, "setup.log");
  const unsharePid = startDetached(
    [
      "nsenter",
      `--net=/run/netns/${host.netns}`,
      "--",
      "unshare",
      "--pid",
      "--fork",
      "--kill-child",
      "--mount",
      "--uts",
      "--propagation",
      "private",
      "--mount-proc",
      "--",
      "/bin/sh",
      "-ec",
      hostSetupScript(input),
    ],
    logFile,
  );
  const pid = await waitFor(
    () => {
      const log = fs.readFileSync(logFile, "utf8");
      if (/^ready$/m.test(log)) return childOf(unsharePid);
      if (!alive(unsharePid)) {
        throw new Error(
          `host ${host.site}/${host.name} failed to start:\n${log.trim().split("\n").slice(-10).join("\n")}`,
        );
      }
      return undefined;
    },
    20_000,
    () => `host ${host.site}/${host.name} did not start within 20 s (log: ${logFile})`,
  );
  const hostKey = fs.readFileSync(path.join(dir, "etc.upper/ssh/ssh_host_ed25519_key.pub"), "utf8").trim();
  return { unsharePid, pid, startTime: procInfo(pid)!.startTime, hostKey };
}

function childOf(ppid: number): number | undefined {
  for (const e of fs.readdirSync("/proc")) {
    if (/^[0-9]+$/.test(e) && procInfo(Number(e))?.ppid === ppid) return Number(e);
  }
  return undefined;
}

/** The machine's pid of the process that is `inner` in the PID namespace whose PID 1 is hostPid. */
function outerPid(hostPid: number, inner: number): number {
  const ns = fs.readlinkSync(`/proc/${hostPid}/ns/pid`);
  for (const e of fs.readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(e)) continue;
    try {
      if (fs.readlinkSync(`/proc/${e}/ns/pid`) !== ns) continue;
      const m = /^NSpid:\s+(.*)$/m.exec(fs.readFileSync(`/proc/${e}/status`, "utf8"));
      if (m && Number(m[1].trim().split(/\s+/).at(-1)) === inner) return Number(e);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error(`no process ${inner} in the PID namespace of ${hostPid} (exited at once?)`);
}

function hostEnterArgs(rt: HostRuntime, wd?: string): string[] {
  return ["nsenter", "-t", String(rt.pid), "-n", "-m", "-u", "-p", ...(wd ? [`--wd=${wd}`] : [])];
}

async function startApi(
  site: SitePlan,
  hosts: Record<string, HostRuntime>,
  p: Paths,
): Promise<LabState["api"][string]> {
  const host = site.hosts.find((h) => h.name === site.apiHost)!;
  const dir = path.join(p.run, "sites", site.name);
  const stateDir = path.join(dir, "pve");
  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const tokenSecret = randomUUID();
  const tokenFile = path.join(dir, "token.json");
  writeFile(tokenFile, JSON.stringify({ tokenid: TOKEN_ID, secret: tokenSecret }), 0o600);
  const logFile = path.join(dir, "pve.log");
  const rt = hosts[host.netns];
  // What the emulator needs to realise SDN on the site's hosts and to run its VM stand-in (lab/realize/).
  const labConfig = path.join(dir, "lab-config.json");
  writeFile(
    labConfig,
    JSON.stringify({
      realise: {
        local: host.name,
        nodes: Object.fromEntries(site.hosts.map((h) => [h.name, h.address])),
        keyFile: `${p.keys}/operator`,
        knownHostsFile: `${p.keys}/known_hosts`,
      },
      vm: { netns: site.vm.netns, vmid: site.vm.vmid, nics: site.vm.nics, node: site.vm.host },
    }),
    0o600,
  );
  await bindVmNamespace(site, hosts);
  const emulator = [
    process.execPath,
    "-r",
    "ts-node/register/transpile-only",
    "lab/pve/main.ts",
    "--site",
    site.name,
    "--listen",
    `${host.address}:8006`,
    "--state-dir",
    stateDir,
    "--nodes",
    site.hosts.map((h) => h.name).join(","),
    "--pve-version",
    site.pveVersion,
    "--token-file",
    tokenFile,
    "--lab-config",
    labConfig,
  ];
  // Started from inside the host and orphaned at once, so its parent is the host's PID 1. A parent
  // outside the host's PID namespace (a detached nsenter) would be re-parented to the machine's init,
  // which reaps late here: the dying host's PID 1 waits for that reaping, and `down` measured 1.1 s.
  const { stdout } = await run([
    ...hostEnterArgs(rt, REPO_ROOT),
    "/bin/sh",
    "-c",
    `"$@" >>${q(logFile)} 2>&1 </dev/null & echo $!`,
    "sh",
    ...emulator,
  ]);
  const pid = outerPid(rt.pid, Number(stdout.trim()));
  await waitFor(
    () => {
      const out = fs.readFileSync(logFile, "utf8");
      if (/^ready$/m.test(out)) return true;
      if (!alive(pid)) {
        throw new Error(
          `the API emulator of site ${site.name} exited:\n${out.trim().split("\n").slice(-10).join("\n")}`,
        );
      }
      return undefined;
    },
    60_000,
    () => `the API emulator of site ${site.name} printed no 'ready' within 60 s (log: ${logFile})`,
  );
  const fingerprint = fs.readFileSync(path.join(stateDir, "fingerprint"), "utf8").trim();
  return { tokenSecret, fingerprint, url: `https://${host.address}:8006/api2/json` };
}

/**
 * Makes the site's VM stand-in namespace visible inside its host at vmNetnsPath() (a host's /run is
 * private), so the emulator's VM backend (lab/realize/vm.ts) can configure it. The nsfs bind is made from inside the host's
 * mount and PID namespaces while the process still sits in the VM's network namespace.
 */
async function bindVmNamespace(site: SitePlan, hosts: Record<string, HostRuntime>) {
  const host = site.hosts.find((h) => h.name === site.vm.host)!;
  const target = vmNetnsPath(site.vm.netns);
  await run([
    "nsenter",
    `--net=/run/netns/${site.vm.netns}`,
    "--",
    "nsenter",
    "-t",
    String(hosts[host.netns].pid),
    "-m",
    "-p",
    "--",
    "/bin/sh",
    "-ec",
    `mkdir -p ${q(path.dirname(target))}; touch ${q(target)}; mount --bind /proc/self/ns/net ${q(target)}`,
  ]);
}

// ---------------------------------------------------------------------------------------------------
// down

export interface DownReport {
  namespaces: number;
  processes: number;
  mounts: number;
}

export interface DownOptions {
  /**
   * Also remove a lab another checkout made (one that was deleted, say) and network namespaces named like
   * the lab that no lab records. Without it, `down` removes only what this checkout made.
   */
  force?: boolean;
  log?: (line: string) => void;
}

export function down(name: string, opts: DownOptions = {}): Promise<DownReport> {
  parseDefinition({ name, sites: [{ name: "aa" }, { name: "bb" }] }); // validates the name only
  const p = pathsOf(name);
  const log = opts.log ?? (() => {});
  return withLock(name, async () => {
    const rec = resolveOwner(name, p, "down", log, opts.force);
    if (rec && rec.checkout !== REPO_ROOT) log(`--force: removing the lab '${name}' made by ${rec.checkout}`);
    const strays = namespacesNamed(name).filter((n) => !rec || !existingOf(rec).includes(n));
    if (strays.length && !opts.force && !rec) throw ownerUnknown(name, strays, "down");
    if (strays.length && !opts.force)
      log(`left ${list(strays)} alone: no lab records them (--force removes them)`);
    return removeLab(name, p, rec, opts.force ? strays : []);
  });
}

/** Mount points at or below dir, deepest first. */
function mountsUnder(dir: string): string[] {
  const out = runSync(["findmnt", "-rn", "-o", "TARGET"], { allowFail: true }).stdout;
  return out
    .split("\n")
    .map((l) => l.replace(/\\x20/g, " "))
    .filter((t) => t === dir || t.startsWith(dir + "/"))
    .sort((a, b) => b.length - a.length);
}

/**
 * Removes what `rec` records (its namespaces that are still the ones it made, every process in them or in
 * its hosts' mount namespaces, by pid), the mounts and files of its lab dir and of this checkout's, then
 * the record; `extra` namespaces only with `down --force`. Safe to run twice.
 */
async function removeLab(
  name: string,
  p: Paths,
  rec: OwnerRecord | undefined,
  extra: string[] = [],
): Promise<DownReport> {
  const owned = [...(rec ? existingOf(rec) : []), ...extra];
  const netInodes = new Set(
    owned.map((n) => nsInode(`/run/netns/${n}`)).filter((i): i is number => i !== undefined),
  );
  const mntInodes = new Set<number>();
  for (const h of rec?.hosts ?? []) {
    if (alive(h.pid, h.startTime)) {
      const ino = nsInode(`/proc/${h.pid}/ns/mnt`);
      if (ino !== undefined) mntInodes.add(ino);
    }
  }

  // Kill by pid until nothing is left: SIGKILL to a host's PID 1 also makes the kernel kill its whole
  // PID namespace, so daemons the product started there go too.
  const killed = new Set<number>();
  const end = Date.now() + 5000;
  for (;;) {
    const pids = pidsInNamespaces(netInodes, mntInodes);
    if (!pids.length) break;
    if (Date.now() > end) {
      throw new Error(
        `lab: processes survive SIGKILL: ${pids.map((x) => `${x} (${procInfo(x)?.comm})`).join(", ")}`,
      );
    }
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        killed.add(pid);
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  // A dying process drops its namespaces before it has finished exiting: wait until each one is gone
  // (or a zombie, which its parent or PID 1 reaps; zombies hold no resources).
  await waitFor(
    () => [...killed].every((pid) => !alive(pid)),
    3000,
    () => `lab: processes still exiting: ${[...killed].filter((pid) => alive(pid)).join(", ")}`,
  );

  if (owned.length)
    await run(["ip", "-batch", "-"], { input: owned.map((n) => `netns del ${n}\n`).join("") });
  let mounts = 0;
  for (const dir of new Set([p.dir, ...(rec ? [rec.dir] : [])])) {
    for (const m of mountsUnder(dir)) {
      const r = runSync(["umount", m], { allowFail: true });
      if (r.code !== 0) runSync(["umount", "-l", m]);
      mounts++;
    }
    fs.rmSync(dir, { recursive: true, force: true });
    try {
      fs.rmdirSync(path.dirname(dir)); // .lab/ itself, once no lab is left
    } catch {
      // other labs are still there
    }
  }
  if (rec) fs.rmSync(recordFile(name), { force: true });
  return { namespaces: owned.length, processes: killed.size, mounts };
}

// ---------------------------------------------------------------------------------------------------
// status, exec, ssh

export function statusOf(name: string): LabStatus {
  const p = pathsOf(name);
  const st = readJson<LabState>(p.state);
  const planOnly = readJson<LabPlan>(p.plan);
  if (!st) {
    return {
      lab: name,
      state: planOnly ? "degraded" : "down",
      dir: p.dir,
      base: planOnly?.base ?? null,
      operator: null,
      sites: [],
      problems: planOnly ? ["a lab run did not finish (killed?): run `up` again or `down`"] : [],
    };
  }
  const problems: string[] = [];
  for (const n of namespacesOf(st.plan)) {
    if (!fs.existsSync(`/run/netns/${n}`)) problems.push(`network namespace ${n} is missing`);
  }
  const sites: SiteStatus[] = st.plan.sites.map((s) => {
    const api = st.api[s.name];
    return {
      name: s.name,
      pveVersion: s.pveVersion,
      subnet: s.subnet,
      gateway: s.gateway,
      api: {
        url: api?.url ?? null,
        node: s.apiHost,
        tokenId: api ? TOKEN_ID : null,
        tokenSecret: api?.tokenSecret ?? null,
        fingerprint: api?.fingerprint ?? null,
      },
      hosts: s.hosts.map((h) => {
        const rt = st.hosts[h.netns];
        const running = alive(rt.pid, rt.startTime);
        if (!running) problems.push(`host ${s.name}/${h.name} is not running`);
        return {
          name: h.name,
          netns: h.netns,
          address: h.address,
          sshPort: 22 as const,
          sshUser: "root" as const,
          hostKey: rt.hostKey,
          hostKeyFingerprint: sshFingerprint(rt.hostKey),
          running,
        };
      }),
      vms: [{ name: s.vm.name, vmid: s.vm.vmid, host: s.vm.host, netns: s.vm.netns, nics: s.vm.nics }],
    };
  });
  return {
    lab: name,
    state: problems.length ? "degraded" : "up",
    dir: p.dir,
    base: st.plan.base,
    operator: {
      netns: st.plan.operator.netns,
      address: st.plan.operator.address,
      sshUser: "root",
      sshPrivateKeyFile: `${p.keys}/operator`,
      sshPublicKey: st.operatorPublicKey,
      knownHostsFile: `${p.keys}/known_hosts`,
    },
    sites,
    problems,
  };
}

export class LabTargetError extends Error {}

function notUp(name: string): LabTargetError {
  const rec = ownerRecord(name);
  return new LabTargetError(
    rec && rec.checkout !== REPO_ROOT
      ? `lab '${name}' is not up in this checkout; a lab of that name runs from ${rec.checkout}. ` +
          `Fix: run the command there, or bring up your own under another name (--name <other>)`
      : `lab '${name}' is not up. Fix: npm run lab -- up`,
  );
}

/**
 * argv prefix that runs a command inside a lab target: "operator", "internet", "<site>" (its first
 * host), "<site>/<node>", or "<site>/vm".
 */
export function enterArgs(name: string, target: string, wd = process.cwd()): string[] {
  const st = readJson<LabState>(pathsOf(name).state);
  if (!st) throw notUp(name);
  const plan = st.plan;
  if (target === "operator") return ["nsenter", `--net=/run/netns/${plan.operator.netns}`, "--"];
  if (target === "internet") return ["nsenter", `--net=/run/netns/${plan.inet.netns}`, "--"];
  const [siteName, hostName, extra] = target.split("/");
  const site = plan.sites.find((s) => s.name === siteName);
  const choices = () =>
    [
      "operator",
      "internet",
      ...plan.sites.flatMap((s) => [s.name, ...s.hosts.map((h) => `${s.name}/${h.name}`), `${s.name}/vm`]),
    ].join(", ");
  if (!site || extra !== undefined) {
    throw new LabTargetError(`'${target}' is not a target of lab '${name}'. Targets: ${choices()}`);
  }
  if (hostName === "vm") return ["nsenter", `--net=/run/netns/${site.vm.netns}`, "--"];
  const host = hostName === undefined ? site.hosts[0] : site.hosts.find((h) => h.name === hostName);
  if (!host) throw new LabTargetError(`'${target}' is not a target of lab '${name}'. Targets: ${choices()}`);
  const rt = st.hosts[host.netns];
  if (!alive(rt.pid, rt.startTime)) {
    throw new LabTargetError(
      `host ${site.name}/${host.name} of lab '${name}' is not running. Fix: npm run lab -- up`,
    );
  }
  return [...hostEnterArgs(rt, fs.existsSync(wd) ? wd : "/"), "--"];
}

/** argv of an OpenSSH client, run from the operator namespace, with the lab's key and pinned host keys. */
export function sshArgs(name: string, target: string): string[] {
  const s = statusOf(name);
  if (!s.operator) throw notUp(name);
  const [siteName, hostName] = target.split("/");
  const site = s.sites.find((x) => x.name === siteName);
  const host = hostName ? site?.hosts.find((h) => h.name === hostName) : site?.hosts[0];
  if (!host) {
    const all = s.sites.flatMap((x) => [x.name, ...x.hosts.map((h) => `${x.name}/${h.name}`)]).join(", ");
    throw new LabTargetError(`'${target}' is not a host of lab '${name}'. Hosts: ${all}`);
  }
  return [
    ...enterArgs(name, "operator"),
    "ssh",
    "-i",
    s.operator.sshPrivateKeyFile,
    "-o",
    `UserKnownHostsFile=${s.operator.knownHostsFile}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "IdentitiesOnly=yes",
    `root@${host.address}`,
  ];
}

export { LabCommandError };
