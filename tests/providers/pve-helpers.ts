// Shared by the pve-* provider tests: an in-process PVE emulator (lab/pve) on 127.0.0.1 with an ephemeral
// port and a fresh state dir, the ApiConfig pinned to its certificate, and write counting through the
// client's transport stats (the same client instance the provider methods use: one per process).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { createEmulator, type EmulatorOptions, type RunningEmulator } from "../../lab/pve/server";
import { clientFor, resetClients, type PveClient } from "../../providers/pve/client";
import type { ApiConfig } from "../../providers/pve/transport";

export const SECRET = "9c1d6b52-3f0e-4a7d-8e21-5b6c7d8e9f01";
export const TOKEN_ID = "fabric@pve!pulumi";

export interface Lab {
  emu: RunningEmulator;
  api: ApiConfig;
  client: PveClient;
  dir: string;
  /** Writes (POST+PUT+DELETE) made by our client since the last call. */
  writesSince(): number;
  close(): Promise<void>;
}

export async function startLab(opts: Partial<EmulatorOptions> = {}): Promise<Lab> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pve-prov-"));
  const emu = await createEmulator({
    site: "roz",
    stateDir: dir,
    nodes: [
      { name: "pve1", ip: "10.1.0.1" },
      { name: "pve2", ip: "10.1.0.2" },
    ],
    token: { tokenid: TOKEN_ID, secret: SECRET },
    authFailureDelayMs: 0,
    ...opts,
  });
  const api: ApiConfig = {
    url: emu.url,
    tokenId: TOKEN_ID,
    tokenSecret: SECRET,
    fingerprint: emu.fingerprint,
    site: "roz",
  };
  const client = clientFor(api);
  const writes = () =>
    client.transport.stats.POST + client.transport.stats.PUT + client.transport.stats.DELETE;
  let mark = writes();
  return {
    emu,
    api,
    client,
    dir,
    writesSince() {
      const n = writes() - mark;
      mark = writes();
      return n;
    },
    async close() {
      resetClients();
      await emu.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Asserts helper: the text must not contain the token secret. */
export function assertNoSecret(what: string, text: string): void {
  if (text.includes(SECRET)) throw new Error(`${what} contains the API token secret: ${text.slice(0, 200)}`);
}

/** The seed's SDN objects (controller → zone → vnet → subnet), applied: vnet bridges, `+sdn/<vnet>-all` and
 *  the vnet firewall exist only after that. */
export async function seedAppliedVnet(lab: Lab): Promise<void> {
  const sdn = lab.client.cluster.sdn;
  await sdn.controllers.createEvpn({ controller: "evpnctl", asn: 65000, peers: ["10.1.0.1"] });
  await sdn.zones.createEvpn({
    zone: "crossite",
    controller: "evpnctl",
    vrfVxlan: 99999,
    exitNodes: [],
    exitNodesLocalRouting: false,
    advertiseSubnets: false,
    nodes: [],
  });
  await sdn.vnets.createVnet({ vnet: "crossvnt", zone: "crossite", tag: 100000 });
  await sdn.subnets.createSubnet({
    vnet: "crossvnt",
    zone: "crossite",
    cidr: "10.1.1.0/24",
    gateway: "10.1.1.1",
    snat: false,
  });
  await lab.client.nodes.tasks.wait(await sdn.apply());
}
