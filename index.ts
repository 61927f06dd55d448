// The pve-fabric program: one stack per site. The fabric model (fabric/) and the components
// (components/) are wired in here as they land; for now the program only names its site.
import * as pulumi from "@pulumi/pulumi";

export const site = pulumi.getStack();
