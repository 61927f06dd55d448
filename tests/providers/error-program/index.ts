// One resource of each provider family, chosen by config: `kind: host` reads packages on a lab host over SSH
// (read-only: the packages are present), `kind: pve` an EVPN controller on the emulator. The test breaks the
// pinned host key or the token and looks at what the engine prints.
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { Packages } from "../../../providers/host/resources";
import { EvpnController } from "../../../providers/pve/sdn";

const config = new pulumi.Config();
if (config.require("kind") === "host") {
  new Packages("pkgs", {
    connection: {
      host: config.require("host"),
      hostKey: config.require("hostKey"),
      privateKey: pulumi.secret(fs.readFileSync(config.require("keyFile"), "utf8")),
    },
    packages: ["frr"],
  });
} else {
  new EvpnController("ctl", {
    api: {
      url: config.require("url"),
      tokenId: config.require("tokenId"),
      tokenSecret: config.requireSecret("tokenSecret"),
      fingerprint: config.require("fingerprint"),
      site: "roz",
    },
    controller: "evpnctl",
    asn: 65000,
    peers: ["10.1.0.1", "10.2.0.1"],
  });
}
