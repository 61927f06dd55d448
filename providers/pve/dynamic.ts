// The Pulumi side of every PVE resource: a provider object that only forwards to the lifecycle methods of
// ops/index.ts, loaded at run time (providers/runtime.ts) so that the serialised provider captures nothing
// but a module path and a kind name: no client, no cache, no credentials (pulumi-offline.md §10).
import * as pulumi from "@pulumi/pulumi";
import { loadRuntime } from "../runtime";
import type { ApiConfig } from "./transport";
import type * as registry from "./ops/index";

/** Connection inputs of every resource. `tokenSecret` is wrapped in pulumi.secret by the resource. */
export interface ApiArgs {
  url: pulumi.Input<string>;
  tokenId: pulumi.Input<string>;
  tokenSecret: pulumi.Input<string>;
  fingerprint?: pulumi.Input<string>;
  caPem?: pulumi.Input<string>;
  site?: pulumi.Input<string>;
}

export function makeProvider(kindName: string): pulumi.dynamic.ResourceProvider {
  const ops = () => loadRuntime<typeof registry>("providers/pve/ops/index.ts").methods(kindName);
  return {
    check: (olds, news) => ops().check(olds, news),
    diff: (id, olds, news) => ops().diff(id, olds, news),
    read: (id, props) => ops().read(id, props),
    create: (inputs) => ops().create(inputs),
    update: (id, olds, news) => ops().update(id, olds, news),
    delete: (id, props) => ops().delete(id, props),
  };
}

/** Base of every PVE resource: the token secret goes in as a secret, and the `api` output stays secret. */
export abstract class PveResource extends pulumi.dynamic.Resource {
  declare readonly api: pulumi.Output<ApiConfig>;
  protected constructor(
    kindName: string,
    name: string,
    args: { api: ApiArgs } & Record<string, unknown>,
    opts: pulumi.CustomResourceOptions = {},
    outputs: Record<string, undefined> = {},
  ) {
    const api = { ...args.api, tokenSecret: pulumi.secret(args.api.tokenSecret) };
    super(
      makeProvider(kindName),
      name,
      { ...outputs, ...args, api },
      {
        ...opts,
        additionalSecretOutputs: [...new Set([...(opts.additionalSecretOutputs ?? []), "api"])],
      },
    );
  }
}
