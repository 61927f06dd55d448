// Runs inside the lab's operator namespace (tests/providers/host-providers.test.ts starts it): drives the
// host providers' methods the way the engine does (check, create, diff -> update when changed, read,
// delete) against the two lab hosts, injects drift by hand through OpenSSH, and prints one JSON report.
// The test file asserts the claims; this file only observes.
import { byHand, LAB, statusOf } from "./host-lab";
import { pool, SshPool, targetId, type SshTarget } from "../../providers/host/ssh";
import { HostSession } from "../../providers/host/lifecycle";
import * as fs from "node:fs";

type P = Record<string, unknown> & { connection: SshTarget };
interface Kind {
  provider: {
    check(o: P, n: P): Promise<{ inputs: P; failures: { property: string; reason: string }[] }>;
    diff(id: string, o: P, n: P): Promise<{ changes: boolean; replaces?: string[] }>;
    read(id: string, p: P): Promise<{ id: string; props: P }>;
    create(n: P): Promise<{ id: string; outs: P }>;
    update(id: string, o: P, n: P): Promise<{ outs: P }>;
    delete(id: string, p: P): Promise<void>;
  };
  kind: {
    read(s: HostSession, spec: unknown): Promise<unknown>;
    drift(spec: unknown, live: unknown): string[];
  };
}
const sysctls = require("../../providers/host/sysctls") as Kind;
const packages = require("../../providers/host/packages") as Kind;
const service = require("../../providers/host/service") as Kind;
const wireguard = require("../../providers/host/wireguard") as Kind;

const s = statusOf(LAB);
const [roz, wro] = s.sites.map((x) => x.hosts[0]);
const sshKey = fs.readFileSync(s.operator!.sshPrivateKeyFile, "utf8");
const conn = (h: typeof roz): SshTarget => ({ host: h.address, hostKey: h.hostKey, privateKey: sshKey });

const report: Record<string, unknown> = {};
const captured: string[] = []; // every output, error and log line the providers produced
const wgKeys = new Set<string>(); // every WireGuard private key that existed, read by hand for the grep

const writes = () => [...pool.stats.values()].reduce((n, x) => n + x.writes, 0);
const specOf = (p: P) =>
  Object.fromEntries(Object.entries(p).filter(([k]) => !["connection", "observed", "previous"].includes(k)));

/** What the engine does on `up` for an existing resource: diff against the live host, update when it changed. */
async function apply(k: Kind, id: string, outs: P, news: P) {
  const before = writes();
  const d = await k.provider.diff(id, outs, news);
  let next = outs;
  if (d.changes) next = (await k.provider.update(id, outs, news)).outs;
  captured.push(JSON.stringify({ ...next, connection: "(secret output)" }));
  return { changed: d.changes, writes: writes() - before, outs: next };
}

async function driftNames(k: Kind, p: P): Promise<string[]> {
  return k.kind.drift(specOf(p), await k.kind.read(new HostSession(p.connection), specOf(p)));
}

/** Injects drift by hand, records what diff and the drift names say, repairs it with an apply. */
async function drift(k: Kind, id: string, outs: P, news: P, label: string, cmd: string, host = roz) {
  byHand(s, host, cmd);
  const detected = (await k.provider.diff(id, outs, news)).changes;
  const names = await driftNames(k, news);
  const repair = await apply(k, id, outs, news);
  const after = await driftNames(k, news);
  (report.drift as Record<string, unknown>)[label] = { detected, names, repairWrites: repair.writes, after };
  return repair.outs;
}

function grabWgKeys() {
  for (const h of [roz, wro]) {
    const k = byHand(s, h, "cat /etc/wireguard/wg0.key 2>/dev/null || true").trim();
    if (k) wgKeys.add(k);
  }
}

