// The fabric check (DESIGN §1 [proof]) as pure parts; the FabricCheck resource (components/fabric-check.ts)
// and its provider (providers/check/) wire them to the nodes, the sdntest VM and the PVE API.
//
//   spec.ts      what the check expects (planned by components/plan.ts) and what the probes bring back
//   probes.ts    the read-only commands, every value quoted (providers/host/quote.ts)
//   parsers.ts   readers of what wg, sysctl, bridge, ip, vtysh and ping print
//   evaluate.ts  answers → findings: one per check, with its status and typed cause; blocked layers
//   causes.ts    the causes and the one table that renders each as detail, diagnosis and fix
//   report.ts    findings → the published rows (docs/outputs.md), the summary and the table
//   run.ts       one round through injected I/O (CheckIO)
//
// A new check: its command in probes.ts, a reader in parsers.ts, a Cause with its row in causes.ts, the
// finding in evaluate.ts, and exact text in tests/unit/components-check.test.ts.
export * from "./spec";
export * from "./causes";
export * from "./parsers";
export * from "./probes";
export { evaluate, firewallFindings, type Finding } from "./evaluate";
export * from "./report";
export * from "./run";
