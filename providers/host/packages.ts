// packages: Debian packages present (dpkg-query); apt-get runs only when one is missing. Delete removes
// only the packages this resource installed, never ones the host already had.
import { providerOf, type HostKind } from "./lifecycle";
import { sh } from "./quote";

export interface PackagesSpec {
  packages: string[];
}

export interface PackagesLive {
  versions: Record<string, string | null>; // installed version, null when not installed
}

export interface PackagesPrev {
  installedByUs: string[];
}

/** Parses `dpkg-query -W -f '${Package}\t${db:Status-Abbrev}\t${Version}\n'`: "ii " means installed. */
export function parseDpkgQuery(text: string, names: string[]): Record<string, string | null> {
  const out: Record<string, string | null> = Object.fromEntries(names.map((n) => [n, null]));
  for (const line of text.split("\n")) {
    const [pkg, status, version] = line.split("\t");
    const name = pkg?.replace(/:[a-z0-9]+$/, ""); // multi-arch suffix
    if (name && name in out && status?.startsWith("ii")) out[name] = version ?? "";
  }
  return out;
}

const missing = (live: PackagesLive) =>
  Object.entries(live.versions)
    .filter(([, v]) => v === null)
    .map(([n]) => n)
    .sort();

const APT = "DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Options::=--force-confold";

export const kind: HostKind<PackagesSpec, PackagesLive, PackagesPrev> = {
  kind: "packages",
  schema: (zod) =>
    zod.object({
      packages: zod
        .array(
          zod.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, "a Debian package name (lower case, digits, + - .)"),
        )
        .min(1, "packages needs at least one name"),
    }),
  name: (spec) => [...spec.packages].sort().join(","),
  replaceOn: [],
  async read(s, spec) {
    const r = await s.exec(
      sh`dpkg-query -W -f '\${Package}\t\${db:Status-Abbrev}\t\${Version}\n' ${spec.packages}`,
      {
        okExits: [0, 1], // 1: some package is unknown to dpkg (not installed, never was)
      },
    );
    return { versions: parseDpkgQuery(r.stdout, spec.packages) };
  },
  drift: (_spec, live) => missing(live),
  capture: (_s, _spec, live) => ({ installedByUs: missing(live) }),
  async apply(s, _spec, live) {
    const want = missing(live);
    if (want.length === 0) return;
    // A fresh host's package lists may be stale or empty: refresh them once, then install.
    await s.write(`${APT} update && ${APT} install --no-install-recommends ` + sh`${want}`);
  },
  observe: (_spec, live) => ({ versions: live.versions }),
  async remove(s, _spec, prev, live) {
    const ours = (prev?.installedByUs ?? []).filter((p) => live.versions[p] !== null);
    if (ours.length > 0) await s.write(`${APT} remove ` + sh`${ours}`);
  },
  exists: () => true,
};

export const provider = providerOf(kind);
