import type { Database as Sqlite } from "bun:sqlite";
import { sql } from "kysely";
import { type ReadModel, rawSqlite } from "../../../lib/read-model/database.ts";
import { addDurations, HOUR_MS, histogramPercentiles, periodCounts, periodHistograms } from "./rollup.ts";
import type { OverviewView, OverviewWindow } from "./schemas.ts";

type Percentiles = Map<string, { p50: number | null; p95: number | null }>;

/** Nearest rank: the value at position ceil(p × n) of each flow's sorted durations. */
function exact(sorted: [string, number][]): Percentiles {
  const percentiles: Percentiles = new Map();
  for (let start = 0; start < sorted.length; ) {
    const flow = sorted[start]![0];
    let end = start;
    while (end < sorted.length && sorted[end]![0] === flow) end++;
    const at = (p: number) => sorted[start + Math.ceil((p / 100) * (end - start)) - 1]![1];
    percentiles.set(flow, { p50: at(50), p95: at(95) });
    start = end;
  }
  return percentiles;
}

/** From the rollup's duration buckets of the whole hours [fromMs, toMs) and the durations of the hour under way. */
function bucketed(sqlite: Sqlite, fromMs: number, toMs: number, durations: [string, number][]): Percentiles {
  const histograms = periodHistograms(sqlite, fromMs, toMs);
  addDurations(sqlite, histograms, durations);
  const percentiles: Percentiles = new Map();
  for (const [flow, histogram] of histograms) {
    const [p50, p95] = histogramPercentiles(sqlite, histogram, [50, 95]);
    percentiles.set(flow, { p50: p50 ?? null, p95: p95 ?? null });
  }
  return percentiles;
}

const MINUTE = 60_000;
/**
 * Each window's length and bucket width, and the rollup periods it reads its counts in
 * (none: an hour reads its runs, a few thousand at most). A day or a week starts at the
 * next whole bucket (an hour; 6 hours from 00, 06, 12 or 18 UTC), so each bucket is whole
 * periods of the rollup, and reads the runs of the hour under way.
 */
export const WINDOWS: Record<OverviewWindow, { ms: number; bucketMs: number; counts: readonly ("h" | "q")[] }> = {
  hour: { ms: 60 * MINUTE, bucketMs: 5 * MINUTE, counts: [] },
  day: { ms: 24 * 60 * MINUTE, bucketMs: 60 * MINUTE, counts: ["h"] },
  week: { ms: 7 * 24 * 60 * MINUTE, bucketMs: 6 * 60 * MINUTE, counts: ["q", "h"] },
};

/** Runs whose step ended on its own (not canceled or superseded, not still queued or running): the failure rate's denominator. */
const ENDED_ON_ITS_OWN: ReadonlySet<string> = new Set(["completed", "failed", "timed_out"]);
/** Effective statuses counted as failures. */
const FAILED: ReadonlySet<string> = new Set(["failed", "timed_out"]);

/**
 * The overview over runs created in [since, now): counts by effective status per bucket,
 * per flow the failure rate and duration percentiles, and the queues and hosts as they are
 * now. The hour window reads its runs over the runs_overview index (covering) and its
 * percentiles are exact; a day or a week reads the rollup's whole periods and the runs of
 * the hour under way, and its percentiles come from the duration buckets (rollup.ts:
 * at most 4.5% over the exact value). Queued and running over runs_now.
 */
export async function overview(db: ReadModel, window: OverviewWindow, now: Date): Promise<OverviewView> {
  const { ms, bucketMs, counts } = WINDOWS[window];
  const rollup = counts.length > 0;
  const sqlite = rawSqlite(db);
  const untilMs = now.getTime();
  const sinceMs = rollup ? Math.ceil((untilMs - ms) / bucketMs) * bucketMs : untilMs - ms;
  const since = new Date(sinceMs).toISOString();
  const until = now.toISOString();
  /** Where the runs are read from: the whole window, or the hour under way. */
  const rawFromMs = rollup ? Math.max(sinceMs, Math.floor(untilMs / HOUR_MS) * HOUR_MS) : sinceMs;
  const rawFrom = new Date(rawFromMs).toISOString();

  const count = Math.ceil(ms / bucketMs);
  const buckets = Array.from({ length: count }, (_, i) => ({
    start: new Date(sinceMs + i * bucketMs).toISOString(),
    counts: {} as Record<string, number>,
  }));
  const totals: Record<string, number> = {};
  const perFlow = new Map<string, { runs: number; finished: number; failed: number }>();
  const tally = (at: number, flow: string, status: string, shown: string, n: number) => {
    const bucket = buckets[Math.min(Math.max(Math.floor((at - sinceMs) / bucketMs), 0), count - 1)]!;
    bucket.counts[shown] = (bucket.counts[shown] ?? 0) + n;
    totals[shown] = (totals[shown] ?? 0) + n;
    const row = perFlow.get(flow) ?? { runs: 0, finished: 0, failed: 0 };
    perFlow.set(flow, row);
    row.runs += n;
    if (ENDED_ON_ITS_OWN.has(status)) {
      row.finished += n;
      if (FAILED.has(shown)) row.failed += n;
    }
  };
  if (rollup)
    for (const row of periodCounts(sqlite, sinceMs, rawFromMs, counts))
      tally(row.at, row.flow, row.status, row.effective, row.n);
  // Over runs_overview by name: with the planner's statistics of a big read model it took
  // another index (flow first) and read the window flow by flow, three times slower.
  const rows = sqlite
    .query(
      `select cast((julianday(created_at) - julianday(?)) * ${86_400_000 / bucketMs} as integer), flow_name, status, result_status, count(*)
       from runs indexed by runs_overview where created_at >= ? and created_at < ? group by 1, 2, 3, 4`,
    )
    .values(since, rawFrom, until) as [number, string, string, string | null, number][];
  for (const [b, flow, status, resultStatus, n] of rows)
    tally(sinceMs + b * bucketMs, flow, status, resultStatus ?? status, n);

  // Sorted by SQLite and read as bare rows (cheaper than two window functions over the same sort).
  const sorted = sqlite
    .query(
      "select flow_name, duration_ms from runs indexed by runs_overview where created_at >= ? and created_at < ? and duration_ms is not null order by flow_name, duration_ms",
    )
    .values(rawFrom, until) as [string, number][];
  const percentiles = rollup ? bucketed(sqlite, sinceMs, rawFromMs, sorted) : exact(sorted);
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
