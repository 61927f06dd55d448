// The live side of the smoke resource: plain file I/O, loaded at run time inside the provider process
// (see runtime.ts), the way pve-fabric's providers load their SSH and API layers.
import * as fs from "fs";

export interface FileState {
  path: string;
  content: string;
}

/** What is on disk now, or undefined when the file is gone. */
export function readLive(path: string): FileState | undefined {
  try {
    return { path, content: fs.readFileSync(path, "utf8") };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** Atomic write: temp file + rename, so a crash never leaves half a file. */
export function writeLive(path: string, content: string): FileState {
  const tmp = `${path}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.renameSync(tmp, path);
  return readLive(path)!;
}

export function removeLive(path: string): void {
  fs.rmSync(path, { force: true });
}
