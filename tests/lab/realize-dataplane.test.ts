// SDN realisation for real (root, lab/install-deps.sh): two sites configured by hand through the emulator's
// API (tests/lab/fabric-by-hand.ts), realised on the lab hosts by every apply (lab/realize/), VM stand-ins
// on the vnet. One lab for the whole file; each trap is set, shown to break traffic, cleared, and shown to
// work again, so the next test starts from a working fabric.
import { strict as assert } from "node:assert";
import { runLabName } from "../lab-name";
import { fabricByHand, gatewayIp, vmIp, ZONE, type HandFabric } from "./fabric-by-hand";

const LAB = runLabName("rz");

describe("SDN realisation on lab hosts (two sites by hand)", function () {
  this.timeout(120_000);
  let f: HandFabric;

  const curl = (site: string) => f.sh(`${site}/vm`, `curl -sS -m 4 ${f.httpUrl}`, 10_000);
  const ping = (from: string, to: string) => f.sh(from, `ping -c 1 -W 1 ${to}`, 5_000).code === 0;

  before(async () => {
    f = await fabricByHand({ lab: LAB });
    // BGP needs a few seconds; the VMs announce themselves by pinging their gateways (type-2 routes).
    // Each site's apply reloads its FRR, so sessions come up once both are done; the VMs' type-2 routes
    // follow when the VMs have spoken (ARP for their gateways).
    const established = (site: string) =>
      /"state":"Established"/.test(f.sh(site, "vtysh -c 'show bgp l2vpn evpn summary json'").stdout);
    const ready = await f.until(
      () =>
        established("roz") &&
        established("wro") &&
        ping("roz/vm", gatewayIp(1)) &&
        ping("wro/vm", gatewayIp(2)) &&
        f.sh("roz", "ip -n vrf_crossite route show 10.2.1.9").stdout.includes("vrfbr_crossite") &&
        f.sh("wro", "ip -n vrf_crossite route show 10.1.1.9").stdout.includes("vrfbr_crossite"),
      60_000,
    );
    assert.ok(ready, "the fabric did not converge within 60 s");
  });
  after(async () => {
    if (f) await f.down();
  });

  it("brings BGP EVPN sessions to Established over the WireGuard tunnel on both sites", () => {
    for (const [site, peer] of [
      ["roz", "10.2.0.1"],
      ["wro", "10.1.0.1"],
    ]) {
      const j = JSON.parse(f.ok(site, "vtysh -c 'show bgp l2vpn evpn summary json'")) as {
        peers: Record<string, { state: string }>;
      };
      assert.deepEqual(Object.keys(j.peers), [peer]);
      assert.equal(j.peers[peer].state, "Established");
    }
    assert.match(f.ok("roz", "wg show wg0 latest-handshakes"), /\t[1-9][0-9]*$/);
  });

  it("writes PVE's files on the node and realises the zone VRF as a namespace with the vnet, anycast MAC and MTU", () => {
    const sdn = f.ok("roz", "cat /etc/network/interfaces.d/sdn");
    assert.match(sdn, /^iface crossvnt\n\taddress 10\.1\.1\.1\/24\n/m);
    assert.match(sdn, /\tvrf vrf_crossite\n/);
    assert.match(
      f.ok("roz", "cat /etc/frr/frr.conf"),
      /^vrf vrf_crossite\n netns \/run\/netns\/vrf_crossite\n/m,
    );
    assert.equal(f.ok("roz", "ip netns list | cut -d' ' -f1"), "vrf_crossite");
    const br = JSON.parse(f.ok("roz", "ip -n vrf_crossite -j -d link show crossvnt"))[0];
    assert.equal(br.mtu, 1370);
    assert.equal(br.address, /\thwaddress (\S+)/.exec(sdn)![1].toLowerCase());
    assert.equal(f.ok("roz", "ip -n vrf_crossite -br addr show crossvnt").split(/\s+/)[2], "10.1.1.1/24");
    const vx = JSON.parse(f.ok("roz", "ip -n vrf_crossite -j -d link show vxlan_crossvnt"))[0];
    assert.equal(vx.linkinfo.info_data.id, 100000);
    assert.equal(vx.linkinfo.info_data.local, "10.1.0.1");
    assert.equal(vx.master, "crossvnt");
    // The VM's eth0 is plugged into the vnet bridge, addressed as cloud-init would.
    assert.equal(f.ok("roz/vm", "ip route show default"), `default via ${gatewayIp(1)} dev eth0 `.trim());
    assert.equal(f.ok("roz/vm", "ip -br addr show eth0").split(/\s+/)[2], `${vmIp(1)}/24`);
  });

  it("lets the VM at roz ping the VM at wro across subnets, inside the zone (EVPN type-2 over VXLAN)", () => {
    assert.ok(ping("roz/vm", vmIp(2)));
    assert.ok(ping("wro/vm", vmIp(1)));
    assert.match(
      f.ok("roz", "ip -n vrf_crossite route show 10.2.1.9"),
      /via 10\.2\.0\.1 dev vrfbr_crossite proto bgp/,
    );
  });

  it("lets each VM reach the internet's HTTP server only through its own site's SNAT", () => {
    assert.equal(curl("roz").stdout, "hello from the internet");
    assert.equal(curl("wro").stdout, "hello from the internet");
    // The SNAT rule PVE generates for the exit node, translated to nftables.
    assert.match(
      f.ok("roz", "nft list chain ip nat POSTROUTING"),
      /ip saddr 10\.1\.1\.0\/24 oifname "vmbr0" snat to 198\.18\.1\.10/,
    );
    // The other site's default route is refused on an exit node (MAP_VTEP_IN, FRR 8.4 translation).
    assert.equal(f.ok("roz", "ip -n vrf_crossite route show default proto bgp"), "");
  });

  it("trap exitnodes-local-routing=1 (set through the API): replies reach the VM with rewritten ports; cleared, it works", async () => {
    f.api("roz", "PUT", `/cluster/sdn/zones/${ZONE}`, { "exitnodes-local-routing": 1 });
    assert.deepEqual(await f.apply("roz"), [{ zone: ZONE, status: "available" }]);
    assert.match(
      f.ok("roz", "ip route show 10.1.1.0/24"),
      /via 10\.255\.255\.2 dev xvrf_crossite proto static/,
    );
    // Capture in the VM while curl fails: the server's source port is rewritten (the seed's tcpdump).
    const r = f.sh(
      "roz/vm",
      `(timeout 6 tcpdump -lni eth0 -c 30 'tcp and src host ${f.httpUrl.split("/")[2].split(":")[0]}' > /tmp/td.$$ 2>/dev/null &) ; sleep 0.5; ` +
        `curl -sS -m 3 -o /dev/null ${f.httpUrl}; echo "curl=$?"; sleep 0.5; cat /tmp/td.$$; rm -f /tmp/td.$$`,
      15_000,
    );
    assert.match(r.stdout, /^curl=28$/m, r.stdout);
    const ports = new Set([...r.stdout.matchAll(/IP [0-9.]+\.(\d+) > 10\.1\.1\.9/g)].map((m) => m[1]));
    assert.ok(ports.has("8080"), `the SYN-ACK still comes from 8080: ${[...ports]}`);
    assert.ok(ports.size >= 2, `expected rewritten source ports besides 8080, saw ${[...ports].join(",")}`);

    f.api("roz", "PUT", `/cluster/sdn/zones/${ZONE}`, { delete: "exitnodes-local-routing" });
    await f.apply("roz");
    assert.equal(f.sh("roz", "ip link show xvrf_crossite").code, 1);
    assert.equal(curl("roz").stdout, "hello from the internet");
  });

  it("trap rp_filter=1: an asymmetric flow (in on vmbr0, out through the vnet) dies on the node; cleared, it works", () => {
    // The operator pings the VM's vmbr0 address; the VM answers by its default route, the vnet.
    const vmLan = f.status.sites[0].vms[0].nics[1].address!.split("/")[0];
    assert.ok(ping("operator", vmLan), "positive control with rp_filter=0");
    f.ok("roz", "sysctl -qw net.ipv4.conf.all.rp_filter=1");
    try {
      assert.equal(ping("operator", vmLan), false);
    } finally {
      f.ok("roz", "sysctl -qw net.ipv4.conf.all.rp_filter=0");
    }
    assert.ok(ping("operator", vmLan));
  });

  it("trap ip_forward=0 on the exit node: SNAT egress dies silently while the gateway answers; cleared, it works", () => {
    f.ok("roz", "sysctl -qw net.ipv4.ip_forward=0");
    try {
      assert.equal(curl("roz").code, 28);
      assert.equal(ping("roz/vm", gatewayIp(1)), true); // the gateway itself still answers
    } finally {
      f.ok("roz", "sysctl -qw net.ipv4.ip_forward=1");
    }
    assert.equal(curl("roz").stdout, "hello from the internet");
  });

  it("reports node SDN status `error` with the reason when realisation fails (broken interfaces file), then recovers", async () => {
    f.ok(
      "wro",
      "cp /etc/network/interfaces /tmp/interfaces.good && printf '\\niface broken\\n\\taddress\\n' >> /etc/network/interfaces",
    );
    try {
      assert.deepEqual(await f.apply("wro"), [{ zone: ZONE, status: "error" }]);
      const tasks = f.api("wro", "GET", "/nodes/wro1/tasks", {
        typefilter: "srvreload",
        errors: 1,
        limit: 1,
      }) as {
        status: string;
      }[];
      assert.equal(
        tasks[0].status,
        "Unable to realise SDN on node 'wro1': writing the files and `ifreload -a` (generated stanzas excluded) " +
          "failed: error: /etc/network/interfaces: line17: iface broken: invalid syntax 'address'",
      );
    } finally {
      f.ok("wro", "cp /tmp/interfaces.good /etc/network/interfaces");
    }
    assert.deepEqual(await f.apply("wro"), [{ zone: ZONE, status: "available" }]);
    assert.ok(await f.until(() => ping("wro/vm", vmIp(1)), 20_000));
  });
});
