// Firewall realisation for real (root): two lab sites, each with an in-process API emulator whose firewall
// writes are compiled (lab/fw) and loaded with real `nft` into its lab host. The fabric between them is made
// by hand with the lab's own commands: WireGuard (wireguard-go), a VXLAN link over the tunnel, FRR with an
// iBGP session over the tunnel, and a vnet bridge per site with the site's VM stand-in on it. Each of the
// seed's firewall traps is shown failing with the trap set and working with it cleared.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import { down, enterArgs, up, type LabStatus } from "../../lab/lab";
import { FirewallRealizer, reportOnNode, scriptRunner, shExec } from "../../lab/fw/realize";
import { startHarness, type Harness } from "../emulator/helpers";
import { runLabName } from "../lab-name";

const LAB = runLabName("fw");
const canRun = process.getuid?.() === 0 && fs.existsSync("/usr/sbin/nft");

function sh(target: string, script: string) {
  const argv = [...enterArgs(LAB, target), "/bin/sh", "-c", script];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr.trim() };
}
function ok(target: string, script: string): string {
  const r = sh(target, script);
  assert.equal(r.code, 0, `${target}: ${script}\n${r.stderr}`);
  return r.stdout;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ms: number, probe: () => boolean): Promise<number> {
  const t0 = Date.now();
  while (!probe()) {
    if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(250);
  }
  return Date.now() - t0;
}

interface Site {
  name: "roz" | "wro";
  n: 1 | 2;
  peer: "roz" | "wro";
  h: Harness;
  fw: FirewallRealizer;
  address: string;
}

/** A ping from one VM stand-in to the other (1 packet, 1 s). */
const vmPing = (from: "roz" | "wro") =>
  sh(`${from}/vm`, `ping -c1 -W1 10.${from === "roz" ? 2 : 1}.1.9`).code === 0;
const vxlanPing = () => sh("roz", "ping -c1 -W1 10.99.0.2").code === 0;
const bgpState = (site: string) => {
  const r = sh(site, "vtysh -c 'show bgp neighbors json'");
  if (r.code !== 0) return "no-bgpd";
  const peers = JSON.parse(r.stdout) as Record<string, { bgpState?: string }>;
  return Object.values(peers)[0]?.bgpState ?? "none";
};

