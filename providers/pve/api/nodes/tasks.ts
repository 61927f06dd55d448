// /nodes/{node}/tasks (§5). A UPID names the node that runs the task (field 2): always poll THAT node,
// whichever node served the call that started it.
import { PveError, PveNotFound, PveTaskFailed } from "../../errors";
import type { Transport } from "../../transport";

export interface TaskStatus {
  upid: string;
  node: string;
  type: string;
  status: "running" | "stopped";
  exitstatus?: string;
}

export interface TaskResult {
  upid: string;
  node: string;
  exitstatus: string;
  /** n of "WARNINGS: n" (0 for OK). */
  warnings: number;
}

export interface ParsedUpid {
  node: string;
  type: string;
  id: string;
  user: string;
}

/** `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:` */
export function parseUpid(upid: string): ParsedUpid {
  const m = /^UPID:([^:]+):[0-9A-Fa-f]{8}:[0-9A-Fa-f]{8,9}:[0-9A-Fa-f]{8}:([^:]+):([^:]*):([^:]+):$/.exec(
    upid,
  );
  if (!m)
    throw new PveError(
      `'${upid}' is not a PVE task id (UPID:<node>:<pid>:<pstart>:<time>:<type>:<id>:<user>:)`,
    );
  return { node: m[1], type: m[2], id: m[3], user: m[4] };
}

export interface WaitOptions {
  timeoutMs?: number;
  /** First poll interval; grows to 1 s. */
  pollMs?: number;
  /** Lines of the task log to attach to a failure. */
  logLines?: number;
}

export class Tasks {
  constructor(private readonly t: Transport) {}

  status(upid: string): Promise<TaskStatus> {
    const { node } = parseUpid(upid);
    return this.t.get<TaskStatus>(
      `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/status`,
    );
  }

  async log(upid: string, limit = 50): Promise<string[]> {
    const { node } = parseUpid(upid);
    const lines = await this.t.get<{ n: number; t: string }[]>(
      `/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/log`,
      { start: 0, limit: 10000 },
    );
    return lines.map((l) => l.t).slice(-limit);
  }

  /** Recent tasks of a node, newest first (`typefilter`, `since` epoch seconds). */
  list(
    node: string,
    params: { typefilter?: string; since?: number; limit?: number } = {},
  ): Promise<TaskStatus[]> {
    return this.t.get<TaskStatus[]>(`/nodes/${encodeURIComponent(node)}/tasks`, { source: "all", ...params });
  }

  /**
   * Polls until the task stops. OK and "WARNINGS: n" succeed; anything else throws PveTaskFailed with the
   * log tail. Right after creation the status call may answer 400 "no such task" — polled through.
   */
  async wait(upid: string, opts: WaitOptions = {}): Promise<TaskResult> {
    const { node, type } = parseUpid(upid);
    const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
    let delay = opts.pollMs ?? 100;
    for (;;) {
      let st: TaskStatus | undefined;
      try {
        st = await this.status(upid);
      } catch (e) {
        if (!(e instanceof PveNotFound)) throw e;
      }
      if (st?.status === "stopped") {
        const exit = st.exitstatus ?? "unexpected status";
        const warn = /^WARNINGS: (\d+)/.exec(exit);
        if (exit === "OK" || warn)
          return { upid, node, exitstatus: exit, warnings: warn ? Number(warn[1]) : 0 };
        const tail = await this.log(upid, opts.logLines ?? 20).catch(() => []);
        throw new PveTaskFailed(
          `task ${type} on node ${node} failed: ${exit}${tail.length ? `\n  log: ${tail.join("\n  log: ")}` : ""}`,
          upid,
          node,
          exit,
          tail,
        );
      }
      if (Date.now() > deadline)
        throw new PveError(
          `task ${type} on node ${node} still ${st?.status ?? "unknown"} after timeout (${upid})`,
        );
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 1000);
    }
  }
}
