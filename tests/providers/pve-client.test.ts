// The transport's trust and retry rules against real TLS: the emulator's own certificate, and a bare TLS
// listener that records whether any request byte (which would carry the token) reaches an impostor.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as tls from "tls";
import type { AddressInfo } from "net";
import { ensureCertificate } from "../../lab/pve/server";
import { PveClient } from "../../providers/pve/client";
import { PveTlsError } from "../../providers/pve/errors";
import { Transport } from "../../providers/pve/transport";
import { SECRET, startLab, type Lab } from "./pve-helpers";

describe("PVE transport: TLS pinning and retries (emulator)", function () {
  this.timeout(30_000);
  let lab: Lab;
  before(async () => (lab = await startLab()));
  after(async () => lab.close());

  const cert = () => fs.readFileSync(path.join(lab.dir, "cert.pem"), "utf8");
  const fresh = (api: Partial<typeof lab.api>) =>
    new PveClient(new Transport({ ...lab.api, ...api }, { backoffMs: 1 }));

  it("accepts the pinned fingerprint in PVE's colon form and as plain lower-case hex", async () => {
    for (const fingerprint of [lab.emu.fingerprint, lab.emu.fingerprint.replace(/:/g, "").toLowerCase()]) {
      const c = fresh({ fingerprint });
      assert.equal((await c.version()).release, "9.1");
      c.close();
    }
  });

  it("refuses a certificate that does not match the pin before sending a single request byte, naming both fingerprints", async () => {
    const received: Buffer[] = [];
    const server = tls.createServer(
      { cert: cert(), key: fs.readFileSync(path.join(lab.dir, "key.pem")) },
      (s) => {
        s.on("data", (d: Buffer) => received.push(d));
        s.on("error", () => undefined);
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    const pin = "AB:".repeat(31) + "AB";
    const c = fresh({ url: `https://127.0.0.1:${port}`, fingerprint: pin });
    try {
      await assert.rejects(c.version(), (e: Error) => {
        assert.ok(e instanceof PveTlsError, e.constructor.name);
        assert.ok(
          e.message.includes(`the server presented sha256 ${lab.emu.fingerprint}, the config pins ${pin}`),
          e.message,
        );
        assert.ok(!e.message.includes(SECRET));
        return true;
      });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(Buffer.concat(received).length, 0, "no HTTP bytes (and so no token) reached the impostor");
      assert.deepEqual(
        c.transport.stats,
        { GET: 1, POST: 0, PUT: 0, DELETE: 0, retries: 0 },
        "a TLS failure is not retried",
      );
    } finally {
      c.close();
      server.close();
    }
  });

  it("verifies against a pinned CA and refuses a server signed by another one", async () => {
    const good = fresh({ fingerprint: undefined, caPem: cert() });
    assert.equal((await good.version()).release, "9.1");
    good.close();
    const dir = fs.mkdtempSync(path.join(lab.dir, "otherca-"));
    // Another self-signed certificate, made the way the emulator makes its own: a CA that is not the pinned one.
    const other = ensureCertificate(dir, "other", "127.0.0.1");
    const bad = fresh({ fingerprint: undefined, caPem: other.cert });
    await assert.rejects(
      bad.version(),
      (e: Error) => e instanceof PveTlsError && /does not chain to api\.caPem/.test(e.message),
    );
    assert.equal(bad.transport.stats.retries, 0);
    bad.close();
  });

  it("refuses to build a client that pins nothing: there is no 'accept any certificate' mode", () => {
    assert.throws(
      () => new Transport({ ...lab.api, fingerprint: undefined }),
      (e: Error) => e instanceof PveTlsError && /neither fingerprint nor caPem/.test(e.message),
    );
    assert.throws(
      () => new Transport({ ...lab.api, url: lab.api.url.replace("https", "http") }),
      /must be https/,
    );
  });

  it("waits on a task at the node named in its UPID (the other node being down does not matter)", async () => {
    lab.emu.faults.set({ offline: ["pve1"] });
    try {
      const upid = await lab.client.nodes.qemu.create("pve2", {
        vmid: 9100,
        name: "t",
        net0: "virtio,bridge=vmbr0",
      });
      assert.match(upid, /^UPID:pve2:/);
      assert.deepEqual(await lab.client.nodes.tasks.wait(upid), {
        upid,
        node: "pve2",
        exitstatus: "OK",
        warnings: 0,
      });
    } finally {
      lab.emu.faults.set({});
    }
  });

  it("retries a GET on a 595 from a proxied node call (at most 4 attempts) but never a write", async () => {
    lab.emu.faults.set({ offline: ["pve2"] });
    const c = fresh({});
    await assert.rejects(c.nodes.sdn.zones("pve2"), /answered 595/);
    assert.equal(c.transport.stats.GET, 4, "first try + 3 retries, then the error");
    await assert.rejects(c.nodes.firewall.options("pve2").set({ enable: 1 }), /answered 595/);
    assert.equal(c.transport.stats.PUT, 1, "a write that may have been delivered is not repeated");
    lab.emu.faults.set({});
    c.close();
  });
});
