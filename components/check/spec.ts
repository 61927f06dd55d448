// What the fabric check expects (CheckSpec, planned by components/plan.ts checkSpecFor), what the probes
// bring back (HostAnswers, VmAnswers, FirewallView), and what it publishes (CheckResult, docs/outputs.md).
// Plain data: no I/O, no Pulumi.

export type Layer = "underlay" | "host" | "firewall" | "control-plane" | "vxlan" | "overlay" | "snat" | "mtu";
export type Status = "pass" | "fail" | "pending" | "skipped";

/** Bottom up: a failing layer blocks the ones above it (except the independent ones). */
export const LAYERS: readonly Layer[] = [
  "underlay",
  "host",
  "firewall",
  "control-plane",
  "vxlan",
  "overlay",
  "snat",
  "mtu",
];
/** Layers that do not depend on the ones below them in LAYERS. */
export const INDEPENDENT: readonly Layer[] = ["underlay", "host", "firewall"];

/** One row of the published check (the `checks.results` output, a public contract: docs/outputs.md). */
export interface CheckResult {
  /** Stable id, e.g. "underlay roz1->wro/wro1". */
  id: string;
  layer: Layer;
  status: Status;
  /** What was measured, e.g. "handshake 12 s ago". */
  detail: string;
  /** For a failure: the broken layer and its likely cause, with what to do. */
  diagnosis?: string;
}

export interface CheckPeer {
  site: string;
  node: string;
  tunnelAddress: string;
  /** Known public key of the peer; undefined while its site has not published it. */
  publicKey?: string;
  /** Why checks against this peer cannot pass yet (bootstrap, ADR 003); undefined when ready. */
  pending?: string;
}

export interface CheckHost {
  node: string;
  wgInterface: string;
  /** This node's tunnel address: every VXLAN's local address must be it. */
  tunnelAddress: string;
  /** Why its VXLANs cannot have the tunnel address yet (bootstrap: plan.ts vtepReady); undefined when ready. */
  vtepPending?: string;
  /** A non-exit node sends its VMs' outside traffic along the zone's EVPN default route: checked. */
  exitNode?: boolean;
}

export interface CheckTarget {
  site: string;
  /** Address without prefix; undefined while that site has not published one. */
  address?: string;
  pending?: string;
}

export interface CheckSpec {
  site: string;
  zone: string;
  vnets: string[];
  hosts: CheckHost[];
  /** Every other node of the fabric (same site included), as this site expects it. */
  peers: CheckPeer[];
  sysctls: Record<string, string>;
  handshakeMaxAgeSeconds: number;
  overlayMtu: number;
  /** Group name and rule keys left out of the config on purpose (named by the firewall diagnosis). */
  firewall: { group: string; omitted: string[]; nftables: boolean };
  sdntest?: { targets: CheckTarget[]; outside?: string };
  /** Other sites' subnets per local vnet: the FORWARD rules the firewall must hold. */
  remoteSubnets: Record<string, string[]>;
}

// --- what the probes bring back ------------------------------------------------------------------------

/** One command's stdout and exit code (providers/host/ssh.ts probeScript frames them). */
export interface ProbeSection {
  out: string;
  rc: number;
}
export type Sections = Record<string, ProbeSection>;

export interface HostAnswers {
  node: string;
  /** Undefined when the host could not be reached (the message says why). */
  sections?: Sections;
  error?: string;
}

export interface VmAnswers {
  sections?: Sections;
  error?: string;
  /** No probe configured: the VM checks are skipped. */
  none?: boolean;
}

export interface FirewallRuleView {
  type: string;
  action: string;
  source?: string;
  dest?: string;
  enable: boolean;
}

/** The PVE firewall as read through the API (cluster rules, groups, options). */
export interface FirewallView {
  clusterEnabled: boolean;
  /** node → nftables backend on. */
  nftables: Record<string, boolean>;
  clusterRules: FirewallRuleView[];
  groups: Record<string, FirewallRuleView[]>;
}

/** Everything one check round read; `firewall` is undefined when the check has no API to read it from. */
export interface Answers {
  hosts: HostAnswers[];
  vm: VmAnswers;
  firewall?: FirewallView | { error: string };
}
