// Encodings PVE expects (reference §1.4, §6): booleans as 0/1 (the strings "true"/"false" are refused),
// *-list values as comma-separated strings, property strings as "k=v,k=v" inside one value, removal of
// settings as ONE `delete=` list, never an empty value.

export type ApiScalar = string | number | boolean;
export type ApiValue = ApiScalar | ApiScalar[] | undefined | null;
export type ApiParams = Record<string, ApiValue>;

/** One value as PVE wants it on the wire. Arrays of scalars are comma-joined (the `*-list` formats). */
export function encodeValue(v: ApiScalar | ApiScalar[]): string {
  if (Array.isArray(v)) return v.map((x) => encodeValue(x)).join(",");
  if (typeof v === "boolean") return v ? "1" : "0";
  return String(v);
}

/**
 * Form (or query) encoding. URLSearchParams percent-encodes `=`, `,` and `&` inside values, which the server's
 * decoder needs for property strings (§1.4). Undefined/null are left out, never sent as "".
 */
export function toForm(params: ApiParams): string {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null) form.append(k, encodeValue(v));
  return form.toString();
}

/** PVE boolean read-back (0/1 numbers, occasionally strings) to a JS boolean; absent stays undefined. */
export function fromBool(v: unknown): boolean | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  return v === true || v === 1 || v === "1";
}

/** A comma list read-back to a sorted array (PVE sorts node lists; we sort everything to diff stably). */
export function fromList(v: unknown): string[] | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const items = Array.isArray(v) ? v.map(String) : String(v).split(",");
  return items
    .map((s) => s.trim())
    .filter(Boolean)
    .sort();
}

export function fromInt(v: unknown): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** "k=v,k=v" property string (net0, ipconfig0, log_ratelimit). Keys in the given order; undefined left out. */
export function propertyString(
  head: string | undefined,
  fields: Record<string, ApiScalar | undefined>,
): string {
  const parts = head ? [head] : [];
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) parts.push(`${k}=${encodeValue(v)}`);
  return parts.join(",");
}

/** Parses a property string; a bare first item (e.g. the model "virtio=MAC" or "order=...") keeps its key. */
export function parsePropertyString(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(",")) {
    const i = part.indexOf("=");
    if (i < 0) out[part] = "";
    else out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

/**
 * The body of an update: keys that changed go out with their value, keys that are wanted absent but are set
 * live go into one `delete` list (sending "" is not the same thing, and a key cannot be both set and deleted
 * in one call: "cannot set and delete property 'x' at the same time!").
 */
export function updateParams(desired: ApiParams, live: ApiParams, managedKeys: string[]): ApiParams {
  const out: ApiParams = {};
  const del: string[] = [];
  for (const k of managedKeys) {
    const want = desired[k];
    const have = live[k];
    if (want === undefined || want === null) {
      if (have !== undefined && have !== null) del.push(k);
    } else if (have === undefined || have === null || encodeValue(want) !== encodeValue(have)) {
      out[k] = want;
    }
  }
  if (del.length) out.delete = del.join(",");
  return out;
}
