import { strict as assert } from "node:assert";
import { parseProbe, probeScript, pinnedFingerprint, fingerprintOfBlob } from "../../providers/host/ssh";
import {
  covers,
  parseWgPeers,
  routePlan,
  wgDrift,
  type WgLive,
  type WgSpec,
} from "../../providers/host/wireguard";
import { parseDpkgQuery } from "../../providers/host/packages";
import { sysctlDrift } from "../../providers/host/sysctls";
import { renderSysctlDropIn } from "../../providers/render/sysctl";
import { renderWgConfig } from "../../providers/render/wireguard";
import { execFileSync } from "node:child_process";

const PEER = "Nq5Xm6y7Fq1V3o1H0cQ9bq0gC2Tt8pR3nH8xk2bqz0s=";

describe("host: pure planning and parsing", () => {
  it("frames many reads in one script and gets each output and exit code back exactly (real sh)", () => {
    const out = execFileSync("sh", [
      "-c",
      probeScript({ a: "printf 'x\\ny\\n'", b: "printf z; exit 3", c: "true" }),
    ]);
    assert.deepEqual(parseProbe(out.toString()), {
      a: { out: "x\ny\n", rc: 0 },
      b: { out: "z", rc: 3 },
      c: { out: "", rc: 0 },
    });
  });

  it("pins a host key by its .pub line or SHA256 fingerprint, the same way ssh-keygen -l prints it", () => {
    const blob = Buffer.from(
      "AAAAC3NzaC1lZDI1NTE5AAAAII/5vr7PELB9HJ+qQFCINELRbYr1GTQ7uvwCHMMduMca",
      "base64",
    );
    const fp = fingerprintOfBlob(blob);
    assert.equal(pinnedFingerprint(`ssh-ed25519 ${blob.toString("base64")} root@roz1`), fp);
    assert.equal(pinnedFingerprint(fp), fp);
    assert.throws(
      () => pinnedFingerprint("not a key"),
      /hostKey 'not a key' is not a host key: is neither a SHA256 fingerprint nor an OpenSSH public key line/,
    );
  });

  it("a converged sysctl host has no drift; a differing live value or drop-in is named", () => {
    const spec = { name: "90-x", values: { "net.ipv4.ip_forward": "1" } };
    const file = renderSysctlDropIn(spec.values);
    assert.deepEqual(sysctlDrift(spec, { dropIn: file, values: { "net.ipv4.ip_forward": "1" } }), []);
    assert.deepEqual(sysctlDrift(spec, { dropIn: null, values: { "net.ipv4.ip_forward": "0" } }), [
      "dropIn",
      "net.ipv4.ip_forward",
    ]);
  });

  it("reads dpkg-query: only 'ii' counts as installed, unknown names stay null", () => {
    assert.deepEqual(
      parseDpkgQuery("frr\tii \t8.4.4\nwireguard-tools\trc \t1.0\n", ["frr", "wireguard-tools", "x"]),
      {
        frr: "8.4.4",
        "wireguard-tools": null,
        x: null,
      },
    );
  });

  it("parses wg dump peer lines without the preshared-key column", () => {
    assert.deepEqual(parseWgPeers(`${PEER}\t198.18.2.10:51820\t10.2.0.0/16,10.9.0.0/24\t1795682148\t25\n`), [
      {
        publicKey: PEER,
        endpoint: "198.18.2.10:51820",
        allowedIps: ["10.2.0.0/16", "10.9.0.0/24"],
        latestHandshake: 1795682148,
        persistentKeepalive: 25,
      },
    ]);
  });

  it("plans routes like wg-quick: covered prefixes need none, stale static routes go", () => {
    assert.equal(covers("10.1.0.0/16", "10.1.5.0/24"), true);
    assert.equal(covers("10.1.0.0/16", "10.2.0.0/24"), false);
    const spec: WgSpec = {
      name: "wg0",
      address: "10.1.0.1/16",
      listenPort: 51820,
      peers: [{ publicKey: PEER, allowedIps: ["10.2.0.0/16", "10.1.7.0/24"] }],
    };
    assert.deepEqual(
      routePlan(spec, [
        { dst: "10.1.0.0/16", kernel: true },
        { dst: "10.3.0.0/16", kernel: false },
      ]),
      { missing: ["10.2.0.0/16"], stale: ["10.3.0.0/16"] },
    );
  });

  it("a WireGuard host matching the spec has no drift; a resolved DNS endpoint counts as the same", () => {
    const spec: WgSpec = {
      name: "wg0",
      address: "10.1.0.1/16",
      listenPort: 51820,
      mtu: 1420,
      peers: [
        {
          publicKey: PEER,
          endpoint: "wro1.wro.lab:51820",
          allowedIps: ["10.2.0.0/16"],
          persistentKeepalive: 25,
        },
      ],
    };
    const live: WgLive = {
      config: renderWgConfig(spec),
      keyPublic: "K".repeat(43) + "=",
      enabled: true,
      active: true,
      running: {
        publicKey: "K".repeat(43) + "=",
        listenPort: 51820,
        peers: [
          {
            publicKey: PEER,
            endpoint: "198.18.2.10:51820",
            allowedIps: ["10.2.0.0/16"],
            latestHandshake: 0,
            persistentKeepalive: 25,
          },
        ],
      },
      link: { mtu: 1420, addresses: ["10.1.0.1/16"] },
      routes: [
        { dst: "10.1.0.0/16", kernel: true },
        { dst: "10.2.0.0/16", kernel: false },
      ],
      resolved: { "wro1.wro.lab": ["198.18.2.10"] },
    };
    assert.deepEqual(wgDrift(spec, live), []);
    assert.deepEqual(wgDrift(spec, { ...live, resolved: { "wro1.wro.lab": ["198.18.2.99"] } }), [
      `peer ${PEER.slice(0, 8)}.endpoint`,
    ]);
  });
});
