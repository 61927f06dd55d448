// The firewall on the real EVPN fabric (root): part A's fabric by hand (lab emulators realising SDN, zone VRF
// as a namespace, FRR EVPN over WireGuard), then the seed's firewall through the API. Proves that the ruleset
// reaches the zone-VRF namespace (where the VM traffic is routed in the lab) and that the missing-forward-rule
// trap breaks and clearing it restores VM-to-VM traffic across sites.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { runLabName } from "../lab-name";
import { fabricByHand, SITES, vmIp, type HandFabric, type SiteName } from "./fabric-by-hand";

const canRun = process.getuid?.() === 0 && fs.existsSync("/usr/sbin/nft");

(canRun ? describe : describe.skip)("fw evpn: the seed's firewall on the EVPN fabric", function () {
  this.timeout(300_000);
  let f: HandFabric;
  const nodeOf = (site: SiteName) => f.status.sites.find((s) => s.name === site)!.hosts[0].name;
  const ping = () => f.sh("roz/vm", `ping -c1 -W1 ${vmIp(2)}`).code === 0;

  before(async function () {
    f = await fabricByHand({ lab: runLabName("fe") });
    const operator = f.status.operator!.address;
    for (const { name, k } of SITES) {
      const peer = `10.${3 - k}.0.0/24`;
      f.api(name, "POST", "/cluster/firewall/groups", { group: "fabric" });
      // Reverse order: each POST lands at position 0. Final order: wg, bgp, vxlan, fwd-in, fwd-out.
      const rules: Record<string, string>[] = [
        { type: "forward", source: "+sdn/crossvnt-all" },
        { type: "forward", source: "10.0.0.0/8", dest: "+sdn/crossvnt-all" },
        { type: "in", proto: "udp", dport: "4789", source: peer },
        { type: "in", proto: "tcp", dport: "179", source: peer },
        { type: "in", proto: "udp", dport: "51820" },
      ];
      for (const r of rules)
        f.api(name, "POST", "/cluster/firewall/groups/fabric", { ...r, action: "ACCEPT", enable: 1 });
      // The operator is not on the nodes' local network: SSH and the API need rules (the program's job).
      f.api(name, "POST", "/cluster/firewall/rules", {
        type: "in",
        action: "ACCEPT",
        proto: "tcp",
        dport: "22,8006",
        source: operator,
        enable: 1,
      });
      f.api(name, "POST", "/cluster/firewall/rules", { type: "group", action: "fabric", enable: 1 });
      f.api(name, "PUT", `/nodes/${nodeOf(name)}/firewall/options`, { nftables: 1 });
      f.api(name, "PUT", "/cluster/firewall/options", { enable: 1, policy_forward: "DROP" });
    }
  });

  after(async () => {
    if (f) await f.down();
  });

  it("loads the ruleset into the node and its zone-VRF namespace; VMs still reach each other", async () => {
    for (const { name } of SITES) {
      const tables = (ns: string) => f.ok(name, `${ns}nft list tables`);
      await f.until(
        () => /proxmox-firewall/.test(f.sh(name, "ip netns exec vrf_crossite nft list tables").stdout),
        10_000,
      );
      // Other tables (the SNAT translation's nat/raw) stay as they are.
      assert.match(tables(""), /^table inet proxmox-firewall$/m);
      assert.match(tables(""), /^table ip nat$/m);
      assert.match(tables("ip netns exec vrf_crossite "), /^table inet proxmox-firewall$/m);
    }
    assert.equal(await f.until(ping, 30_000), true, "roz VM -> wro VM with the seed's rules");
  });

  it("trap: without the FORWARD rule to +sdn/<vnet>-all the ping dies at wro, and comes back with it", async () => {
    f.api("wro", "PUT", "/cluster/firewall/groups/fabric/3", { enable: 0 });
    assert.equal(await f.until(() => !ping(), 5000), true, "ping still passes with the trap set");
    f.api("wro", "PUT", "/cluster/firewall/groups/fabric/3", { enable: 1 });
    assert.equal(await f.until(ping, 10_000), true, "ping did not come back");
  });
});
