// How a provider failure reaches the user: its message once, without a JavaScript stack trace, unless asked.
//
// What the engine does with a thrown error (read in @pulumi/pulumi's cmd/dynamic-provider/index.js, the
// launcher scripts/bootstrap.sh copies as-is, and observed under the real engine): for a failed check, diff,
// read or delete the launcher first writes `console.error(`${e}: ${e.stack}`)` to the provider's stderr and
// then answers the engine with a gRPC status whose message is e.message; for create and update it only
// answers (grpcResponseFromError). The engine prints the status under the resource ("error: <message>") and
// every stderr line of the provider under the stack, live: "Error: <message>: Error: <message>" followed by
// the frames ("at unable (…/providers/host/errors.ts:94:13)"). That stderr line is the duplicate. The
// launcher is the SDK's and cannot change, but it writes through this process's console: for an error that
// passed through `forEngine`, exactly that line is dropped, and the message reaches the user once, from the
// engine.
//
// PVE_FABRIC_DEBUG=1 prints the stack trace (with every cause) for each failure, once, on the provider's
// stderr. An error of the JavaScript runtime (TypeError, …) anywhere in the cause chain is a bug in
// pve-fabric, not something the user can fix: its message says so and how to see the trace.
//
// Runs in the provider process, loaded through providers/runtime.ts (host/lifecycle.ts, pve/ops/index.ts).

export const DEBUG_ENV = "PVE_FABRIC_DEBUG";

const BUG_TYPES = [TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError];

function debugging(): boolean {
  return /^(1|true|yes|on)$/i.test(process.env[DEBUG_ENV] ?? "");
}

/** True when the failure is a bug: a runtime error somewhere in the cause chain, or a thrown non-Error. */
export function isBug(e: unknown): boolean {
  if (!(e instanceof Error)) return true;
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 16; c = c.cause, depth++)
    if (BUG_TYPES.some((T) => c instanceof T)) return true;
  return false;
}

/** The stack of an error and of each of its causes, for the debug switch. */
export function fullStack(e: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = e, depth = 0; c !== undefined && depth < 16; depth++) {
    parts.push(c instanceof Error ? (c.stack ?? String(c)) : String(c));
    c = c instanceof Error ? c.cause : undefined;
  }
  return parts.join("\nCaused by: ");
}

// Lines the launcher is about to print for errors we already hand to the engine.
const pending = new Set<string>();
let original: typeof console.error | undefined;

function installFilter(): void {
  if (original) return;
  original = console.error.bind(console);
  console.error = (...args: unknown[]) => {
    if (args.length === 1 && typeof args[0] === "string" && pending.delete(args[0])) return;
    original!(...args);
  };
}

/** The error to give the engine for the failure `e` of a provider method. */
export function forEngine(e: unknown): Error {
  const out = isBug(e)
    ? new Error(
        `${e instanceof Error ? e.message : String(e)} (a bug in pve-fabric: run with ${DEBUG_ENV}=1 to ` +
          "see its stack trace, and report it)",
        { cause: e },
      )
    : (e as Error);
  installFilter();
  // The launcher prints `${e}: ${e.stack}` within the same turn of the event loop (only promise jobs lie
  // between our throw and its catch); the second is a bound in case it never does (create, update).
  const line = `${String(out)}: ${out.stack}`;
  pending.add(line);
  setTimeout(() => pending.delete(line), 1000).unref();
  if (debugging()) original!(`[${DEBUG_ENV}] ${fullStack(out)}`);
  return out;
}

type Methods = Record<string, (...args: never[]) => Promise<unknown>>;

/** The provider methods, each reporting its failure through `forEngine`. */
export function reported<T extends object>(methods: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(methods as Methods))
    out[name] = async (...args: never[]) => {
      try {
        return await f(...args);
      } catch (e) {
        throw forEngine(e);
      }
    };
  return out as T;
}
