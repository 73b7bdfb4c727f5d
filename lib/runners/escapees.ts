import { readdirSync, readFileSync } from "node:fs";

/**
 * Finds the processes a direct step started that left its process group: a `setsid()`
 * (or a double fork) takes a process out of the group the executor kills, and once its
 * parent exits nothing links it to the step any more but what it inherited. Two marks
 * are followed, read from /proc: parentage (every descendant of a group member, found
 * while the parents still live) and the environment (a process whose environment holds
 * the step's CODEX_FLOW_RUN_ID and CODEX_FLOW_ATTEMPT). A process that both outlives its
 * parents and scrubs its environment is not found; systemd-run's cgroup catches even
 * that (docs/runners.md). Only processes started no earlier than `bornAfter` (the step's
 * own start, in clock ticks since boot: startTicks) have their environment read: one
 * started before the step cannot hold its marker, and reading every process's
 * environment on each step's end was a fifth of a busy executor's CPU (docs/performance.md).
 */
export function escapedProcesses(group: number, marker: Record<string, string>, bornAfter = 0): number[] {
  const procs = readProcs();
  const found = new Set<number>();
  const inTree = new Set(procs.filter((p) => p.pgid === group).map((p) => p.pid));
  // Descendants by parent pid, to a fixed point (bounded: each round adds a process or ends).
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) {
      if (!inTree.has(p.pid) && inTree.has(p.ppid)) {
        inTree.add(p.pid);
        grew = true;
      }
    }
  }
  for (const p of procs) if (inTree.has(p.pid) && p.pgid !== group) found.add(p.pid);
  const wanted = Object.entries(marker).map(([name, value]) => `${name}=${value}`);
  for (const p of procs) {
    if (p.pgid === group || found.has(p.pid) || p.pid === process.pid || p.start < bornAfter) continue;
    if (environHolds(p.pid, wanted)) found.add(p.pid);
  }
  return [...found];
}

type Proc = { pid: number; ppid: number; pgid: number; start: number };

/** When process `pid` started, in clock ticks since boot (/proc/PID/stat field 22); 0 when it cannot be read. */
export function startTicks(pid: number): number {
  try {
    return Number(statFields(readFileSync(`/proc/${pid}/stat`, "utf8"))[19]) || 0;
  } catch {
    return 0;
  }
}

/** The fields of a /proc/PID/stat line after "pid (comm) ": comm may hold spaces and parentheses, so read after the last ")". */
function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

function readProcs(): Proc[] {
  const procs: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = statFields(stat);
      procs.push({ pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]), start: Number(fields[19]) });
    } catch {
      // Gone between the listing and the read.
    }
  }
  return procs;
}

function environHolds(pid: number, wanted: string[]): boolean {
  try {
    const entries = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    return wanted.every((entry) => entries.includes(entry));
  } catch {
    return false; // another user's process, or gone
  }
}
