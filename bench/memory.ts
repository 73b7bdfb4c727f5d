/**
 * Row memory: the resident memory of `flow dev` and everything it starts (its own
 * nats-server included), idle and after each of BURSTS bursts of events no flow matches
 * (BURSTS x BURST_EVENTS events in all), each burst waited out until the projector has
 * caught up. A leak shows as growth after the first burst.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../lib/nats/nats-server.ts";
import type { LoadReport } from "./load.ts";
import { runJson, startServer, waitHealthy } from "./procs.ts";
import { catchUp, progress, serviceEnv, tempDir } from "./rows.ts";
import { round } from "./stats.ts";
import type { Row } from "./table.ts";

const ROOT = join(import.meta.dir, "..");
export const BURSTS = 5;
export const BURST_EVENTS = 20_000;
/** Idle: the whole tree under this. Flat: after the last burst at most this much above after the first. */
export const IDLE_RSS_MB = 120;
export const GROWTH_MB = 15;

export type MemoryFigures = {
  idleMb: number;
  byProcessIdle: Record<string, number>;
  afterBurstMb: number[];
  byProcessAfter: Record<string, number>[];
  eventsPerBurst: number;
  errors: number;
  failures: string[];
};

/** `root` and the pids of every process descended from it, from /proc. */
export function processTree(root: number): Set<number> {
  const parents = new Map<number, number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) if (!tree.has(pid) && tree.has(ppid)) grew = Boolean(tree.add(pid));
  }
  return tree;
}

/** VmRSS (MB) of `root` and every descendant, by "pid command". */
export function treeRss(root: number): Record<string, number> {
  const tree = processTree(root);
  const out: Record<string, number> = {};
  for (const pid of tree) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      const name = /Name:\s+(\S+)/.exec(status)?.[1] ?? "?";
      out[`${pid} ${name}`] = kb / 1024;
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const byName = (rss: Record<string, number>) =>
  Object.fromEntries(Object.entries(rss).map(([k, v]) => [k.replace(/^\d+ /, ""), round(v)]));
const total = (rss: Record<string, number>) => Object.values(rss).reduce((a, b) => a + b, 0);

export async function measureMemory(): Promise<MemoryFigures> {
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    ...serviceEnv("", port, "memory", tempDir("memory-cwd")),
    NATS_URL: undefined,
    CODEX_FLOW_LOG: "warn",
  };
  const dev = startServer("dev-memory", [process.execPath, join(ROOT, "bin", "flow.ts"), "dev"], env, ROOT);
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitHealthy(dev, `${url}/healthz`, 30_000);
    await Bun.sleep(3_000);
    const idle = treeRss(dev.proc.pid);
    progress(
      `memory: flow dev idle ${round(total(idle))} MB (${Object.entries(idle)
        .map(([k, v]) => `${k} ${round(v)}`)
        .join(", ")}); ${BURSTS} bursts of ${BURST_EVENTS} events`,
    );
    const afterBurstMb: number[] = [];
    const byProcessAfter: Record<string, number>[] = [];
    let errors = 0;
    const failures: string[] = [];
    for (let i = 0; i < BURSTS; i++) {
      const report = await runJson<LoadReport>(
        `load-memory-${i}`,
        [
          process.execPath,
          join(import.meta.dir, "load.ts"),
          "--url",
          `${url}/events`,
          "--count",
          String(BURST_EVENTS),
          "--concurrency",
          "16",
        ],
        { ...process.env, BENCH_SECRET: env.CODEX_FLOW_BACKEND_SECRET },
      );
      errors += report.errors;
      failures.push(...report.failures.slice(0, 2));
      await catchUp(url);
      const rss = treeRss(dev.proc.pid);
      afterBurstMb.push(total(rss));
      byProcessAfter.push(byName(rss));
      progress(`memory: after burst ${i + 1}: ${round(afterBurstMb.at(-1)!)} MB`);
    }
    return {
      idleMb: total(idle),
      byProcessIdle: byName(idle),
      afterBurstMb,
      byProcessAfter,
      eventsPerBurst: BURST_EVENTS,
      errors,
      failures,
    };
  } finally {
    await dev.stop();
  }
}

/** Two rows: idle, and after all bursts (flat after the first?). */
export function memoryRows(m: MemoryFigures): Row[] {
  const invalid = m.errors > 0 ? { verdict: "INVALID" as const, failures: m.failures } : undefined;
  const idleNote = `flow dev + its nats-server, 3 s after ready: ${Object.entries(m.byProcessIdle)
    .map(([k, v]) => `${k} ${v} MB`)
    .join(", ")}`;
  const growth = m.afterBurstMb.at(-1)! - m.afterBurstMb[0]!;
  const events = m.eventsPerBurst * m.afterBurstMb.length;
  const burstNote = `after each burst of ${m.eventsPerBurst} events (projector caught up): ${m.afterBurstMb.map((x) => round(x)).join(", ")} MB; growth after the first ${round(growth)} MB; by process after the first and the last: ${JSON.stringify(m.byProcessAfter[0])}, ${JSON.stringify(m.byProcessAfter.at(-1))}${m.errors ? `; ${m.errors} requests failed` : ""}`;
  return [
    {
      row: "memory idle (MB)",
      rps: m.idleMb,
      target: `<${IDLE_RSS_MB} MB`,
      verdict: m.idleMb < IDLE_RSS_MB ? "ok" : "MISSED",
      note: idleNote,
    },
    {
      row: `memory ${round(events / 1000)}k events (MB)`,
      rps: m.afterBurstMb.at(-1)!,
      target: `+<${GROWTH_MB} after 1st`,
      verdict: growth < GROWTH_MB ? "ok" : "MISSED",
      note: burstNote,
      ...invalid,
    },
  ];
}
