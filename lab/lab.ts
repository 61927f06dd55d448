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
  return PRIVATE_IN_HOSTS.some((p) => inRepo === p || inRepo.startsWith(p + "/"))
    ? path.join("/var/lib/pve-fabric-lab", name)
    : inRepo;
}

interface Paths {
  dir: string; // .lab/<name>: only a mount point and the lock
  run: string; // tmpfs: everything the running lab has (keys, host layers, logs, state)
  plan: string; // written before anything is created: what this lab owns
  state: string;
  keys: string;
  lock: string;
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
    lock: `${dir}.lock`,
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
// Lock: one lab command per lab name at a time

function withLock<T>(p: Paths, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(path.dirname(p.lock), { recursive: true });
  const me = `${process.pid} ${procInfo(process.pid)?.startTime}`;
  for (let i = 0; ; i++) {
    try {
      fs.writeFileSync(p.lock, me, { flag: "wx" });
      break;
    } catch {
      const [pid, start] = (fs.readFileSync(p.lock, "utf8").trim() || "0 x").split(" ");
      if (alive(Number(pid), start)) {
        throw new Error(
          `lab: another lab command (pid ${pid}) is working on this lab (${p.lock}). Wait for it, or stop it.`,
        );
      }
      fs.rmSync(p.lock, { force: true }); // left by a killed run
      if (i > 2) throw new Error(`lab: cannot take the lock ${p.lock}`);
    }
  }
  return fn().finally(() => fs.rmSync(p.lock, { force: true }));
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

  return withLock(p, async () => {
    const st = readJson<LabState>(p.state);
    if (st && JSON.stringify(st.plan) === JSON.stringify(plan) && (!wantApi || apiStarted(st))) {
      const s = statusOf(def.name);
      if (s.state === "up") {
        log(`lab ${def.name} is already up`);
        return s;
      }
    }
    const cleaned = await teardown(p);
    if (cleaned.namespaces + cleaned.processes + cleaned.mounts > 0) {
      log(
        `cleaned up a previous lab '${def.name}': ${cleaned.namespaces} namespaces, ${cleaned.processes} processes, ` +
          `${cleaned.mounts} mounts`,
      );
    }
    try {
      await build(plan, p, wantApi, log);
    } catch (e) {
      log(`lab up failed; removing what was built (logs were in ${p.run})`);
      const detail = e instanceof Error ? e.message : String(e);
      await teardown(p).catch(() => {});
      throw new Error(`Unable to bring lab '${def.name}' up: ${detail}`);
    }
    return statusOf(def.name);
  });
}

function apiStarted(st: LabState): boolean {
  return st.plan.sites.every((s) => st.api[s.name]);
}

async function build(plan: LabPlan, p: Paths, wantApi: boolean, log: (l: string) => void) {
  const t0 = Date.now();
  const step = (what: string) => log(`[${((Date.now() - t0) / 1000).toFixed(2)}s] ${what}`);

  // One private tmpfs holds all runtime files: `down` is one umount, and secrets never touch the disk.
  fs.mkdirSync(p.run, { recursive: true, mode: 0o700 });
  runSync(["mount", "-t", "tmpfs", "-o", "mode=700,size=512m", `lab-${plan.name}`, p.run]);
  runSync(["mount", "--make-private", p.run]);
  // Ownership record first, so a run killed from here on is cleaned up by `down`/`up`.
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

async function buildNetworks(plan: LabPlan) {
  const ns = namespacesOf(plan);
  await run(["ip", "-batch", "-"], { input: ns.map((n) => `netns add ${n}\n`).join("") });
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

export function down(name: string): Promise<DownReport> {
  parseDefinition({ name, sites: [{ name: "aa" }, { name: "bb" }] }); // validates the name only
  const p = pathsOf(name);
  return withLock(p, () => teardown(p));
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
 * Removes everything a lab made, found from what exists (not from what a crashed run may have recorded):
 * the namespaces named in its plan file, every process inside them (by namespace, killed by pid), its
 * mounts and its files. Safe to run twice.
 */
async function teardown(p: Paths): Promise<DownReport> {
  const plan = readJson<LabPlan>(p.plan);
  const state = readJson<LabState>(p.state);
  const owned = plan ? namespacesOf(plan).filter((n) => fs.existsSync(`/run/netns/${n}`)) : [];
  const netInodes = new Set(
    owned.map((n) => nsInode(`/run/netns/${n}`)).filter((i): i is number => i !== undefined),
  );
  const mntInodes = new Set<number>();
  for (const rt of Object.values(state?.hosts ?? {})) {
    if (alive(rt.pid, rt.startTime)) {
      const ino = nsInode(`/proc/${rt.pid}/ns/mnt`);
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
  const mounts = mountsUnder(p.dir);
  for (const m of mounts) {
    const r = runSync(["umount", m], { allowFail: true });
    if (r.code !== 0) runSync(["umount", "-l", m]);
  }
  fs.rmSync(p.dir, { recursive: true, force: true });
  try {
    fs.rmdirSync(path.dirname(p.dir)); // .lab/ itself, once no lab is left
  } catch {
    // other labs (or their locks) are still there
  }
  return { namespaces: owned.length, processes: killed.size, mounts: mounts.length };
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

/**
 * argv prefix that runs a command inside a lab target: "operator", "internet", "<site>" (its first
 * host), "<site>/<node>", or "<site>/vm".
 */
export function enterArgs(name: string, target: string, wd = process.cwd()): string[] {
  const st = readJson<LabState>(pathsOf(name).state);
  if (!st) throw new LabTargetError(`lab '${name}' is not up. Fix: npm run lab -- up`);
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
  if (!s.operator) throw new LabTargetError(`lab '${name}' is not up. Fix: npm run lab -- up`);
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
