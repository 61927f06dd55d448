// A /etc/sysctl.d drop-in: one `key = value` line per setting, keys sorted so the text is stable.

export function sysctlDropInPath(name: string): string {
  return `/etc/sysctl.d/${name}.conf`;
}

export function renderSysctlDropIn(values: Record<string, string>): string {
  const keys = Object.keys(values).sort();
  return [
    "# Managed by pve-fabric; edits are reported as drift and overwritten.",
    ...keys.map((k) => `${k} = ${values[k]}`),
    "",
  ].join("\n");
}

/**
 * Parses `sysctl -e <keys>` output ("key = value" per line). Keys the kernel does not have are absent
 * from the result. Multi-value settings (tabs between fields) are normalised to single spaces.
 */
export function parseSysctlOutput(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([^=\s]+)\s*=\s?(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].trim().replace(/\s+/g, " ");
  }
  return out;
}
