// Editing /etc/frr/daemons: switch named daemons on or off and leave every other line, comment and
// option as the package wrote it.

/** The yes/no value of each `<daemon>=` line. */
export function parseFrrDaemons(text: string): Record<string, "yes" | "no"> {
  const out: Record<string, "yes" | "no"> = {};
  for (const line of text.split("\n")) {
    const m = /^([a-z0-9]+d)=(yes|no)\s*$/.exec(line);
    if (m) out[m[1]] = m[2] as "yes" | "no";
  }
  return out;
}

/** `text` with each daemon set as asked; a daemon without a line gets one appended. */
export function setFrrDaemons(text: string, want: Record<string, "yes" | "no">): string {
  const missing = new Set(Object.keys(want));
  const lines = text.split("\n").map((line) => {
    const m = /^([a-z0-9]+d)=(yes|no)\s*$/.exec(line);
    if (!m || !(m[1] in want)) return line;
    missing.delete(m[1]);
    return `${m[1]}=${want[m[1]]}`;
  });
  if (missing.size === 0) return lines.join("\n");
  const body = text.endsWith("\n") ? lines.slice(0, -1) : lines;
  return [...body, ...[...missing].sort().map((d) => `${d}=${want[d]}`), ""].join("\n");
}
