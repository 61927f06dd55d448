import { strict as assert } from "node:assert";
import { renderWgConfig, sortedPeers, wgConfigPath, wgKeyPath } from "../../providers/render/wireguard";

const ROZ = "rozPUBrozPUBrozPUBrozPUBrozPUBrozPUBrozPUBro=";
const WRO = "wroPUBwroPUBwroPUBwroPUBwroPUBwroPUBwroPUBwr=";

describe("render: wg-quick config", () => {
  it("renders the seed's wro interface exactly, with the key loaded by PostUp and no PrivateKey line", () => {
    const text = renderWgConfig({
      name: "wg0",
      address: "10.2.0.1/16",
      listenPort: 51820,
      mtu: 1420,
      peers: [
        {
          publicKey: ROZ,
          endpoint: "roz.example.net:51820",
          allowedIps: ["10.1.0.0/16"],
          persistentKeepalive: 25,
        },
      ],
    });
    assert.equal(
      text,
      [
        "# Managed by pve-fabric; edits are reported as drift and overwritten.",
        "# The private key never leaves this host: /etc/wireguard/wg0.key (loaded by PostUp).",
        "[Interface]",
        "Address = 10.2.0.1/16",
        "ListenPort = 51820",
        "MTU = 1420",
        "PostUp = wg set %i private-key /etc/wireguard/%i.key",
        "",
        "[Peer]",
        `PublicKey = ${ROZ}`,
        "Endpoint = roz.example.net:51820",
        "AllowedIPs = 10.1.0.0/16",
        "PersistentKeepalive = 25",
        "",
      ].join("\n"),
    );
    assert.doesNotMatch(text, /PrivateKey/);
  });

  it("omits MTU, Endpoint and keepalive when not given and joins several AllowedIPs", () => {
    const text = renderWgConfig({
      name: "fab1",
      address: "10.3.0.1/16",
      listenPort: 51821,
      peers: [{ publicKey: WRO, allowedIps: ["10.2.0.0/16", "10.9.0.0/24"] }],
    });
    assert.equal(
      text.split("\n").slice(2).join("\n"),
      [
        "[Interface]",
        "Address = 10.3.0.1/16",
        "ListenPort = 51821",
        "PostUp = wg set %i private-key /etc/wireguard/%i.key",
        "",
        "[Peer]",
        `PublicKey = ${WRO}`,
        "AllowedIPs = 10.2.0.0/16, 10.9.0.0/24",
        "",
      ].join("\n"),
    );
  });

  it("orders peers by public key, so reordering the fabric's list renders the same text", () => {
    const a = { publicKey: WRO, allowedIps: ["10.2.0.0/16"] };
    const b = { publicKey: ROZ, allowedIps: ["10.1.0.0/16"] };
    const base = { name: "wg0", address: "10.3.0.1/16", listenPort: 51820 };
    assert.equal(renderWgConfig({ ...base, peers: [a, b] }), renderWgConfig({ ...base, peers: [b, a] }));
    assert.deepEqual(
      sortedPeers([a, b]).map((p) => p.publicKey),
      [ROZ, WRO],
    );
  });

  it("puts the config and the key under /etc/wireguard named after the interface", () => {
    assert.equal(wgConfigPath("wg0"), "/etc/wireguard/wg0.conf");
    assert.equal(wgKeyPath("wg0"), "/etc/wireguard/wg0.key");
  });
});
