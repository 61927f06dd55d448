// The wg-quick configuration of one interface. It holds no private key: PostUp loads the key from the
// file that was generated on the host (umask 077), so this text can be read back, diffed and logged.
// `wg-quick strip` (what `wg syncconf` is fed on reload) drops Address/MTU/PostUp and keeps the rest.

export interface WgPeer {
  publicKey: string;
  endpoint?: string; // host:port; a DNS name is resolved by wg when the config is (re)applied
  allowedIps: string[];
  persistentKeepalive?: number;
}

export interface WgInterface {
  name: string;
  address: string; // CIDR, e.g. 10.1.0.1/16
  listenPort: number;
  mtu?: number;
  peers: WgPeer[];
}

/** Where the private key lives on the host; never read off it. */
export function wgKeyPath(name: string): string {
  return `/etc/wireguard/${name}.key`;
}

export function wgConfigPath(name: string): string {
  return `/etc/wireguard/${name}.conf`;
}

/** Peers in a stable order (by public key) so reordering the fabric's list is not a change. */
export function sortedPeers(peers: WgPeer[]): WgPeer[] {
  return [...peers].sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0));
}

export function renderWgConfig(i: WgInterface): string {
  const lines = [
    "# Managed by pve-fabric; edits are reported as drift and overwritten.",
    `# The private key never leaves this host: ${wgKeyPath(i.name)} (loaded by PostUp).`,
    "[Interface]",
    `Address = ${i.address}`,
    `ListenPort = ${i.listenPort}`,
  ];
  if (i.mtu !== undefined) lines.push(`MTU = ${i.mtu}`);
  lines.push(`PostUp = wg set %i private-key ${wgKeyPath("%i")}`);
  for (const p of sortedPeers(i.peers)) {
    lines.push("", "[Peer]", `PublicKey = ${p.publicKey}`);
    if (p.endpoint) lines.push(`Endpoint = ${p.endpoint}`);
    lines.push(`AllowedIPs = ${p.allowedIps.join(", ")}`);
    if (p.persistentKeepalive) lines.push(`PersistentKeepalive = ${p.persistentKeepalive}`);
  }
  return lines.join("\n") + "\n";
}
