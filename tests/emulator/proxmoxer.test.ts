// An independent client: Debian's python3-proxmoxer (written against real PVE, not against us) drives the
// emulator through controller → zone → vnet → subnet → pending → apply → task → pending. It catches
// envelope, encoding and TLS mistakes our own client could share with the emulator.
// Needs `lab/pve/install-deps.sh` (CI runs it); without proxmoxer the test is skipped, saying so.
import { strict as assert } from "node:assert";
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import * as path from "node:path";
import { startHarness, TOKEN, type Harness } from "./helpers";

const PY = "/usr/bin/python3";
const SCRIPT = String.raw`
import json, sys, time
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException
port, secret, ca = sys.argv[1], sys.argv[2], sys.argv[3]
px = ProxmoxAPI("127.0.0.1", port=int(port), user="root@pam", token_name="fabric", token_value=secret, verify_ssl=ca)
out = {"version": px.version.get()["release"]}
px.cluster.sdn.controllers.post(type="evpn", controller="evpnctl", asn=65000, peers="10.1.0.1,10.2.0.1")
px.cluster.sdn.zones.post(type="evpn", zone="crossite", controller="evpnctl", **{"vrf-vxlan": 99999, "advertise-subnets": 1, "exitnodes": "pve1"})
px.cluster.sdn.vnets.post(vnet="crossvnt", zone="crossite", tag=100000, alias="roz vnet")
px.cluster.sdn.vnets("crossvnt").subnets.post(type="subnet", subnet="10.1.1.0/24", gateway="10.1.1.1", snat=1)
out["pending"] = [(z["zone"], z["state"], sorted(z["pending"].keys())) for z in px.cluster.sdn.zones.get(pending=1)]
out["subnet_pending"] = [(s["id"], s["state"], s["pending"]) for s in px.cluster.sdn.vnets("crossvnt").subnets.get(pending=1)]
try:
    px.cluster.sdn.zones.post(type="evpn", zone="bad-id", controller="evpnctl", **{"vrf-vxlan": 1})
    out["bad"] = "accepted"
except ResourceException as e:
    out["bad"] = [e.status_code, e.status_message, e.content]
upid = px.cluster.sdn.put()
while True:
    st = px.nodes("pve1").tasks(upid).status.get()
    if st["status"] == "stopped":
        break
    time.sleep(0.02)
out["task"] = [st["type"], st["exitstatus"]]
out["after"] = [z.get("state") for z in px.cluster.sdn.zones.get(pending=1)]
out["node"] = px.nodes("pve2").sdn.zones.get()
px.cluster.firewall.rules.post(type="forward", action="ACCEPT", dest="+sdn/crossvnt-all", enable=1, comment="fabric")
out["rules"] = [(r["pos"], r["type"], r["dest"], r["enable"]) for r in px.cluster.firewall.rules.get()]
print(json.dumps(out))
`;

describe("independent client: python3-proxmoxer against the emulator", () => {
  let h: Harness;
  before(async function () {
    if (spawnSync(PY, ["-c", "import proxmoxer, requests"]).status !== 0) {
      console.log("      python3-proxmoxer missing: run lab/pve/install-deps.sh (CI does)");
      this.skip();
    }
    h = await startHarness();
  });
  after(async () => h?.close());

  it("creates controller, zone, vnet, subnet, reads pending, applies and sees the result", async () => {
    const ca = path.join(h.dir, "cert.pem");
    // Asynchronous on purpose: the emulator runs in this process and must keep answering.
    const { stdout } = await promisify(execFile)(PY, ["-c", SCRIPT, String(h.emu.port), TOKEN.secret, ca], {
      encoding: "utf8",
      timeout: 15000,
    });
    const out = JSON.parse(stdout);
    assert.deepEqual(out, {
      version: "9.1",
      pending: [["crossite", "new", ["advertise-subnets", "controller", "exitnodes", "mac", "vrf-vxlan"]]],
      subnet_pending: [["crossite-10.1.1.0-24", "new", { gateway: "10.1.1.1", snat: 1 }]],
      // proxmoxer 1.2 reports the reason phrase (it reads `errors` from `data`, which PVE sets to null).
      bad: [400, "Bad Request", "Parameter verification failed."],
      task: ["reloadnetworkall", "OK"],
      after: [null],
      node: [{ zone: "crossite", status: "available" }],
      rules: [[0, "forward", "+sdn/crossvnt-all", 1]],
    });
  });
});
