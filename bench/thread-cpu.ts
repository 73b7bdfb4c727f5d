/**
 * CPU time per thread of a process, grouped (Linux /proc/<pid>/task; elsewhere nothing):
 * the main thread (the ingress, in `flow serve all`), the worker thread (the other
 * services), the JIT compiler threads, the garbage collector's helpers, and the rest. The
 * tracing row (bench/tracing-row.ts) says with it where tracing's extra CPU goes.
 */
import { readdirSync, readFileSync } from "node:fs";

export const THREAD_GROUPS = ["main", "worker", "jit", "gc", "other"] as const;
export type ThreadGroup = (typeof THREAD_GROUPS)[number];
export type ThreadCpu = Record<ThreadGroup, number>;

const groupOf = (tid: string, pid: number, name: string): ThreadGroup =>
  tid === String(pid)
    ? "main"
    : name === "Worker"
      ? "worker"
      : name.startsWith("JIT")
        ? "jit"
        : name.startsWith("HeapHelper") || name.includes("ollector")
          ? "gc"
          : "other";

/** CPU ms used so far by each group of the process's threads (threads that ended are not counted), or undefined without /proc. */
export function threadCpuMs(pid: number): ThreadCpu | undefined {
  const ms: ThreadCpu = { main: 0, worker: 0, jit: 0, gc: 0, other: 0 };
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const name = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      // utime and stime (fields 14 and 15 of stat), in clock ticks of 10 ms.
      ms[groupOf(tid, pid, name)] += (Number(fields[11]) + Number(fields[12])) * 10;
    }
  } catch {
    return undefined;
  }
  return ms;
}

/** The CPU each group used between two readings, as shares of `totalUs` (the process's CPU per request). */
export function perRequest(before: ThreadCpu, after: ThreadCpu, totalUs: number): ThreadCpu {
  const used = THREAD_GROUPS.map((g) => Math.max(0, after[g] - before[g]));
  const sum = used.reduce((a, b) => a + b, 0) || 1;
  return Object.fromEntries(THREAD_GROUPS.map((g, i) => [g, (used[i]! / sum) * totalUs])) as ThreadCpu;
}
