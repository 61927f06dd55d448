// Kept for stacks deployed before the check's provider moved to providers/check/: their state holds a
// serialised provider that loads this path (providers/runtime.ts loadRuntime("components/check-ops")) for
// `refresh`, `destroy`, and a failed update's next run. It serves the same provider.
export { provider } from "../providers/check/provider";
