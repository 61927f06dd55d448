// Secret fields (the API token secret, SSH private keys). A stack file holds them as `{ secure: <ciphertext> }`
// (written by `pulumi config set --secret`) or as `{ env: NAME }`, a reference resolved from the environment
// of the process that runs `pulumi up` (how the lab hands over what it generates; ADR 002). Plain text is
// refused: it would sit unencrypted in git and in the engine's config. Values never reach a Problem.
import { NAMESPACE, REDACTED, type Problem } from "./problems";

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

/** A decrypted secret that refuses to print itself: logs, JSON and errors show "[secret]". */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The plain value: call only where it is handed to `pulumi.secret` or to a connection. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "[secret]";
  }
  toJSON(): string {
    return "[secret]";
  }
  [INSPECT](): string {
    return "[secret]";
  }
}

export type SecretRef =
  /** `{ secure: ... }` read from the stack file: present, but only the engine can decrypt it. */
  | { readonly kind: "encrypted" }
  /** `{ env: NAME }`: read from the environment when the program runs. */
  | { readonly kind: "env"; readonly name: string }
  /** A value the engine already decrypted (the Pulumi program's view). */
  | { readonly kind: "value"; readonly value: Secret };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface SecretField {
  /** Top-level stack config key, e.g. "api" (for the engine's list of secret keys). */
  readonly key: string;
  /** Path below `pve-fabric:` in Pulumi's --path syntax, e.g. `nodes["pve1"].privateKey`. */
  readonly configPath: string;
  /** Problem path, e.g. `pve-fabric:nodes.pve1.privateKey`. */
  readonly path: string;
  readonly stack: string;
  /** What the secret is, for the message: "the API token secret". */
  readonly what: string;
}

function setCommand(f: SecretField): string {
  return `pulumi config set --secret --path '${f.configPath}' <value> --stack ${f.stack}`;
}

/**
 * Reads one secret field. `decryptedKeys` lists the top-level config keys the engine reports as secret:
 * a plain string under such a key was `{ secure: ... }` in the file and has been decrypted by the engine.
 */
export function readSecret(
  raw: unknown,
  f: SecretField,
  decryptedKeys: ReadonlySet<string>,
): { ref: SecretRef } | { problem: Problem } {
  if (raw === undefined || raw === null) {
    return {
      problem: {
        path: f.path,
        value: undefined,
        rule: `${f.what} is required and missing`,
        fix: `run \`${setCommand(f)}\`, or reference the environment: ${f.configPath.split(".").at(-1)}: { env: NAME }`,
      },
    };
  }
  if (typeof raw === "string") {
    if (decryptedKeys.has(`${NAMESPACE}:${f.key}`) && raw !== "") {
      return { ref: { kind: "value", value: new Secret(raw) } };
    }
    return {
      problem: {
        path: f.path,
        value: REDACTED,
        rule: `${f.what} is given in plain text; secrets must be stored encrypted`,
        fix: `run \`${setCommand(f)}\` (it replaces the plain value), then rotate the exposed secret`,
      },
    };
  }
  if (typeof raw === "object" && !Array.isArray(raw)) {
    const keys = Object.keys(raw);
    const o = raw as Record<string, unknown>;
    if (keys.length === 1 && typeof o.secure === "string" && o.secure !== "")
      return { ref: { kind: "encrypted" } };
    if (keys.length === 1 && typeof o.env === "string" && ENV_NAME.test(o.env)) {
      return { ref: { kind: "env", name: o.env } };
    }
  }
  return {
    problem: {
      path: f.path,
      value: REDACTED,
      rule: `${f.what} must be { secure: <ciphertext> } (set by pulumi) or { env: NAME } (an environment variable)`,
      fix: `run \`${setCommand(f)}\``,
    },
  };
}

/** The value behind a reference at run time; undefined when the stack file's ciphertext was not decrypted. */
export function resolveSecret(
  ref: SecretRef,
  env: Readonly<Record<string, string | undefined>>,
): Secret | undefined {
  if (ref.kind === "value") return ref.value;
  if (ref.kind === "env") {
    const v = env[ref.name];
    return v ? new Secret(v) : undefined;
  }
  return undefined;
}
