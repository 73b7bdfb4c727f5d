import { sql } from "kysely";
import { type ReadModel, rawSqlite } from "../../../lib/read-model/database.ts";
import type { OverviewView, OverviewWindow } from "./schemas.ts";

const MINUTE = 60_000;
/** Each window's length and bucket width. */
export const WINDOWS: Record<OverviewWindow, { ms: number; bucketMs: number }> = {
  hour: { ms: 60 * MINUTE, bucketMs: 5 * MINUTE },
  day: { ms: 24 * 60 * MINUTE, bucketMs: 60 * MINUTE },
  week: { ms: 7 * 24 * 60 * MINUTE, bucketMs: 6 * 60 * MINUTE },
};

/** Runs whose step ended on its own (not canceled or superseded, not still queued or running): the failure rate's denominator. */
const ENDED_ON_ITS_OWN: ReadonlySet<string> = new Set(["completed", "failed", "timed_out"]);
/** Effective statuses counted as failures. */
const FAILED: ReadonlySet<string> = new Set(["failed", "timed_out"]);

/**
 * The overview over runs created in [now - window, now): counts by effective status per
 * bucket, per flow the failure rate and duration percentiles, and the queues and hosts
 * as they are now. Two passes over the runs_overview index (covering: a window reads
 * no table rows): the counts, then the sorted durations; queued and running over runs_now.
 */
export async function overview(db: ReadModel, window: OverviewWindow, now: Date): Promise<OverviewView> {
  const { ms, bucketMs } = WINDOWS[window];
  const sinceMs = now.getTime() - ms;
  const since = new Date(sinceMs).toISOString();
  const until = now.toISOString();

  const bucket = sql<number>`cast((julianday(created_at) - julianday(${since})) * ${86_400_000 / bucketMs} as integer)`;
  const rows = await db
    .selectFrom("runs")
    .select([bucket.as("b"), "flow_name", "status", "result_status", (eb) => eb.fn.countAll<number>().as("n")])
    .where("created_at", ">=", since)
    .where("created_at", "<", until)
    .groupBy(["b", "flow_name", "status", "result_status"])
    .execute();
  const count = Math.ceil(ms / bucketMs);
  const buckets = Array.from({ length: count }, (_, i) => ({
    start: new Date(sinceMs + i * bucketMs).toISOString(),
    counts: {} as Record<string, number>,
  }));
  const totals: Record<string, number> = {};
  const perFlow = new Map<string, { runs: number; finished: number; failed: number }>();
  for (const row of rows) {
    const n = Number(row.n);
    const shown = row.result_status ?? row.status;
    const at = buckets[Math.min(Math.max(Number(row.b), 0), count - 1)]!;
    at.counts[shown] = (at.counts[shown] ?? 0) + n;
    totals[shown] = (totals[shown] ?? 0) + n;
    const flow = perFlow.get(row.flow_name) ?? { runs: 0, finished: 0, failed: 0 };
    perFlow.set(row.flow_name, flow);
    flow.runs += n;
    if (ENDED_ON_ITS_OWN.has(row.status)) {
      flow.finished += n;
      if (FAILED.has(shown)) flow.failed += n;
    }
  }

  // Nearest rank: the value at position ceil(p × n) of each flow's sorted durations. Sorted
  // by SQLite and read as bare rows (cheaper than two window functions over the same sort).
  const sorted = rawSqlite(db)
    .query(
      "select flow_name, duration_ms from runs where created_at >= ? and created_at < ? and duration_ms is not null order by flow_name, duration_ms",
    )
    .values(since, until) as [string, number][];
  const percentiles = new Map<string, { p50: number; p95: number }>();
  for (let start = 0; start < sorted.length; ) {
    const flow = sorted[start]![0];
    let end = start;
    while (end < sorted.length && sorted[end]![0] === flow) end++;
    const at = (p: number) => sorted[start + Math.ceil((p / 100) * (end - start)) - 1]![1];
    percentiles.set(flow, { p50: at(50), p95: at(95) });
    start = end;
  }
  const flows = [...perFlow]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([flow, { runs, finished, failed }]) => {
      const p = percentiles.get(flow);
      return {
        flow,
        runs,
        finished,
        failed,
        failureRate: finished === 0 ? null : failed / finished,
        p50Ms: p?.p50 ?? null,
        p95Ms: p?.p95 ?? null,
      };
    });

  const queueRows = await db
    .selectFrom("runs")
    .select([
      "queue",
      (eb) => eb.fn.countAll<number>().as("queued"),
      sql<number>`sum(held_reason is not null)`.as("held"),
      (eb) => eb.fn.min("created_at").as("oldest"),
    ])
    .where("status", "=", "queued")
    .groupBy("queue")
    .orderBy("queue")
    .execute();
  const hostRows = await db
    .selectFrom("runs")
    .select(["host", (eb) => eb.fn.countAll<number>().as("running")])
    .where("status", "=", "running")
    .where("host", "is not", null)
    .groupBy("host")
    .orderBy("host")
    .execute();
  return {
    window,
    since,
    until,
    bucketMs,
    buckets,
    totals,
    flows,
    queues: queueRows.map((r) => ({
      queue: r.queue,
      queued: Number(r.queued),
      held: Number(r.held ?? 0),
      oldestQueuedAt: (r.oldest as string | null) ?? null,
    })),
    hosts: hostRows.map((r) => ({ host: r.host!, running: Number(r.running) })),
  };
}
