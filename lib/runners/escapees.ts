import { readdirSync, readFileSync } from "node:fs";

/**
 * Finds the processes a direct step started that left its process group: a `setsid()`
 * (or a double fork) takes a process out of the group the executor kills, and once its
 * parent exits nothing links it to the step any more but what it inherited. Two marks
 * are followed, read from /proc: parentage (every descendant of a group member, found
 * while the parents still live) and the environment (a process whose environment holds
 * the nonce of the step's launch, CODEX_FLOW_LAUNCH_ID: a run id and attempt are not
 * unique on a host that runs two systems fed the same events). A process that both outlives its
 * parents and scrubs its environment is not found; systemd-run's cgroup catches even
 * that (docs/runners.md). Neither can be a process started before the step, so only the
 * pids handed out since the step's own (`since`: stepStart) are read at all: reading
 * every process's /proc files on each step's end was a fifth of a busy executor's CPU
 * (docs/performance.md).
 */
export function escapedProcesses(group: number, marker: Record<string, string>, since?: StepStart): number[] {
  const procs = readProcs(since);
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
    if (p.pgid === group || found.has(p.pid) || p.pid === process.pid) continue;
    if (environHolds(p.pid, wanted)) found.add(p.pid);
  }
  return [...found];
}

type Proc = { pid: number; ppid: number; pgid: number };

/** A step's start: its pid and the host's fork count then. */
export type StepStart = { pid: number; forks?: number };

/** Read right after the step is spawned. */
export function stepStart(pid: number): StepStart {
  return { pid, forks: forkCount() };
}

/**
 * Which pids can belong to processes started since `since.pid` was: Linux hands out pids
 * in rising order, wrapping at pid_max, so they lie on the circular stretch from the
 * step's pid to the last one handed out, as long as fewer pids than pid_max went since
 * (the host's fork count, which counts threads too, tells). Undefined (every pid) when
 * that cannot be known. A pid on the stretch may still be an older process's from before
 * a wrap: it cannot descend from the step or hold its marker, so reading it costs a little
 * and finds nothing.
 */
export function pidsSince(
  since: StepStart,
  now: { lastPid?: number; forks?: number; pidMax?: number },
): ((pid: number) => boolean) | undefined {
  const { lastPid, forks, pidMax } = now;
  if (lastPid === undefined || forks === undefined || pidMax === undefined || since.forks === undefined)
    return undefined;
  if (forks - since.forks >= pidMax - RESERVED_PIDS) return undefined;
  const first = since.pid;
  return first <= lastPid ? (pid) => pid >= first && pid <= lastPid : (pid) => pid >= first || pid <= lastPid;
}

/** Pids below this are not handed out again after a wrap (the kernel's RESERVED_PIDS). */
const RESERVED_PIDS = 300;

function forkCount(): number | undefined {
  try {
    const count = Number(/^processes (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
    return Number.isSafeInteger(count) ? count : undefined;
  } catch {
    return undefined;
  }
}

function readNumber(path: string): number | undefined {
  try {
    const value = Number(readFileSync(path, "utf8").trim());
    return Number.isSafeInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The fields of a /proc/PID/stat line after "pid (comm) ": comm may hold spaces and parentheses, so read after the last ")". */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

function readProcs(since?: StepStart): Proc[] {
  const procs: Proc[] = [];
  const names = readdirSync("/proc");
  // Read after the listing, so every pid listed was handed out by then.
  const candidate =
    since &&
    pidsSince(since, {
      lastPid: readNumber("/proc/sys/kernel/ns_last_pid"),
      forks: forkCount(),
      pidMax: readNumber("/proc/sys/kernel/pid_max"),
    });
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    if (candidate && !candidate(Number(name))) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = statFields(stat);
      procs.push({ pid: Number(name), ppid: Number(fields[1]), pgid: Number(fields[2]) });
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
