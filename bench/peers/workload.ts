/**
 * The peer rows' workload, the same for every system: 2 warm-up jobs, 30 single jobs one
 * at a time (latency from submit to completed), then bursts of 200 and 2,000 jobs with
 * 200 in flight (the time from the first submit to the last completion). Around each phase
 * the CPU the system's own processes used (from /proc; steps excluded: a process's
 * utime/stime leave out its children's).
 */
import { readFileSync } from "node:fs";

export const WARMUP = 2;
export const SINGLES = 30;
export const BURSTS = [200, 2000] as const;
export const IN_FLIGHT = 200;
/** Steps run at most this many at a time on every system (our executor's default on 2 cores). */
export const STEP_SLOTS = 4;

export type Phase = { count: number; elapsedMs: number; cpuMs: number; latenciesMs: number[] };
export type PeerReport = { idleRssMb?: number; byProcessIdle?: Record<string, number>; single: Phase; bursts: Phase[] };

/** Runs `count` jobs with at most `limit` at a time; the latency of each. */
export async function inFlight(count: number, limit: number, job: () => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  let left = count;
  const worker = async () => {
    while (left-- > 0) {
      const started = performance.now();
      await job();
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return latencies;
}

/** One phase: `count` jobs, `limit` in flight, with the CPU `cpu()` says was used meanwhile. */
export async function phase(count: number, limit: number, job: () => Promise<void>, cpu: () => number): Promise<Phase> {
  const cpuBefore = cpu();
  const started = performance.now();
  const latenciesMs = await inFlight(count, limit, job);
  return { count, elapsedMs: performance.now() - started, cpuMs: cpu() - cpuBefore, latenciesMs };
}

/** The whole workload against one system whose job is `job` (each call submits a new job and waits for it). */
export async function runWorkload(
  job: () => Promise<void>,
  cpu: () => number,
  log: (line: string) => void,
): Promise<Pick<PeerReport, "single" | "bursts">> {
  await inFlight(WARMUP, 1, job);
  const single = await phase(SINGLES, 1, job, cpu);
  const bursts: Phase[] = [];
  for (const count of BURSTS) {
    log(`burst of ${count}, ${IN_FLIGHT} in flight`);
    bursts.push(await phase(count, IN_FLIGHT, job, cpu));
  }
  return { single, bursts };
}

/** A limit of `slots` at a time: `run` waits for a free slot. */
export function slots(limit: number): <T>(work: () => Promise<T>) => Promise<T> {
  let busy = 0;
  const waiting: (() => void)[] = [];
  return async (work) => {
    if (busy >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else busy++;
    try {
      return await work();
    } finally {
      const wake = waiting.shift();
      if (wake) wake();
      else busy--;
    }
  };
}

/** Resident memory (VmRSS, MB) of one process and its name, from /proc; undefined when it is gone. */
export function rssMb(pid: number): { name: string; mb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return {
      name: /Name:\s+(\S+)/.exec(status)?.[1] ?? "?",
      mb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024,
    };
  } catch {
    return undefined;
  }
}
