// FabricCheck: the seed's checklist as a resource (components/check/ is the logic, providers/check/ the
// provider). It depends on everything else of the site, so it runs after convergence; a failing layer fails
// the update with the diagnosis. Connections are secret in state like every host resource's.
import * as pulumi from "@pulumi/pulumi";
import { hostProvider, type ConnectionArgs } from "../providers/host/resources";
import type { CheckProps, Probe } from "../providers/check/provider";
import type { ApiArgs } from "../providers/pve/dynamic";
import type { CheckResult, CheckSpec, CheckSummary } from "./check";

// The provider methods load providers/check/provider.ts at run time, in the same process-wide module cache as
// the host resources, so the check shares their SSH pool (no extra handshakes). The resource keeps its type
// (pulumi-nodejs:dynamic:Resource) and name, so existing stacks update it in place.
const provider = hostProvider("providers/check/provider");

export interface FabricCheckArgs {
  spec: pulumi.Input<CheckSpec>;
  /** The site's API: the check reads the firewall from PVE. */
  api?: ApiArgs;
  connections: pulumi.Input<Record<string, pulumi.Input<ConnectionArgs>>>;
  probe?: pulumi.Input<Probe>;
  enforce: pulumi.Input<boolean>;
  /** How long an update waits for failing checks to pass after convergence (default 60 s). */
  settleSeconds?: pulumi.Input<number>;
}

export class FabricCheck extends pulumi.dynamic.Resource {
  declare readonly results: pulumi.Output<CheckResult[]>;
  declare readonly summary: pulumi.Output<CheckSummary>;
  declare readonly table: pulumi.Output<string>;
  constructor(name: string, args: FabricCheckArgs, opts?: pulumi.CustomResourceOptions) {
    const props: Partial<Record<keyof CheckProps | "summary" | "table", unknown>> = {
      ...args,
      ...(args.api ? { api: { ...args.api, tokenSecret: pulumi.secret(args.api.tokenSecret) } } : {}),
      results: undefined,
      summary: undefined,
      table: undefined,
    };
    super(provider, name, props, {
      ...opts,
      additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connections", "probe", "api"],
    });
  }
}
