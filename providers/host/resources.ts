// The Pulumi side of the host resources: thin dynamic resources whose provider methods only forward to
// the runtime modules (sysctls.ts, packages.ts, service.ts, wireguard.ts). The methods capture nothing but
// loadRuntime and a module path, so the engine serialises a few lines per resource, and every resource of
// a provider process shares one module cache and therefore one SSH pool (DESIGN §3.3).
import * as pulumi from "@pulumi/pulumi";
import { loadRuntime } from "../runtime";
import type { WgPeer } from "../render/wireguard";

/** How to reach a host. privateKey is a secret: pass pulumi.secret(...) or config.requireSecret(...). */
export interface ConnectionArgs {
  host: pulumi.Input<string>;
  port?: pulumi.Input<number>;
  user?: pulumi.Input<string>;
  /** Pinned host key: "ssh-ed25519 AAAA…" (the host's .pub line) or "SHA256:…". */
  hostKey: pulumi.Input<string>;
  privateKey?: pulumi.Input<string>;
  agentSocket?: pulumi.Input<string>;
}

type Forwarded = Required<
  Pick<pulumi.dynamic.ResourceProvider, "check" | "diff" | "read" | "create" | "update" | "delete">
>;

/** A provider whose methods load `mod` (a path from the repo root) at run time and call its `provider`. */
export function hostProvider(mod: string): pulumi.dynamic.ResourceProvider {
  const p = () => loadRuntime<{ provider: Forwarded }>(mod).provider;
  return {
    check: (olds, news) => p().check(olds, news),
    diff: (id, olds, news) => p().diff(id, olds, news),
    read: (id, props) => p().read(id, props),
    create: (inputs) => p().create(inputs),
    update: (id, olds, news) => p().update(id, olds, news),
    delete: (id, props) => p().delete(id, props),
  };
}

const PROVIDERS = {
  sysctls: hostProvider("providers/host/sysctls"),
  packages: hostProvider("providers/host/packages"),
  service: hostProvider("providers/host/service"),
  wireguard: hostProvider("providers/host/wireguard"),
};

// The connection (it holds the SSH private key) is a secret output: encrypted in state, hidden in output.
function secretConnection(opts?: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
  return { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"] };
}

export interface SysctlsArgs {
  connection: pulumi.Input<ConnectionArgs>;
  /** Drop-in name: /etc/sysctl.d/<name>.conf */
  name: pulumi.Input<string>;
  values: pulumi.Input<Record<string, pulumi.Input<string>>>;
}

export class Sysctls extends pulumi.dynamic.Resource {
  /** What was read back: { dropInPresent, values }. */
  declare readonly observed: pulumi.Output<{ dropInPresent: boolean; values: Record<string, string> }>;
  constructor(name: string, args: SysctlsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      PROVIDERS.sysctls,
      name,
      { observed: undefined, previous: undefined, ...args },
      secretConnection(opts),
    );
  }
}

export interface PackagesArgs {
  connection: pulumi.Input<ConnectionArgs>;
  packages: pulumi.Input<pulumi.Input<string>[]>;
}

export class Packages extends pulumi.dynamic.Resource {
  /** { versions: { <package>: <installed version> } } */
  declare readonly observed: pulumi.Output<{ versions: Record<string, string | null> }>;
  constructor(name: string, args: PackagesArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      PROVIDERS.packages,
      name,
      { observed: undefined, previous: undefined, ...args },
      secretConnection(opts),
    );
  }
}

export interface ServiceArgs {
  connection: pulumi.Input<ConnectionArgs>;
  unit: pulumi.Input<string>;
  enabled: pulumi.Input<boolean>;
  active: pulumi.Input<boolean>;
  frrDaemons?: pulumi.Input<Record<string, pulumi.Input<"yes" | "no">>>;
}

export class Service extends pulumi.dynamic.Resource {
  declare readonly observed: pulumi.Output<{
    enabled: boolean;
    active: boolean;
    daemons?: Record<string, string>;
  }>;
  constructor(name: string, args: ServiceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      PROVIDERS.service,
      name,
      { observed: undefined, previous: undefined, ...args },
      secretConnection(opts),
    );
  }
}

export interface WireGuardInterfaceArgs {
  connection: pulumi.Input<ConnectionArgs>;
  name: pulumi.Input<string>;
  address: pulumi.Input<string>;
  listenPort: pulumi.Input<number>;
  mtu?: pulumi.Input<number>;
  peers: pulumi.Input<pulumi.Input<WgPeer>[]>;
  /** Bump to generate a new key pair on the host (the public key output changes). */
  keyGeneration?: pulumi.Input<number>;
}

export class WireGuardInterface extends pulumi.dynamic.Resource {
  declare readonly observed: pulumi.Output<{
    publicKey: string;
    listenPort: number | null;
    addresses: string[];
    mtu: number | null;
    peers: { publicKey: string; endpoint: string | null; allowedIps: string[] }[];
  }>;
  /** The interface's public key, read back from the host. */
  readonly publicKey: pulumi.Output<string>;
  constructor(name: string, args: WireGuardInterfaceArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      PROVIDERS.wireguard,
      name,
      { observed: undefined, previous: undefined, ...args },
      secretConnection(opts),
    );
    this.publicKey = this.observed.apply((o) => o.publicKey);
  }
}
