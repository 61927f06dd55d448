// A consumer of pve-fabric's stack outputs (docs/outputs.md): it reads one site's stack with a
// StackReference and attaches a VM to that site's vnet, addressed inside the site's subnet with the
// subnet's gateway, and refuses to run while the fabric's last check failed.
//
//   pulumi config set fabricStack organization/pve-fabric/roz   # the site stack to attach to
//   pulumi config set hostIndex 50                              # -> 10.1.1.50/24 on roz
//   pulumi config set api '{"url":"https://pve1.roz.example.net:8006","tokenId":"fabric@pve!app","fingerprint":"AB:…"}'
//   pulumi config set --secret tokenSecret <uuid>
import * as pulumi from "@pulumi/pulumi";
import { TestVm } from "../../providers/pve/vm";

interface FabricChecks {
  ok: boolean;
  fail: number;
}

const config = new pulumi.Config();
const site = new pulumi.StackReference("fabric-site", { name: config.require("fabricStack") });
const vnet = site.requireOutput("vnet") as pulumi.Output<string>;
const subnet = site.requireOutput("subnet") as pulumi.Output<string>;
const gateway = site.requireOutput("gateway") as pulumi.Output<string>;
const mtu = site.requireOutput("mtu") as pulumi.Output<{ overlay: number }>;
const checks = site.getOutput("checks") as pulumi.Output<FabricChecks | undefined>;
const sdntest = site.getOutput("sdntest") as pulumi.Output<{ node: string } | null>;

const hostIndex = config.requireNumber("hostIndex");
/** The hostIndex-th address of the subnet, with its prefix: 10.1.1.0/24 + 50 -> 10.1.1.50/24. */
const address = subnet.apply((cidr) => {
  const [net, prefix] = cidr.split("/");
  const n = net.split(".").reduce((a, o) => a * 256 + Number(o), 0) + hostIndex;
  return `${[24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".")}/${prefix}`;
});

const api = config.requireObject<{ url: string; tokenId: string; fingerprint: string }>("api");
const vm = new TestVm("app", {
  api: { ...api, tokenSecret: config.requireSecret("tokenSecret") },
  // Wait for a fabric whose last check passed: a VM on a broken fabric only hides the breakage.
  node: pulumi.all([checks, sdntest]).apply(([c, t]) => {
    if (c && !c.ok)
      throw new Error(`the fabric's last check failed (${c.fail} failures): fix the fabric first`);
    return config.get("node") ?? t?.node ?? "pve1";
  }),
  vmid: config.getNumber("vmid") ?? 200,
  name: "app",
  vnet,
  address,
  gateway,
});

export const vmAddress = address;
export const vmVnet = vnet;
/** Guests must keep their MTU at or below this (VirtIO NICs inherit it from the vnet bridge). */
export const guestMtu = mtu.apply((m) => m.overlay);
export const vmid = vm.vmid;