(canRun ? describe : describe.skip)("fw lab: the emulator's firewall as nftables in lab hosts", function () {
  this.timeout(240_000);
  let status: LabStatus;
  const sites: Site[] = [];
  const site = (name: string) => sites.find((s) => s.name === name)!;
  /** The firewall rule positions of the seed's group, in the order created below. */
  const rulePos = { forwardToVnet: 3, bgp: 1, vxlan: 2 };

  before(async function () {
    status = await up({ name: LAB, sites: [{ name: "roz" }, { name: "wro" }] }, { api: false });
    for (const name of ["roz", "wro"] as const) {
      const st = status.sites.find((s) => s.name === name)!;
      const node = st.hosts[0];
      const holder: { h?: Harness } = {};
      const exec = shExec(enterArgs(LAB, name));
      const fw = new FirewallRealizer({
        source: () => holder.h!.emu.emulator,
        runner: scriptRunner((_node, script) => exec(script)),
        onResult: (n, error) => holder.h && reportOnNode(holder.h.emu.emulator, n, error),
      });
      holder.h = await startHarness({
        site: name,
        nodes: [{ name: node.name, ip: node.address }],
        firewallChanged: () => fw.changed(),
      });
      sites.push({
        name,
        n: name === "roz" ? 1 : 2,
        peer: name === "roz" ? "wro" : "roz",
        h: holder.h,
        fw,
        address: node.address,
      });
    }
    // --- the fabric by hand -------------------------------------------------------------------------
    const keys = Object.fromEntries(
      sites.map((s) => [s.name, ok(s.name, "umask 077; wg genkey | tee /etc/wireguard/wg0.key | wg pubkey")]),
    );
    for (const s of sites) {
      const p = site(s.peer);
      ok(
        s.name,
        [
          `printf '[Interface]\\nAddress = 10.${s.n}.0.1/16\\nListenPort = 51820\\nPostUp = wg set %%i private-key /etc/wireguard/%%i.key\\n\\n[Peer]\\nPublicKey = ${keys[p.name]}\\nEndpoint = ${p.address}:51820\\nAllowedIPs = 10.${p.n}.0.0/16\\nPersistentKeepalive = 25\\n' > /etc/wireguard/wg0.conf`,
          "wg-quick up wg0 >/dev/null 2>&1",
          "sysctl -qw net.ipv4.ip_forward=1",
          // VXLAN straight over the tunnel (the L3VNI's transport, without EVPN).
          `ip link add vx99 type vxlan id 99 local 10.${s.n}.0.1 remote 10.${p.n}.0.1 dstport 4789`,
          `ip addr add 10.99.0.${s.n}/24 dev vx99 && ip link set vx99 mtu 1370 up`,
          // The vnet: a bridge with the subnet's gateway and the VM stand-in's eth0 tap.
          `ip link add crossvnt type bridge && ip addr add 10.${s.n}.1.1/24 dev crossvnt`,
          "ip link set tap100i0 master crossvnt && ip link set tap100i0 up && ip link set crossvnt up",
          // iBGP between the tunnel addresses, retrying fast once the trap is cleared.
          "sed -i 's/^bgpd=no/bgpd=yes/' /etc/frr/daemons",
          `printf 'frr defaults datacenter\\nrouter bgp 65000\\n bgp router-id 10.${s.n}.0.1\\n no bgp default ipv4-unicast\\n neighbor 10.${p.n}.0.1 remote-as 65000\\n neighbor 10.${p.n}.0.1 update-source 10.${s.n}.0.1\\n neighbor 10.${p.n}.0.1 timers connect 1\\n address-family l2vpn evpn\\n  neighbor 10.${p.n}.0.1 activate\\n exit-address-family\\n' > /etc/frr/frr.conf`,
          "systemctl start frr >/dev/null",
        ].join(" && "),
      );
      ok(
        `${s.name}/vm`,
        `ip addr add 10.${s.n}.1.9/24 dev eth0 && ip link set eth0 up && ip route add 10.0.0.0/8 via 10.${s.n}.1.1`,
      );
      // --- the site's PVE config through its API: SDN, then the seed's firewall -----------------------
      const { h } = s;
      await h.ok("POST", "/cluster/sdn/zones", { zone: "crossite", type: "simple" });
      await h.ok("POST", "/cluster/sdn/vnets", { vnet: "crossvnt", zone: "crossite" });
      await h.ok("POST", "/cluster/sdn/vnets/crossvnt/subnets", {
        subnet: `10.${s.n}.1.0/24`,
        type: "subnet",
        gateway: `10.${s.n}.1.1`,
      });
      await h.waitTask(await h.ok<string>("PUT", "/cluster/sdn"));
      await h.ok("POST", "/cluster/firewall/groups", { group: "fabric" });
      const peerTunnel = `10.${p.n}.0.0/24`;
      // Each POST lands at position 0: create in reverse to get the order of rulePos.
      const group: Record<string, string>[] = [
        // Not the seed's: lets the tests ping across the tunnel and the VXLAN link (position 5).
        { type: "in", action: "ACCEPT", macro: "Ping", source: "10.0.0.0/8" },
        { type: "forward", action: "ACCEPT", source: "+sdn/crossvnt-all", dest: "0.0.0.0/0" },
        { type: "forward", action: "ACCEPT", source: "10.0.0.0/8", dest: "+sdn/crossvnt-all" },
        { type: "in", action: "ACCEPT", proto: "udp", dport: "4789", source: peerTunnel },
        { type: "in", action: "ACCEPT", proto: "tcp", dport: "179", source: peerTunnel },
        { type: "in", action: "ACCEPT", proto: "udp", dport: "51820" },
      ];
      for (const r of group) await h.ok("POST", "/cluster/firewall/groups/fabric", { ...r, enable: 1 });
      await h.ok("POST", "/cluster/firewall/rules", { type: "group", action: "fabric", enable: 1 });
      await h.ok(
        "PUT",
        `/nodes/${status.sites.find((x) => x.name === s.name)!.hosts[0].name}/firewall/options`,
        {
          nftables: 1,
        },
      );
      await h.ok("PUT", "/cluster/firewall/options", { enable: 1, policy_forward: "DROP" });
    }
    for (const s of sites) await s.fw.idle();
  });

  after(async function () {
    for (const s of sites) {
      s.fw.stop();
      await s.fw.idle();
      await s.h.close();
    }
    if (canRun) await down(LAB);
  });

  const setRule = async (s: Site, pos: number, enable: 0 | 1) => {
    await s.h.ok("PUT", `/cluster/firewall/groups/fabric/${pos}`, { enable });
    await s.fw.idle();
  };

  it("loads each site's compiled ruleset with nft, and the fabric works through it", async () => {
    for (const s of sites) {
      const st = s.fw.status[status.sites.find((x) => x.name === s.name)!.hosts[0].name];
      assert.deepEqual(
        { ok: st.ok, backend: st.backend, namespaces: st.namespaces },
        {
          ok: true,
          backend: "nftables",
          namespaces: ["host"],
        },
      );
      // The loaded ruleset holds the +sdn set with the site's own subnet only.
      assert.match(
        ok(s.name, "nft list set inet proxmox-firewall v4-sdn/crossvnt-all"),
        new RegExp(`elements = \\{ 10\\.${s.n}\\.1\\.0/24 \\}`),
      );
      assert.equal(
        ok(
          s.name,
          "nft list chain inet proxmox-firewall cluster-forward | grep -c 'jump group-fabric-forward'",
        ),
        "1",
      );
    }
    const ms = await until(
      "BGP Established over the tunnel",
      30_000,
      () => bgpState("roz") === "Established",
    );
    assert.ok(ms >= 0);
    await until("VXLAN over the tunnel", 10_000, vxlanPing);
    await until("roz VM -> wro VM across the tunnel", 10_000, () => vmPing("roz"));
    assert.equal(vmPing("wro"), true);
  });

  it("trap: without the FORWARD rule to +sdn/<vnet>-all, traffic crosses the tunnel but cannot reach the vnet", async () => {
    const wro = site("wro");
    await setRule(wro, rulePos.forwardToVnet, 0);
    const rx = () => Number(ok("wro", "wg show wg0 transfer").split(/\s+/)[1]);
    const before = rx();
    assert.equal(vmPing("roz"), false, "ping reached wro's VM with the trap set");
    assert.ok(rx() > before, "the ping did not even cross the tunnel");
    // The drop is the cluster forward policy's, on wro.
    assert.equal(vmPing("wro"), true, "wro -> roz is not affected (roz still has its rule)");
    await setRule(wro, rulePos.forwardToVnet, 1);
    assert.equal(vmPing("roz"), true);
  });

  it("trap: UDP 4789 blocked on the tunnel stops VXLAN, clearing it restores it", async () => {
    const wro = site("wro");
    assert.equal(vxlanPing(), true);
    await setRule(wro, rulePos.vxlan, 0);
    assert.equal(vxlanPing(), false, "VXLAN passed with udp/4789 blocked");
    assert.equal(sh("roz", "ping -c1 -W1 10.2.0.1").code, 0, "the tunnel itself stays up (positive control)");
    await setRule(wro, rulePos.vxlan, 1);
    await until("VXLAN back", 5000, vxlanPing);
  });

  it("trap: TCP 179 blocked on both sites keeps BGP from coming up, clearing it lets it establish", async () => {
    for (const s of sites) await setRule(s, rulePos.bgp, 0);
    // Established sessions survive a rule change (conntrack); a reset session must come back through it.
    ok("roz", "vtysh -c 'clear bgp *'");
    await sleep(5000);
    assert.notEqual(bgpState("roz"), "Established");
    assert.notEqual(bgpState("wro"), "Established");
    for (const s of sites) await setRule(s, rulePos.bgp, 1);
    await until("BGP Established again", 30_000, () => bgpState("roz") === "Established");
  });

  it("a config proxmox-firewall cannot parse keeps the previous ruleset and fails the node visibly", async () => {
    const wro = site("wro");
    const node = status.sites.find((x) => x.name === "wro")!.hosts[0].name;
    const loaded = ok("wro", "nft list table inet proxmox-firewall | md5sum");
    await wro.h.ok("PUT", "/cluster/firewall/options", { enable: 2 }); // the 60 s probe: an epoch
    await wro.fw.idle();
    assert.equal(wro.fw.status[node].ok, false);
    assert.match(
      wro.fw.status[node].error!,
      /^firewall config not compiled: cluster options: enable '\d+': proxmox-firewall \(nftables=1\) accepts only 0\/1/,
    );
    const zones = await wro.h.ok<{ status: string }[]>("GET", `/nodes/${node}/sdn/zones`);
    assert.deepEqual(
      zones.map((z) => z.status),
      ["error"],
    );
    assert.equal(ok("wro", "nft list table inet proxmox-firewall | md5sum"), loaded, "the ruleset changed");
    await wro.h.ok("PUT", "/cluster/firewall/options", { enable: 1 });
    await wro.fw.idle();
    assert.equal(wro.fw.status[node].ok, true);
    assert.deepEqual(
      (await wro.h.ok<{ status: string }[]>("GET", `/nodes/${node}/sdn/zones`)).map((z) => z.status),
      ["available"],
    );
  });

  it("with nftables=0 the forward rules and policy have no effect (iptables backend)", async () => {
    const wro = site("wro");
    const node = status.sites.find((x) => x.name === "wro")!.hosts[0].name;
    await setRule(wro, rulePos.forwardToVnet, 0);
    assert.equal(vmPing("roz"), false);
    await wro.h.ok("PUT", `/nodes/${node}/firewall/options`, { nftables: 0 });
    await wro.fw.idle();
    assert.equal(wro.fw.status[node].backend, "iptables");
    assert.equal(vmPing("roz"), true, "forward policy DROP still applied under the iptables backend");
    assert.equal(
      sh("wro", "nft list table inet proxmox-firewall").code,
      1,
      "the nftables backend's table is still there",
    );
    await wro.h.ok("PUT", `/nodes/${node}/firewall/options`, { nftables: 1 });
    await setRule(wro, rulePos.forwardToVnet, 1);
  });

  it("keeps SSH reachable from the node's local network (local_network) and from the lab operator only when granted", async () => {
    const roz = site("roz");
    const addr = roz.address;
    const connect = (from: string) => sh(from, `timeout 3 bash -c '</dev/tcp/${addr}/22'`).code === 0;
    // The VM stand-in's eth1 is on vmbr0, the node's LAN; the operator is on a routed subnet.
    assert.equal(connect("roz/vm"), true, "from the local network");
    assert.equal(connect("operator"), false, "from the operator, without a grant");
    const granted = new FirewallRealizer({
      source: () => roz.h.emu.emulator,
      runner: scriptRunner((_n, script) => shExec(enterArgs(LAB, "roz"))(script)),
      extraManagement: [`${status.operator!.address}/32`],
    });
    await granted.applyNode(status.sites.find((x) => x.name === "roz")!.hosts[0].name);
    assert.equal(connect("operator"), true, "from the operator, granted");
  });
});
