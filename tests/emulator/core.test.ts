// Server core: envelope, auth, encodings, validation messages, version differences, discovery endpoints.
import { strict as assert } from "node:assert";
import { startHarness, type Harness } from "./helpers";

describe("emulator core (reference §1, §4)", () => {
  let h: Harness;
  before(async () => (h = await startHarness()));
  after(async () => h.close());

  it("wraps reads in {data} and reports version 9.1 by default", async () => {
    const r = await h.call("GET", "/version");
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, {
      data: { version: "9.1.2", release: "9.1", repoid: "9d3b7c1e", console: "xtermjs" },
    });
  });

  it("answers 401 'No ticket' without a body when no credentials are sent", async () => {
    const r = await h.call("GET", "/version", {}, { noAuth: true });
    assert.equal(r.status, 401);
    assert.equal(r.reason, "No ticket");
    assert.equal(r.raw, "");
  });

  it("answers 401 for a wrong token secret and for an unknown token id", async () => {
    const bad = await h.call(
      "GET",
      "/version",
      {},
      {
        noAuth: true,
        headers: { Authorization: "PVEAPIToken=root@pam!fabric=00000000-0000-0000-0000-000000000000" },
      },
    );
    assert.equal(bad.status, 401);
    assert.equal(bad.reason, "invalid token value!");
    const unknown = await h.call(
      "GET",
      "/version",
      {},
      { noAuth: true, headers: { Authorization: "PVEAPIToken=root@pam!other=x" } },
    );
    assert.equal(unknown.status, 401);
    assert.equal(unknown.reason, "no such token 'other' for user 'root@pam'");
  });

  it("delays 401s like pveproxy (3 s there; the configured delay here)", async () => {
    const slow = await startHarness({ authFailureDelayMs: 300 });
    try {
      const t0 = Date.now();
      const r = await slow.call("GET", "/version", {}, { noAuth: true });
      assert.equal(r.status, 401);
      assert.ok(Date.now() - t0 >= 290, `answered after ${Date.now() - t0} ms`);
    } finally {
      await slow.close();
    }
  });

  it("accepts a space instead of '=' after the token id and URL-escaped token values", async () => {
    const r = await h.call(
      "GET",
      "/version",
      {},
      {
        noAuth: true,
        headers: { Authorization: "PVEAPIToken=root@pam%21fabric 6f1f2a9e-2c1e-4b7c-9d5e-0a1b2c3d4e5f" },
      },
    );
    assert.equal(r.status, 200);
  });

  it("issues tickets, requires the CSRF header for writes, and refuses a bad password", async () => {
    const t = await startHarness({ rootPassword: "s3cret" });
    try {
      const bad = await t.call(
        "POST",
        "/access/ticket",
        { username: "root@pam", password: "nope" },
        { noAuth: true },
      );
      assert.equal(bad.status, 401);
      assert.equal(bad.reason, "authentication failure");
      const login = await t.call(
        "POST",
        "/access/ticket",
        { username: "root", realm: "pam", password: "s3cret" },
        { noAuth: true },
      );
      assert.equal(login.status, 200);
      const { ticket, CSRFPreventionToken, username } = login.body!.data as Record<string, string>;
      assert.equal(username, "root@pam");
      assert.match(ticket, /^PVE:root@pam:[0-9A-F]{8}::/);
      const cookie = { Cookie: `PVEAuthCookie=${encodeURIComponent(ticket)}` };
      assert.equal((await t.call("GET", "/version", {}, { noAuth: true, headers: cookie })).status, 200);
      const noCsrf = await t.call(
        "PUT",
        "/cluster/firewall/options",
        { enable: 0 },
        { noAuth: true, headers: cookie },
      );
      assert.equal(noCsrf.status, 401);
      assert.equal(noCsrf.reason, "Permission denied - invalid csrf token");
      const withCsrf = await t.call(
        "PUT",
        "/cluster/firewall/options",
        { enable: 0 },
        { noAuth: true, headers: { ...cookie, CSRFPreventionToken } },
      );
      assert.equal(withCsrf.status, 200);
    } finally {
      await t.close();
    }
  });

  it("answers 501 for unknown paths and methods, with the method and path in the text", async () => {
    const r = await h.call("GET", "/cluster/nope");
    assert.equal(r.status, 501);
    assert.equal(r.reason, "Method 'GET /cluster/nope' not implemented");
    assert.equal(r.body?.message, "Method 'GET /cluster/nope' not implemented");
    const m = await h.call("PATCH", "/version");
    assert.equal(m.status, 501);
  });

  it("refuses a body on DELETE with 501 'Unexpected content'", async () => {
    const r = await h.call(
      "DELETE",
      "/cluster/sdn/zones/zz",
      {},
      { rawBody: "x=1", headers: { "Content-Type": "application/x-www-form-urlencoded" } },
    );
    assert.equal(r.status, 501);
    assert.equal(r.reason, "Unexpected content for method 'DELETE'");
  });

  it("rejects boolean 'true' with PVE's type-check text but accepts 1 and JSON true", async () => {
    const r = await h.call("PUT", "/nodes/pve1/firewall/options", { nftables: "true" });
    assert.equal(r.status, 400);
    assert.equal(r.reason, "Parameter verification failed.");
    assert.deepEqual(r.body, {
      data: null,
      message: "Parameter verification failed.\n",
      errors: { nftables: "type check ('boolean') failed - got 'true'" },
    });
    await h.ok("PUT", "/nodes/pve1/firewall/options", { nftables: true }, { json: true });
    await h.ok("PUT", "/nodes/pve2/firewall/options", { nftables: "1" });
    const opts = await h.ok<Record<string, unknown>>("GET", "/nodes/pve1/firewall/options");
    assert.equal(opts.nftables, 1);
  });

  it("refuses unknown parameters and reports every bad field at once", async () => {
    const r = await h.call("POST", "/cluster/sdn/zones", {
      zone: "z1",
      type: "evpn",
      bogus: "1",
      mtu: "abc",
    });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body?.errors, {
      bogus: "property is not defined in schema and the schema does not allow additional properties",
      mtu: "type check ('integer') failed - got 'abc'",
    });
  });

  it("names missing required parameters", async () => {
    const r = await h.call("POST", "/cluster/sdn/vnets", { vnet: "v1" });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body?.errors, { zone: "property is missing and it is not optional" });
  });

  it("joins a JSON array for list parameters with commas", async () => {
    await h.ok(
      "POST",
      "/cluster/sdn/controllers",
      { type: "evpn", controller: "ctl", asn: 65000, peers: ["10.1.0.1", "10.2.0.1"] },
      { json: true },
    );
    const c = await h.ok<Record<string, unknown>>("GET", "/cluster/sdn/controllers/ctl");
    assert.equal(c.peers, "10.1.0.1,10.2.0.1");
    await h.ok("DELETE", "/cluster/sdn/controllers/ctl");
  });

  it("lists nodes with status and the pinned certificate fingerprint", async () => {
    const nodes = await h.ok<Record<string, unknown>[]>("GET", "/nodes");
    assert.deepEqual(
      nodes.map((n) => [n.node, n.status, n.ssl_fingerprint]),
      [
        ["pve1", "online", h.emu.fingerprint],
        ["pve2", "online", h.emu.fingerprint],
      ],
    );
    assert.match(h.emu.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it("reports a quorate two-node cluster in /cluster/status", async () => {
    const st = await h.ok<Record<string, unknown>[]>("GET", "/cluster/status");
    assert.deepEqual(st[0], {
      type: "cluster",
      id: "cluster",
      name: "roz",
      nodes: 2,
      quorate: 1,
      version: 3,
    });
    assert.deepEqual(
      st.slice(1).map((n) => [n.name, n.ip, n.online, n.local]),
      [
        ["pve1", "10.1.0.1", 1, 1],
        ["pve2", "10.1.0.2", 1, 0],
      ],
    );
  });

  it("shows vmbr0 with the node address in /nodes/{node}/network and filters by type", async () => {
    const all = await h.ok<Record<string, unknown>[]>("GET", "/nodes/pve2/network");
    const vmbr0 = all.find((i) => i.iface === "vmbr0")!;
    assert.equal(vmbr0.cidr, "10.1.0.2/24");
    assert.equal(vmbr0.type, "bridge");
    const eth = await h.ok<Record<string, unknown>[]>("GET", "/nodes/pve2/network", { type: "eth" });
    assert.deepEqual(
      eth.map((i) => i.iface),
      ["eth0"],
    );
    const bad = await h.call("GET", "/nodes/pve2/network", { type: "wifi" });
    assert.equal(bad.status, 400);
    assert.match(
      bad.body!.errors!.type,
      /^value 'wifi' does not have a value in the enumeration 'bridge, bond, eth/,
    );
  });

  it("answers an unknown node with PVE's hostname-lookup 500", async () => {
    const r = await h.call("GET", "/nodes/ghost/network");
    assert.equal(r.status, 500);
    assert.equal(
      r.reason,
      "hostname lookup 'ghost' failed - failed to get address info for: ghost: Name or service not known",
    );
  });
});

describe("emulator core on PVE 8.4", () => {
  let h: Harness;
  before(async () => (h = await startHarness({ version: "8.4" })));
  after(async () => h.close());

  it("reports release 8.4 and no fabrics in the SDN index", async () => {
    assert.equal((await h.ok<Record<string, string>>("GET", "/version")).release, "8.4");
    assert.deepEqual(await h.ok("GET", "/cluster/sdn"), [
      { id: "vnets" },
      { id: "zones" },
      { id: "controllers" },
      { id: "ipams" },
      { id: "dns" },
    ]);
  });

  it("has no SDN lock endpoints and refuses lock-token as an unknown parameter", async () => {
    const lock = await h.call("POST", "/cluster/sdn/lock");
    assert.equal(lock.status, 501);
    assert.equal(lock.reason, "Method 'POST /cluster/sdn/lock' not implemented");
    const r = await h.call("POST", "/cluster/sdn/controllers", {
      type: "evpn",
      controller: "c1",
      asn: 1,
      peers: "10.0.0.1",
      "lock-token": "x",
    });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body?.errors, {
      "lock-token": "property is not defined in schema and the schema does not allow additional properties",
    });
  });

  it("requires peers on an EVPN controller (no fabric option before 9.0)", async () => {
    const r = await h.call("POST", "/cluster/sdn/controllers", {
      type: "evpn",
      controller: "c1",
      asn: 65000,
    });
    assert.equal(r.status, 500);
    assert.equal(r.body?.message, "missing value for required option 'peers'\n");
  });
});
