// Firewall conformance (reference §3): rule positions, digests, scopes, groups, ipsets, aliases, SDN sets.
import { strict as assert } from "node:assert";
import { applySdn, seedSdn, startHarness, type Harness } from "./helpers";

type Obj = Record<string, unknown>;
const comments = async (h: Harness, base: string) =>
  (await h.ok<Obj[]>("GET", base)).map((r) => [r.pos, r.comment]);

describe("emulator firewall (reference §3)", () => {
  let h: Harness;
  beforeEach(async () => (h = await startHarness()));
  afterEach(async () => h.close());

  it("inserts every new rule at position 0, disabled unless enable=1", async () => {
    for (const c of ["a", "b", "c"])
      await h.ok("POST", "/cluster/firewall/rules", {
        type: "in",
        action: "ACCEPT",
        proto: "tcp",
        dport: 22,
        comment: ` ${c} `,
        pos: 5,
      });
    const rules = await h.ok<Obj[]>("GET", "/cluster/firewall/rules");
    assert.deepEqual(
      rules.map((r) => [r.pos, r.comment, r.enable]),
      [
        [0, "c", 0],
        [1, "b", 0],
        [2, "a", 0],
      ],
    );
    assert.equal(new Set(rules.map((r) => r.digest)).size, 1);
  });

  it("moves a rule down to moveto-1, up to moveto, and to the end when moveto ≥ length", async () => {
    for (const c of ["d", "c", "b", "a"])
      await h.ok("POST", "/cluster/firewall/rules", { type: "in", action: "DROP", comment: c });
    await h.ok("PUT", "/cluster/firewall/rules/0", { moveto: 2, comment: "ignored" });
    assert.deepEqual(await comments(h, "/cluster/firewall/rules"), [
      [0, "b"],
      [1, "a"],
      [2, "c"],
      [3, "d"],
    ]);
    await h.ok("PUT", "/cluster/firewall/rules/3", { moveto: 0 });
    assert.deepEqual(await comments(h, "/cluster/firewall/rules"), [
      [0, "d"],
      [1, "b"],
      [2, "a"],
      [3, "c"],
    ]);
    await h.ok("PUT", "/cluster/firewall/rules/0", { moveto: 99 });
    assert.deepEqual(await comments(h, "/cluster/firewall/rules"), [
      [0, "b"],
      [1, "a"],
      [2, "c"],
      [3, "d"],
    ]);
  });

  it("deletes by position, shifting later rules up, and refuses a stale digest", async () => {
    for (const c of ["c", "b", "a"])
      await h.ok("POST", "/cluster/firewall/rules", { type: "out", action: "ACCEPT", comment: c });
    const [{ digest }] = await h.ok<Obj[]>("GET", "/cluster/firewall/rules");
    await h.ok("DELETE", "/cluster/firewall/rules/1", { digest: String(digest) });
    assert.deepEqual(await comments(h, "/cluster/firewall/rules"), [
      [0, "a"],
      [1, "c"],
    ]);
    const stale = await h.call("DELETE", "/cluster/firewall/rules/0", { digest: String(digest) });
    assert.equal(stale.status, 500);
    assert.equal(
      stale.body?.message,
      "detected modified configuration - file changed by other user? Try again.\n",
    );
    const gone = await h.call("GET", "/cluster/firewall/rules/7");
    assert.equal(gone.status, 500);
    assert.equal(gone.reason, "no rule at position 7");
  });

  it("updates fields, deletes them with '' or delete=, and refuses deleting type/action", async () => {
    await h.ok("POST", "/cluster/firewall/rules", {
      type: "in",
      action: "ACCEPT",
      proto: "udp",
      dport: 4789,
      source: "10.2.0.0/24",
      log: "err",
      enable: 1,
    });
    await h.ok("PUT", "/cluster/firewall/rules/0", { dport: 51820, log: "", delete: "source" });
    const { digest: _d, ...rule } = await h.ok<Obj>("GET", "/cluster/firewall/rules/0");
    void _d;
    assert.deepEqual(rule, { pos: 0, type: "in", action: "ACCEPT", proto: "udp", dport: "51820", enable: 1 });
    const bad = await h.call("PUT", "/cluster/firewall/rules/0", { delete: "action" });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body?.errors, { delete: "unable to delete required property 'action'" });
  });

  it("refuses REJECT on forward, wrong rule types per scope and iface in groups", async () => {
    const rej = await h.call("POST", "/cluster/firewall/rules", { type: "forward", action: "REJECT" });
    assert.equal(rej.status, 400);
    assert.deepEqual(rej.body?.errors, { action: "cannot define REJECT rules on forward chain" });
    await h.ok("POST", "/cluster/firewall/groups", { group: "fabric" });
    const nested = await h.call("POST", "/cluster/firewall/groups/fabric", {
      type: "group",
      action: "other",
    });
    assert.deepEqual(nested.body?.errors, { type: "invalid rule type 'group' for rule_env 'group'" });
    const iface = await h.call("POST", "/cluster/firewall/groups/fabric", {
      type: "in",
      action: "ACCEPT",
      iface: "wg0",
    });
    assert.deepEqual(iface.body?.errors, { type: "parameter -i not allowed for this rule type" });
    const dport = await h.call("POST", "/cluster/firewall/rules", {
      type: "in",
      action: "ACCEPT",
      dport: 22,
    });
    assert.deepEqual(dport.body?.errors, { proto: "missing property - 'dport' requires this property" });
  });

  it("refuses references to unknown ipsets and aliases, accepts existing ones and canonicalises macros", async () => {
    const r = await h.call("POST", "/cluster/firewall/rules", {
      type: "in",
      action: "ACCEPT",
      source: "+dc/peers",
    });
    assert.deepEqual(r.body?.errors, { source: "no such ipset 'peers'" });
    const a = await h.call("POST", "/cluster/firewall/rules", {
      type: "in",
      action: "ACCEPT",
      dest: "dc/wro",
    });
    assert.deepEqual(a.body?.errors, { dest: "no such alias 'dc/wro'" });
    await h.ok("POST", "/cluster/firewall/ipset", { name: "peers", comment: "fabric" });
    await h.ok("POST", "/cluster/firewall/aliases", { name: "Wro", cidr: "10.2.0.0/16" });
    await h.ok("POST", "/cluster/firewall/rules", {
      type: "in",
      action: "ACCEPT",
      source: "+dc/peers",
      dest: "dc/wro",
      macro: "ssh",
    });
    const [rule] = await h.ok<Obj[]>("GET", "/cluster/firewall/rules");
    assert.equal(rule.macro, "SSH");
    assert.equal(rule.ipversion, 4);
  });

  it("creates, renames and deletes security groups; rename rewrites cluster rule references", async () => {
    await h.ok("POST", "/cluster/firewall/groups", { group: "sdnfab", comment: "c1" });
    const dup = await h.call("POST", "/cluster/firewall/groups", { group: "sdnfab" });
    assert.equal(dup.body?.message, "Security group 'sdnfab' already exists\n");
    const long = await h.call("POST", "/cluster/firewall/groups", { group: "a-very-long-group-name" });
    assert.deepEqual(long.body?.errors, { group: "value may only be 18 characters long" });
    await h.ok("POST", "/cluster/firewall/groups/sdnfab", {
      type: "in",
      action: "ACCEPT",
      proto: "tcp",
      dport: 179,
    });
    await h.ok("POST", "/cluster/firewall/rules", {
      type: "group",
      action: "sdnfab",
      enable: 1,
      log: "err",
      source: "10.0.0.1",
    });
    await h.ok("POST", "/cluster/firewall/groups", { group: "fabric", rename: "sdnfab" });
    const [ref] = await h.ok<Obj[]>("GET", "/cluster/firewall/rules");
    assert.deepEqual([ref.type, ref.action, ref.log, ref.source], ["group", "fabric", undefined, undefined]); // only action/iface/enable/comment persist
    const notEmpty = await h.call("DELETE", "/cluster/firewall/groups/fabric");
    assert.equal(notEmpty.body?.message, "Security group 'fabric' is not empty\n");
    await h.ok("DELETE", "/cluster/firewall/groups/fabric/0");
    await h.ok("DELETE", "/cluster/firewall/groups/fabric");
    const missing = await h.call("GET", "/cluster/firewall/groups/fabric");
    assert.equal(missing.body?.message, "no such security group 'fabric'\n");
  });

  it("manages ipset entries (cidr path swallows '/'), refuses a zero prefix and a non-empty delete without force", async () => {
    await h.ok("POST", "/cluster/firewall/ipset", { name: "remote" });
    await h.ok("POST", "/cluster/firewall/ipset/remote", { cidr: "10.2.1.0/24", comment: "wro" });
    await h.ok("POST", "/cluster/firewall/ipset/remote", { cidr: "10.2.1.1", nomatch: 1 });
    const dup = await h.call("POST", "/cluster/firewall/ipset/remote", { cidr: "10.2.1.0/24" });
    assert.equal(dup.body?.message, "address '10.2.1.0/24' already exists\n");
    const zero = await h.call("POST", "/cluster/firewall/ipset/remote", { cidr: "0.0.0.0/0" });
    assert.deepEqual(zero.body?.errors, { cidr: "a zero prefix is not allowed in ipset entries" });
    const entry = await h.ok<Obj>("GET", "/cluster/firewall/ipset/remote/10.2.1.0/24");
    assert.equal(entry.comment, "wro");
    await h.ok("DELETE", "/cluster/firewall/ipset/remote/10.2.1.0%2F24");
    assert.deepEqual(
      (await h.ok<Obj[]>("GET", "/cluster/firewall/ipset/remote")).map((e) => [e.cidr, e.nomatch]),
      [["10.2.1.1", 1]],
    );
    const notEmpty = await h.call("DELETE", "/cluster/firewall/ipset/remote");
    assert.equal(notEmpty.body?.message, "IPSet 'remote' is not empty\n");
    await h.ok("DELETE", "/cluster/firewall/ipset/remote", { force: 1 });
    assert.deepEqual(await h.ok("GET", "/cluster/firewall/ipset"), []);
  });

  it("stores aliases case-insensitively; PUT rewrites the whole entry and may rename", async () => {
    await h.ok("POST", "/cluster/firewall/aliases", { name: "RozNet", cidr: "10.1.0.0/16", comment: "roz" });
    const dup = await h.call("POST", "/cluster/firewall/aliases", { name: "roznet", cidr: "10.1.0.0/16" });
    assert.equal(dup.status, 500);
    await h.ok("PUT", "/cluster/firewall/aliases/roznet", { cidr: "10.1.0.0/17", rename: "roz" });
    const list = await h.ok<Obj[]>("GET", "/cluster/firewall/aliases");
    assert.deepEqual(
      list.map((a) => [a.name, a.cidr, a.comment]),
      [["roz", "10.1.0.0/17", undefined]],
    );
  });

  it("publishes +sdn/<vnet>-… sets only after apply, in refs and for rule references", async () => {
    await seedSdn(h);
    const early = await h.call("POST", "/cluster/firewall/rules", {
      type: "forward",
      action: "ACCEPT",
      dest: "+sdn/crossvnt-all",
    });
    assert.deepEqual(early.body?.errors, { dest: "no such ipset 'crossvnt-all'" });
    await applySdn(h);
    await h.ok("POST", "/cluster/firewall/rules", {
      type: "forward",
      action: "ACCEPT",
      dest: "+sdn/crossvnt-all",
      source: "10.2.1.0/24",
    });
    const refs = await h.ok<Obj[]>("GET", "/cluster/firewall/refs", { type: "ipset" });
    assert.deepEqual(
      refs.map((r) => [r.name, r.ref, r.scope]),
      [
        ["crossvnt-all", "+crossvnt-all", "sdn"],
        ["crossvnt-gateway", "+crossvnt-gateway", "sdn"],
        ["crossvnt-no-gateway", "+crossvnt-no-gateway", "sdn"],
        ["crossvnt-dhcp", "+crossvnt-dhcp", "sdn"],
      ],
    );
    assert.deepEqual(h.emu.emulator.firewallState().sdnIpsets["crossvnt-no-gateway"], [
      { cidr: "10.1.1.0/24" },
      { cidr: "10.1.1.1", nomatch: 1 },
    ]);
  });

  it("vnet firewall exists only for applied vnets and takes forward/group rules only", async () => {
    await seedSdn(h);
    const before = await h.call("PUT", "/cluster/sdn/vnets/crossvnt/firewall/options", { enable: 1 });
    assert.equal(before.status, 500);
    assert.equal(before.body?.message, "invalid vnet specified\n");
    await applySdn(h);
    await h.ok("PUT", "/cluster/sdn/vnets/crossvnt/firewall/options", { enable: 1, policy_forward: "DROP" });
    const { digest: _d, ...opts } = await h.ok<Obj>("GET", "/cluster/sdn/vnets/crossvnt/firewall/options");
    void _d;
    assert.deepEqual(opts, { enable: 1, policy_forward: "DROP" });
    const inRule = await h.call("POST", "/cluster/sdn/vnets/crossvnt/firewall/rules", {
      type: "in",
      action: "ACCEPT",
    });
    assert.deepEqual(inRule.body?.errors, { type: "invalid rule type 'in' for rule_env 'vnet'" });
    await h.ok("POST", "/cluster/sdn/vnets/crossvnt/firewall/rules", {
      type: "forward",
      action: "ACCEPT",
      source: "+sdn/crossvnt-all",
      enable: 1,
    });
    assert.equal((await h.ok<Obj[]>("GET", "/cluster/sdn/vnets/crossvnt/firewall/rules")).length, 1);
    const index = await h.call("GET", "/cluster/sdn/vnets/crossvnt/firewall");
    assert.equal(index.status, 403); // the index declares no permissions: root@pam only, never a token
  });

  it("keeps cluster options with digest, stores enable>1 as an epoch, and node options incl. nftables", async () => {
    await h.ok("PUT", "/cluster/firewall/options", {
      enable: 1,
      policy_in: "DROP",
      policy_forward: "ACCEPT",
      ebtables: 1,
    });
    const { digest, ...o } = await h.ok<Obj>("GET", "/cluster/firewall/options");
    assert.deepEqual(o, { enable: 1, policy_in: "DROP", policy_forward: "ACCEPT", ebtables: 1 });
    const bad = await h.call("PUT", "/cluster/firewall/options", { policy_forward: "REJECT" });
    assert.deepEqual(bad.body?.errors, {
      policy_forward: "value 'REJECT' does not have a value in the enumeration 'ACCEPT, DROP'",
    });
    await h.ok("PUT", "/cluster/firewall/options", { enable: 2, delete: "ebtables", digest: String(digest) });
    const after = await h.ok<Obj>("GET", "/cluster/firewall/options");
    assert.ok(Math.abs(Number(after.enable) - Date.now() / 1000) < 5, `enable=${after.enable}`);
    assert.equal(after.ebtables, undefined);
    await h.ok("PUT", "/nodes/pve2/firewall/options", { nftables: 1, enable: 1 });
    await h.ok("POST", "/nodes/pve2/firewall/rules", {
      type: "in",
      action: "ACCEPT",
      iface: "wg0",
      proto: "udp",
      dport: 51820,
    });
    const fw = h.emu.emulator.firewallState();
    assert.deepEqual(fw.nodes.pve2.options, { nftables: 1, enable: 1 });
    assert.deepEqual(fw.nodes.pve2.rules, [
      { type: "in", action: "ACCEPT", iface: "wg0", proto: "udp", dport: "51820" },
    ]);
    assert.deepEqual(fw.nodes.pve1, { options: {}, rules: [] });
  });
});
