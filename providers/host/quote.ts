// Every argument that reaches a remote shell goes through quote(): commands are built with the `sh`
// template tag, which quotes each interpolated value (arrays: each element), so a value can never become
// shell syntax. The literal parts of the template are trusted code, the values never are.

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** POSIX single-quoting: the result is one word for sh, dash and bash alike. */
export function quote(arg: string): string {
  if (arg === "") return "''";
  if (SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'"'"'`)}'`;
}

type Arg = string | number | readonly (string | number)[];

/** A command line whose interpolated values are quoted: sh`wg show ${iface} public-key`. */
export function sh(strings: TemplateStringsArray, ...values: Arg[]): string {
  let out = strings[0];
  values.forEach((v, i) => {
    const parts = Array.isArray(v) ? v : [v];
    out += parts.map((p) => quote(String(p))).join(" ") + strings[i + 1];
  });
  return out;
}