async function main() {
  report.drift = {};
  const hostState = (h: typeof roz) =>
    byHand(
      s,
      h,
      "cat /etc/sysctl.d/90-pve-fabric.conf 2>/dev/null; sysctl net.ipv4.ip_forward net.ipv4.conf.all.rp_filter net.ipv4.conf.all.log_martians; systemctl is-enabled frr; systemctl is-active frr; grep ^bgpd= /etc/frr/daemons; ls /etc/wireguard; ip -br link show type tun",
    );
  report.hostBefore = hostState(roz);

  // --- check: bad input names field, value, rule ---------------------------------------------------------
  const bad = await sysctls.provider.check({} as P, {
    connection: conn(roz),
    name: "90 x",
    values: { "net.ipv4.ip_forward": "1\n2" },
  });
  report.checkFailures = bad.failures;

  // --- sysctls -------------------------------------------------------------------------------------------
  const sysIn: P = {
    connection: conn(roz),
    name: "90-pve-fabric",
    values: {
      "net.ipv4.ip_forward": "1",
      "net.bridge.bridge-nf-call-iptables": "1",
      "net.bridge.bridge-nf-call-ip6tables": "1",
      "net.ipv4.conf.all.rp_filter": "0",
      "net.ipv4.conf.default.rp_filter": "0",
    },
  };
  let w = writes();
  const sc = await sysctls.provider.create(sysIn);
  report.sysctlsCreate = { writes: writes() - w, observed: sc.outs.observed, previous: sc.outs.previous };
  let sysOuts = sc.outs;
  report.sysctlsSecondApply = await apply(sysctls, sc.id, sysOuts, sysIn).then((r) => ({
    changed: r.changed,
    writes: r.writes,
  }));
  for (const [k, bad] of [
    ["net.ipv4.ip_forward", "0"],
    ["net.bridge.bridge-nf-call-iptables", "0"],
    ["net.bridge.bridge-nf-call-ip6tables", "0"],
    ["net.ipv4.conf.all.rp_filter", "2"],
    ["net.ipv4.conf.default.rp_filter", "1"],
  ])
    sysOuts = await drift(sysctls, sc.id, sysOuts, sysIn, `sysctl ${k}`, `sysctl -q -w ${k}=${bad}`);
  sysOuts = await drift(
    sysctls,
    sc.id,
    sysOuts,
    sysIn,
    "sysctl dropIn edited",
    "sed -i 's/ip_forward = 1/ip_forward = 0/' /etc/sysctl.d/90-pve-fabric.conf",
  );
  sysOuts = await drift(
    sysctls,
    sc.id,
    sysOuts,
    sysIn,
    "sysctl dropIn removed",
    "rm /etc/sysctl.d/90-pve-fabric.conf",
  );
  const sysIn2 = { ...sysIn, values: { ...(sysIn.values as object), "net.ipv4.conf.all.log_martians": "1" } };
  const su = await apply(sysctls, sc.id, sysOuts, sysIn2);
  report.sysctlsUpdate = {
    changed: su.changed,
    writes: su.writes,
    file: byHand(s, roz, "cat /etc/sysctl.d/90-pve-fabric.conf"),
    live: byHand(s, roz, "sysctl -n net.ipv4.conf.all.log_martians").trim(),
  };
  sysOuts = su.outs;

  // --- packages (present in the lab: detection only; see README) -------------------------------------------
  const pkgIn: P = { connection: conn(roz), packages: ["frr", "frr-pythontools", "wireguard-tools"] };
  w = writes();
  const pc = await packages.provider.create(pkgIn);
  report.packagesCreate = { writes: writes() - w, observed: pc.outs.observed, previous: pc.outs.previous };
  const pkgMissing = { ...pkgIn, packages: ["frr", "pve-fabric-absent-package"] };
  report.packagesMissing = {
    diff: (await packages.provider.diff(pc.id, pc.outs, pkgMissing)).changes,
    names: await driftNames(packages, pkgMissing),
  };

  // --- service: frr enabled, running, bgpd on -------------------------------------------------------------
  const svcIn: P = {
    connection: conn(roz),
    unit: "frr",
    enabled: true,
    active: true,
    frrDaemons: { bgpd: "yes" },
  };
  w = writes();
  const vc = await service.provider.create(svcIn);
  report.serviceCreate = {
    writes: writes() - w,
    observed: vc.outs.observed,
    previous: vc.outs.previous,
    bgpd: byHand(s, roz, "pidof bgpd >/dev/null && echo running || echo absent").trim(),
  };
  let svcOuts = vc.outs;
  report.serviceSecondApply = await apply(service, vc.id, svcOuts, svcIn).then((r) => ({
    changed: r.changed,
    writes: r.writes,
  }));
  svcOuts = await drift(service, vc.id, svcOuts, svcIn, "service enabled", "systemctl disable frr");
  svcOuts = await drift(service, vc.id, svcOuts, svcIn, "service active", "systemctl stop frr");
  svcOuts = await drift(
    service,
    vc.id,
    svcOuts,
    svcIn,
    "service daemons.bgpd",
    "sed -i 's/^bgpd=yes/bgpd=no/' /etc/frr/daemons",
  );
  report.serviceBgpdAfterRepair = byHand(
    s,
    roz,
    "pidof bgpd >/dev/null && echo running || echo absent",
  ).trim();

  // --- WireGuard on both hosts: keys first, then peers (as two fabric runs would) -------------------------
  const wgBase = (h: typeof roz, addr: string): P => ({
    connection: conn(h),
    name: "wg0",
    address: addr,
    listenPort: 51820,
    mtu: 1420,
    peers: [],
  });
  let rozIn = wgBase(roz, "10.1.0.1/16");
  let wroIn = wgBase(wro, "10.2.0.1/16");
  w = writes();
  const rc = await wireguard.provider.create(rozIn);
  const wc = await wireguard.provider.create(wroIn);
  report.wgCreateWrites = writes() - w;
  grabWgKeys();
  const peerOf = (h: typeof roz, pub: unknown, net: string) => ({
    publicKey: pub as string,
    endpoint: `${h.address}:51820`,
    allowedIps: [net],
    persistentKeepalive: 25,
  });
  const pubOf = (o: P) => (o.observed as { publicKey: string }).publicKey;
  rozIn = { ...rozIn, peers: [peerOf(wro, pubOf(wc.outs), "10.2.0.0/16")] };
  wroIn = { ...wroIn, peers: [peerOf(roz, pubOf(rc.outs), "10.1.0.0/16")] };
  const link = (h: typeof roz) => byHand(s, h, "cat /sys/class/net/wg0/ifindex; pidof wireguard-go").trim();
  let rozOuts = (await apply(wireguard, rc.id, rc.outs, rozIn)).outs;
  let wroOuts = (await apply(wireguard, wc.id, wc.outs, wroIn)).outs;
  const ping = (h: typeof roz, ip: string) =>
    byHand(s, h, `ping -c 1 -W 3 ${ip} >/dev/null && echo ok || echo fail`).trim();
  report.wgPeered = {
    rozToWro: ping(roz, "10.2.0.1"),
    wroToRoz: ping(wro, "10.1.0.1"),
    rozPub: pubOf(rozOuts),
    wroPub: pubOf(wroOuts),
  };
  report.wgHandshake = Number(byHand(s, roz, "wg show wg0 latest-handshakes | cut -f2").trim());
  report.wgSecondApply = await Promise.all([
    apply(wireguard, rc.id, rozOuts, rozIn),
    apply(wireguard, wc.id, wroOuts, wroIn),
  ]).then((r) => r.map((x) => ({ changed: x.changed, writes: x.writes })));

  // Peer change without dropping the tunnel: same interface (ifindex) and wireguard-go process before and after.
  const linkBefore = link(roz);
  const extra = { publicKey: "Nq5Xm6y7Fq1V3o1H0cQ9bq0gC2Tt8pR3nH8xk2bqz0s=", allowedIps: ["10.3.0.0/16"] };
  const rozIn3 = { ...rozIn, peers: [...(rozIn.peers as object[]), extra] };
  const pu = await apply(wireguard, rc.id, rozOuts, rozIn3);
  report.wgPeerAdd = {
    writes: pu.writes,
    linkBefore,
    linkAfter: link(roz),
    peers: byHand(s, roz, "wg show wg0 peers").trim().split("\n").sort(),
    route: byHand(s, roz, "ip route show 10.3.0.0/16").trim(),
    ping: ping(roz, "10.2.0.1"),
  };
  const pr = await apply(wireguard, rc.id, pu.outs, rozIn);
  report.wgPeerRemove = {
    writes: pr.writes,
    linkAfter: link(roz),
    route: byHand(s, roz, "ip route show 10.3.0.0/16").trim(),
    ping: ping(roz, "10.2.0.1"),
  };
  rozOuts = pr.outs;

  const wgDrift = async (label: string, cmd: string) =>
    (rozOuts = await drift(wireguard, rc.id, rozOuts, rozIn, label, cmd));
  const wroPub = pubOf(wroOuts);
  await wgDrift("wg config edited", "sed -i 's/^MTU = 1420/MTU = 1300/' /etc/wireguard/wg0.conf");
  await wgDrift("wg listenPort", "wg set wg0 listen-port 51999");
  await wgDrift("wg peer removed", `wg set wg0 peer ${wroPub} remove`);
  await wgDrift("wg peer allowedIps", `wg set wg0 peer ${wroPub} allowed-ips 10.2.0.0/24`);
  await wgDrift("wg peer keepalive", `wg set wg0 peer ${wroPub} persistent-keepalive 0`);
  await wgDrift("wg peer endpoint", `wg set wg0 peer ${wroPub} endpoint 198.18.2.99:51820`);
  await wgDrift("wg address", "ip addr del 10.1.0.1/16 dev wg0");
  await wgDrift("wg mtu", "ip link set wg0 mtu 1400");
  await wgDrift("wg route", "ip route del 10.2.0.0/16 dev wg0");
  await wgDrift("wg running key", "umask 077; wg genkey >/tmp/k; wg set wg0 private-key /tmp/k; rm /tmp/k");
  await wgDrift("wg enabled", "systemctl disable wg-quick@wg0");
  await wgDrift("wg interface gone", "ip link del wg0");
  report.wgAfterDrift = { ping: ping(roz, "10.2.0.1"), pub: pubOf(rozOuts) };

  // Key rotation on demand: a new key pair on roz; wro learns the new public key; the tunnel comes back.
  const rozRot = { ...rozIn, keyGeneration: 1 };
  const rot = await apply(wireguard, rc.id, rozOuts, rozRot);
  grabWgKeys();
  rozOuts = rot.outs;
  const wroRot = { ...wroIn, peers: [peerOf(roz, pubOf(rozOuts), "10.1.0.0/16")] };
  wroOuts = (await apply(wireguard, wc.id, wroOuts, wroRot)).outs;
  report.wgRotation = {
    oldPub: pubOf(rc.outs),
    newPub: pubOf(rozOuts),
    onHost: byHand(s, roz, "wg show wg0 public-key").trim(),
    ping: ping(wro, "10.1.0.1"),
  };

  // --- errors ------------------------------------------------------------------------------------------------
  const errors: Record<string, unknown> = {};
  try {
    await new SshPool({ attempts: 1 }).exec({ ...conn(roz), hostKey: wro.hostKey }, "true");
  } catch (e) {
    errors.mismatch = {
      name: (e as Error).name,
      message: (e as Error).message,
      expected: wro.hostKeyFingerprint,
      actual: roz.hostKeyFingerprint,
    };
  }
  const logs: string[] = [];
  const t0 = Date.now();
  try {
    await new SshPool({
      attempts: 3,
      attemptTimeoutMs: 1000,
      retryDelayMs: 100,
      log: (l) => logs.push(l),
    }).exec({ ...conn(roz), port: 2 }, "true");
  } catch (e) {
    errors.dial = {
      name: (e as Error).name,
      attempts: (e as { attempts?: number }).attempts,
      message: (e as Error).message,
      logs,
      ms: Date.now() - t0,
    };
  }
  try {
    await pool.exec(conn(roz), "printf 'one\\ntwo\\n' >&2; exit 3");
  } catch (e) {
    const x = e as {
      name: string;
      host: string;
      command: string;
      exitCode: number;
      stderrTail: string;
      message: string;
    };
    errors.exit = {
      name: x.name,
      host: x.host,
      command: x.command,
      exitCode: x.exitCode,
      stderrTail: x.stderrTail,
      message: x.message,
    };
  }
  try {
    await service.provider.create({
      connection: conn(roz),
      unit: "pve-fabric-nonexistent",
      enabled: true,
      active: true,
    });
  } catch (e) {
    errors.provider = { message: (e as Error).message };
  }
  report.errors = errors;
  captured.push(JSON.stringify(errors), logs.join("\n"));

  // --- one handshake per host for everything above -------------------------------------------------------
  report.handshakes = Object.fromEntries([...pool.stats].map(([h, x]) => [h, x.handshakes]));
  report.hostIds = { roz: targetId(conn(roz)), wro: targetId(conn(wro)) };

  // --- delete restores the host -----------------------------------------------------------------------------
  await wireguard.provider.delete(rc.id, rozOuts);
  await wireguard.provider.delete(wc.id, wroOuts);
  await service.provider.delete(vc.id, svcOuts);
  await packages.provider.delete(pc.id, pc.outs);
  await sysctls.provider.delete(sc.id, sysOuts);
  report.hostAfter = hostState(roz);
  report.wroWgAfter = byHand(
    s,
    wro,
    "ls /etc/wireguard; ip -br link show type tun; systemctl is-enabled wg-quick@wg0 || true",
  ).trim();
  report.readAfterDelete = (await wireguard.provider.read(rc.id, rozOuts)).id;
  await pool.closeAll();

  // --- no private key anywhere --------------------------------------------------------------------------------
  const sshBody = sshKey.split("\n").filter((l) => l && !l.startsWith("-----"));
  const audit = process.env.PVE_FABRIC_SSH_AUDIT
    ? fs.readFileSync(process.env.PVE_FABRIC_SSH_AUDIT, "utf8")
    : "";
  report.auditLines = audit.split("\n").filter((l) => l).length;
  const all = captured.join("\n") + JSON.stringify(report) + audit;
  report.secretScan = {
    wgKeysSeen: wgKeys.size,
    wgKeyHits: [...wgKeys].filter((k) => all.includes(k)).length,
    sshKeyLines: sshBody.length,
    sshKeyHits: sshBody.filter((l) => all.includes(l)).length,
  };
  // The outputs that hold the connection (and so the SSH key) are the ones Pulumi marks secret; the scan above
  // covers errors and logs; the audit trail (PVE_FABRIC_SSH_AUDIT) is scanned by the test itself.
  process.stdout.write("\n@@report " + JSON.stringify(report) + "\n");
}

main().catch((e) => {
  process.stdout.write("\n@@report " + JSON.stringify({ fatal: (e as Error).stack }) + "\n");
  process.exit(1);
});
