// The PVE client: a tree that mirrors the API paths (STYLE habit 2). Resources never build URLs.
//   client.cluster.sdn.zones / vnets / subnets / controllers / vnetFirewall, .apply(), .lock()
//   client.cluster.firewall.options / rules / groups / ipsets
//   client.nodes.firewall / qemu / tasks / sdn
import { Transport, type ApiConfig, type TransportOptions } from "./transport";
import { Sdn } from "./api/cluster/sdn";
import { ClusterFirewall } from "./api/cluster/firewall";
import { Nodes } from "./api/nodes";

export interface VersionInfo {
  version: string;
  release: string;
  repoid: string;
}

export class PveClient {
  readonly cluster: { sdn: Sdn; firewall: ClusterFirewall };
  readonly nodes: Nodes;
  constructor(readonly transport: Transport) {
    this.cluster = { sdn: new Sdn(transport), firewall: new ClusterFirewall(transport) };
    this.nodes = new Nodes(transport);
  }
  get site(): string {
    return this.transport.site;
  }
  version(): Promise<VersionInfo> {
    return this.transport.get<VersionInfo>("/version");
  }
  close(): void {
    this.transport.close();
  }
}

// One client per (url, token, pin) per process: the provider process serves every resource of a run, and
// loadRuntime() hands all of them this same module instance, so they share sockets.
const cache = new Map<string, PveClient>();

export function clientFor(api: ApiConfig, opts?: TransportOptions): PveClient {
  const crypto = require("crypto") as typeof import("crypto");
  // The key holds a hash of the secret, never the secret itself.
  const key = [api.url, api.tokenId, api.fingerprint ?? "", api.caPem ?? "", api.site ?? ""]
    .concat(crypto.createHash("sha256").update(api.tokenSecret).digest("hex"))
    .join("\n");
  let c = cache.get(key);
  if (!c) {
    c = new PveClient(new Transport(api, opts));
    cache.set(key, c);
  }
  return c;
}

/** Drops (and closes) every cached client; tests call it between emulator instances. */
export function resetClients(): void {
  for (const c of cache.values()) c.close();
  cache.clear();
}
