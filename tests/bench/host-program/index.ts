// One host converged by every host provider: packages, sysctls, FRR with bgpd, WireGuard with one peer.
import * as pulumi from "@pulumi/pulumi";
import { Packages, Service, Sysctls, WireGuardInterface } from "../../../providers/host/resources";

const config = new pulumi.Config();
const connection = {
  host: config.require("host"),
  hostKey: config.require("hostKey"),
  privateKey: config.requireSecret("sshPrivateKey"),
};
const packages = new Packages("packages", {
  connection,
  packages: ["frr", "frr-pythontools", "wireguard-tools"],
});
new Sysctls("sysctls", {
  connection,
  name: "90-pve-fabric",
  values: {
    "net.ipv4.ip_forward": "1",
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.bridge.bridge-nf-call-ip6tables": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
  },
});
new Service(
  "frr",
  { connection, unit: "frr", enabled: true, active: true, frrDaemons: { bgpd: "yes" } },
  { dependsOn: packages },
);
const wg = new WireGuardInterface(
  "wg0",
  {
    connection,
    name: "wg0",
    address: "10.1.0.1/16",
    listenPort: 51820,
    mtu: 1420,
    peers: [
      {
        publicKey: config.require("peerPublicKey"),
        endpoint: config.require("peerEndpoint"),
        allowedIps: ["10.2.0.0/16"],
        persistentKeepalive: 25,
      },
    ],
  },
  { dependsOn: packages },
);
export const publicKey = wg.publicKey;
