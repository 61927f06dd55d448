// Loading project code inside dynamic-provider methods.
//
// The engine serialises each provider object *by value* into the resource's state, deep-copying every local
// module the methods capture; a module that holds state (the SSH connection pool) would then exist once per
// provider instead of once per process (DESIGN §3.3). So provider methods capture no project module: they call
// loadRuntime("providers/host/ssh") and get the one instance that the provider process's module cache holds.
// This function itself is captured by value, so it must stay self-contained (no imports, no outer names).

/** require() a project module, by path from the repo root, from inside a provider method. */
export function loadRuntime<T = unknown>(relPath: string): T {
  const path = require("path");
  const fs = require("fs");
  // The provider process runs plain Node with cwd = the Pulumi program directory; the repo root is the
  // nearest ancestor whose package.json is ours.
  let root = process.cwd();
  for (;;) {
    const pkg = path.join(root, "package.json");
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, "utf8")).name === "pve-fabric") break;
    const up = path.dirname(root);
    if (up === root) throw new Error(`pve-fabric: no pve-fabric package.json above ${process.cwd()}`);
    root = up;
  }
  const g = globalThis as { __pveFabricTsNode?: boolean };
  if (!g.__pveFabricTsNode) {
    // Our sources are TypeScript and the provider process has no loader for it.
    require("ts-node").register({ transpileOnly: true, project: path.join(root, "tsconfig.json") });
    g.__pveFabricTsNode = true;
  }
  return require(path.join(root, relPath)) as T;
}
