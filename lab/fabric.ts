// The lab topology from the fabric definition the stacks use (fabric.yaml, ADR 002): same sites, same node
// names (so hostnames and the emulator's nodes match what the stacks expect), and every node's endpoint name
// resolving to its lab address on every lab host.
import { formatProblems, validateFabric } from "../fabric";
import { LabDefinitionError, type LabDefinitionInput } from "./plan";

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export function labDefinitionFromFabric(
  raw: unknown,
  file: string,
): { definition: LabDefinitionInput; warnings: string[] } {
  const r = validateFabric(raw);
  if (!r.ok) throw new LabDefinitionError(formatProblems(r.problems, { fabric: file }));
  const warnings: string[] = [];
  const avoid: string[] = [];
  const sites = Object.entries(r.fabric.sites).map(([name, site]) => {
    for (const s of Object.values(site.subnets)) avoid.push(s.cidr);
    return {
      name,
      nodes: site.nodes.map((n) => {
        avoid.push(`${n.tunnelAddress}/32`);
        if (IPV4.test(n.endpoint)) {
          warnings.push(
            `${file}: sites.${name} node ${n.name} has the endpoint ${n.endpoint}, an address the lab does not have; ` +
              `the lab gives it ${name}'s lab address. Use a DNS name as endpoint to have it resolve in the lab.`,
          );
          return { name: n.name, aliases: [] };
        }
        return { name: n.name, aliases: [n.endpoint] };
      }),
    };
  });
  return { definition: { sites, avoid }, warnings };
}
