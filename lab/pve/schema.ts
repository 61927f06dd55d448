// Parameter validation the way PVE::JSONSchema does it: every parameter of a method is declared, anything
// else is refused, booleans are only 0/1 (or JSON true/false), and each failure is reported per field
// with PVE's own wording (reference §1.4, §1.6). Pure functions; the router calls `validate` once.
import { paramError } from "./errors";

export type Value = string | number | string[];
export type Params = Record<string, Value>;

export interface Spec {
  type: "string" | "integer" | "boolean" | "number" | "array";
  optional?: boolean;
  enum?: readonly string[];
  /** Matched anchored, as PVE anchors `pattern`. */
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  /** A registered format: returns the reason it fails (PVE prefixes "invalid format - "). */
  format?: (v: string) => string | undefined;
  /** `*-list` formats: a JSON array or repeated form key is joined with "," (reference §1.4). */
  list?: boolean;
}
export type Schema = Record<string, Spec>;

export type RawValue = string | number | boolean | null | undefined | RawValue[] | { [k: string]: unknown };

function scalar(v: RawValue): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (v === true) return "1";
  if (v === false) return "0";
  if (typeof v === "object") return undefined;
  return String(v);
}

function checkScalar(spec: Spec, s: string): string | undefined {
  switch (spec.type) {
    case "boolean":
      if (s !== "0" && s !== "1") return `type check ('boolean') failed - got '${s}'`;
      return undefined;
    case "integer":
      if (!/^-?\d+$/.test(s)) return `type check ('integer') failed - got '${s}'`;
      break;
    case "number":
      if (!/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return `type check ('number') failed - got '${s}'`;
      break;
  }
  if (spec.type === "integer" || spec.type === "number") {
    const n = Number(s);
    if (spec.minimum !== undefined && n < spec.minimum)
      return `value must have a minimum value of ${spec.minimum}`;
    if (spec.maximum !== undefined && n > spec.maximum)
      return `value must have a maximum value of ${spec.maximum}`;
    return undefined;
  }
  if (spec.minLength !== undefined && s.length < spec.minLength)
    return `value must have a minimum length of ${spec.minLength}`;
  if (spec.maxLength !== undefined && s.length > spec.maxLength)
    return `value may only be ${spec.maxLength} characters long`;
  if (spec.pattern !== undefined && !new RegExp(`^(?:${spec.pattern})$`).test(s))
    return "value does not match the regex pattern";
  if (spec.enum && !spec.enum.includes(s))
    return `value '${s}' does not have a value in the enumeration '${spec.enum.join(", ")}'`;
  if (spec.format) {
    const why = spec.format(s);
    if (why !== undefined) return `invalid format - ${why}`;
  }
  return undefined;
}

/** Validate raw request parameters against a method schema; returns typed values or throws the 400. */
export function validate(raw: Record<string, RawValue>, schema: Schema): Params {
  const errors: Record<string, string> = {};
  const out: Params = {};
  for (const [key, value] of Object.entries(raw)) {
    const spec = schema[key];
    if (!spec) {
      errors[key] = "property is not defined in schema and the schema does not allow additional properties";
      continue;
    }
    if (spec.type === "array") {
      const items = (Array.isArray(value) ? value : [value]).map((v) => scalar(v as RawValue) ?? "");
      const bad = items.map((i) => checkScalar({ ...spec, type: "string" }, i)).find((e) => e !== undefined);
      if (bad) errors[key] = bad;
      else out[key] = items;
      continue;
    }
    let s: string | undefined;
    if (Array.isArray(value))
      s = spec.list ? value.map((v) => scalar(v) ?? "").join(",") : scalar(value.at(-1));
    else s = scalar(value);
    if (s === undefined) {
      errors[key] = `type check ('${spec.type}') failed`;
      continue;
    }
    // An empty value of an optional string passes unchecked: handlers treat it as "delete" (firewall
    // rule fields, reference §3.3).
    const err = s === "" && spec.optional && spec.type === "string" ? undefined : checkScalar(spec, s);
    if (err) errors[key] = err;
    else out[key] = spec.type === "string" ? s : Number(s);
  }
  for (const [key, spec] of Object.entries(schema)) {
    if (!spec.optional && !(key in raw) && !(key in errors))
      errors[key] = "property is missing and it is not optional";
  }
  if (Object.keys(errors).length > 0) paramError(errors);
  return out;
}

// Shared building blocks, named after PVE's standard options.
export const bool: Spec = { type: "boolean", optional: true };
export const optInt = (minimum?: number, maximum?: number): Spec => ({
  type: "integer",
  optional: true,
  minimum,
  maximum,
});
export const optStr = (extra: Partial<Spec> = {}): Spec => ({ type: "string", optional: true, ...extra });
export const digest: Spec = { type: "string", optional: true, maxLength: 64 };
export const deleteList: Spec = { type: "string", optional: true, maxLength: 4096, list: true };
export const nodeName: Spec = {
  type: "string",
  format: (v) =>
    /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(v)
      ? undefined
      : `value does not look like a valid node name`,
};

export const ipv4Re = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
export function isIPv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(":")) return false;
  const halves = s.split("::");
  if (halves.length > 2) return false;
  const parts = halves.flatMap((h) => (h === "" ? [] : h.split(":")));
  if (parts.some((p) => (p.includes(".") ? !ipv4Re.test(p) : !/^[0-9a-fA-F]{1,4}$/.test(p)))) return false;
  const groups = parts.reduce((n, p) => n + (p.includes(".") ? 2 : 1), 0);
  return halves.length === 2 ? groups < 8 : groups === 8;
}
export const isIP = (s: string): boolean => ipv4Re.test(s) || isIPv6(s);

export const ipFormat = (v: string): string | undefined =>
  isIP(v) ? undefined : `value does not look like a valid IP address`;
export const ipListFormat = (v: string): string | undefined => {
  for (const ip of v.split(/[,; ]+/).filter((x) => x))
    if (!isIP(ip)) return `value does not look like a valid IP address`;
  return undefined;
};
export const cidrFormat = (v: string): string | undefined =>
  parseCidr(v) ? undefined : `value does not look like a valid CIDR network`;

export interface Cidr {
  v: 4 | 6;
  addr: bigint;
  len: number;
}
export function parseIp(s: string): { v: 4 | 6; addr: bigint } | undefined {
  if (ipv4Re.test(s)) return { v: 4, addr: s.split(".").reduce((a, o) => (a << 8n) | BigInt(o), 0n) };
  if (!isIPv6(s)) return undefined;
  let str = s;
  if (str.includes(".")) {
    const last = str.slice(str.lastIndexOf(":") + 1);
    const n = last.split(".").map(Number);
    str =
      str.slice(0, str.lastIndexOf(":") + 1) +
      ((n[0] << 8) | n[1]).toString(16) +
      ":" +
      ((n[2] << 8) | n[3]).toString(16);
  }
  const [head, tail] = str.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return { v: 6, addr: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n) };
}
export function parseCidr(s: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const ip = parseIp(m[1]);
  const len = Number(m[2]);
  if (!ip || len > (ip.v === 4 ? 32 : 128)) return undefined;
  return { ...ip, len };
}
export function cidrContains(c: Cidr, ip: string): boolean {
  const p = parseIp(ip);
  if (!p || p.v !== c.v) return false;
  const bits = BigInt(c.v === 4 ? 32 : 128);
  const shift = bits - BigInt(c.len);
  return p.addr >> shift === c.addr >> shift;
}
