// What the firewall compiler reads (the emulator's firewallState()) and how names in rules resolve, with the
// one error type the compiler throws. Pure.
import type { FirewallState } from "../pve/state";

export type SdnIpsets = Record<string, { cidr: string; nomatch?: number }[]>;
export type FirewallView = FirewallState & { sdnIpsets: SdnIpsets };

/**
 * A firewall configuration proxmox-firewall cannot turn into a ruleset. On PVE the whole update then fails
 * (the daemon logs it and keeps the previous ruleset); the lab keeps the previous ruleset too and reports the
 * node as failed with this message.
 */
export class FirewallCompileError extends Error {
  constructor(
    readonly where: string,
    readonly field: string,
    readonly value: string,
    readonly rule: string,
    readonly fix: string,
  ) {
    super(`${where}: ${field} '${value}': ${rule}; ${fix}`);
    this.name = "FirewallCompileError";
  }
}

export interface Resolver {
  /** `limit rate …` for log rules, or undefined when log_ratelimit is disabled. */
  logLimit?: string;
  /** `+name` → the scoped set name (`dc/name`, `sdn/name`) used in `v4-<name>`; throws when unresolvable. */
  ipsetRef(ref: string, where: string, field: string): string;
  /** An alias reference → its CIDR. */
  aliasRef(ref: string, where: string, field: string): string;
  /** Asserts that a security group exists (a jump to a missing chain would make `nft -f` fail). */
  group(name: string, where: string): void;
}

export function resolver(fw: FirewallView, pveVersion: string, logLimit?: string): Resolver {
  // proxmox-firewall < 1.2.0 (PVE 8.x) knows only scoped names; an unscoped one fails the whole ruleset.
  const scopedOnly = pveVersion.startsWith("8.");
  const unscoped = (kind: string, ref: string, where: string, field: string): never => {
    throw new FirewallCompileError(
      where,
      field,
      ref,
      `proxmox-firewall on PVE ${pveVersion} cannot parse an unscoped ${kind} name (fixed in 1.2.0, PVE 9.0)`,
      `write it with its scope, e.g. '${kind === "ipset" ? "+dc/" + ref.replace(/^\+/, "") : "dc/" + ref}'`,
    );
  };
  return {
    logLimit,
    ipsetRef(ref, where, field) {
      const m = /^(dc|sdn|guest)\/(.+)$/.exec(ref);
      if (!m && scopedOnly) unscoped("ipset", `+${ref}`, where, field);
      // An unscoped (legacy) name is looked up among the cluster's own sets only, never the SDN ones.
      const [scope, name] = m ? [m[1], m[2]] : ["dc", ref];
      const found = scope === "dc" ? name in fw.ipsets : scope === "sdn" ? name in fw.sdnIpsets : false;
      if (!found)
        throw new FirewallCompileError(
          where,
          field,
          `+${ref}`,
          `could not find ipset ${scope}/${name}` +
            (scope === "guest" ? " (guest sets exist only in VM firewalls)" : ""),
          scope === "sdn"
            ? "apply the SDN config that defines the vnet, or remove the rule"
            : "create the ipset or remove the rule",
        );
      return `${scope}/${name}`;
    },
    aliasRef(ref, where, field) {
      const m = /^(dc|guest)\/(.+)$/.exec(ref);
      if (!m && scopedOnly) unscoped("alias", ref, where, field);
      const name = m ? m[2] : ref;
      const alias = m?.[1] === "guest" ? undefined : fw.aliases[name.toLowerCase()];
      if (!alias)
        throw new FirewallCompileError(
          where,
          field,
          ref,
          `could not find alias ${name}`,
          "create the alias or remove the rule",
        );
      return alias.cidr;
    },
    group(name, where) {
      if (!fw.groups[name])
        throw new FirewallCompileError(
          where,
          "action",
          name,
          "the security group does not exist, and a jump to its missing chain makes nft reject the whole ruleset",
          "create the group or remove the rule",
        );
    },
  };
}

/** `log_ratelimit` (`[enable=]1|0[,rate=N/unit][,burst=N]`, default on, 1/second, burst 5) → a limit statement. */
export function logLimit(value: unknown): string | undefined {
  let enabled = true;
  let rate = "1/second";
  let burst = 5;
  if (value !== undefined)
    for (const part of String(value).split(",")) {
      const [k, v] = part.includes("=") ? part.split("=", 2) : ["enable", part];
      if (k === "enable") enabled = v === "1";
      else if (k === "rate") rate = v.includes("/") ? v : `${v}/second`;
      else if (k === "burst") burst = Number(v);
    }
  return enabled ? `limit rate ${rate} burst ${burst} packets` : undefined;
}
