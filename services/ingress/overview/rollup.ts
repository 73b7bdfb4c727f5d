import type { Database as Sqlite } from "bun:sqlite";

/**
 * Reads of the overview's rollup (migration 2026-12-08-4-rollup): run counts per hour,
 * duration histograms per hour and per day, and percentiles from them. Times are ISO
 * strings cut to the hour (`YYYY-MM-DDTHH`) or the day (`YYYY-MM-DD`), as the rollup keys them.
 */

export const HOUR_MS = 3_600_000;
/** The rollup's periods: an hour, 6 hours (from 00, 06, 12, 18 UTC), a day. */
export const LEVEL_MS = { h: HOUR_MS, q: 6 * HOUR_MS, d: 24 * HOUR_MS } as const;
type Level = keyof typeof LEVEL_MS;
const periodKey = (level: Level, ms: number) => new Date(ms).toISOString().slice(0, level === "d" ? 10 : 13);

/** [fromMs, toMs) (both on the hour) as runs of whole periods of `levels` (largest first), each the largest that fits where it starts. */
export function pieces(
  fromMs: number,
  toMs: number,
  levels: readonly Level[],
): { level: Level; from: string; to: string }[] {
  const out: { level: Level; fromMs: number; toMs: number }[] = [];
  // Bounded: each step moves on by at least an hour.
  for (let at = fromMs; at < toMs; ) {
    const level = levels.find((l) => at % LEVEL_MS[l] === 0 && at + LEVEL_MS[l] <= toMs) ?? "h";
    const last = out.at(-1);
    if (last?.level === level) last.toMs += LEVEL_MS[level];
    else out.push({ level, fromMs: at, toMs: at + LEVEL_MS[level] });
    at += LEVEL_MS[level];
  }
  return out.map((p) => ({ level: p.level, from: periodKey(p.level, p.fromMs), to: periodKey(p.level, p.toMs) }));
}

export type CountRow = { at: number; flow: string; status: string; effective: string; n: number };

/** The counts of the runs created in whole hours [fromMs, toMs), each with its period's start, read in periods of `levels`. */
export function periodCounts(sqlite: Sqlite, fromMs: number, toMs: number, levels: readonly Level[]): CountRow[] {
  const query = sqlite.query(
    "select period, flow_name, status, effective, n from run_counts where level = ? and period >= ? and period < ?",
  );
  return pieces(fromMs, toMs, levels).flatMap(({ level, from, to }) =>
    (query.values(level, from, to) as [string, string, string, string, number][]).map(
      ([period, flow, status, effective, n]) => ({
        at: Date.parse(`${period}:00:00.000Z`),
        flow,
        status,
        effective,
        n,
      }),
    ),
  );
}

/** Each bucket's lowest duration (ms), by bucket number: the rollup's own table, read once per connection. */
const lowsOf = new WeakMap<Sqlite, number[]>();
function bucketLows(sqlite: Sqlite): number[] {
  let lows = lowsOf.get(sqlite);
  if (!lows) {
    lows = (sqlite.query("select lo from duration_buckets order by bucket").values() as [number][]).map(([lo]) => lo);
    lowsOf.set(sqlite, lows);
  }
  return lows;
}

/** The bucket of a duration: the greatest low at or under it. */
function bucketOf(lows: number[], ms: number): number {
  let [lo, hi] = [0, lows.length - 1];
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lows[mid]! <= ms) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Per flow, runs per duration bucket (by bucket number). */
export type Histograms = Map<string, number[]>;

/**
 * The duration histograms of the runs created in whole hours [fromMs, toMs): whole days, 6
 * hours and hours, the largest that fit, plus the deltas not folded into them yet
 * (services/projector/fold-durations.ts), read together (one read transaction).
 */
export function periodHistograms(sqlite: Sqlite, fromMs: number, toMs: number): Histograms {
  const out: Histograms = new Map();
  const size = bucketLows(sqlite).length;
  const histogramOf = (flow: string) => out.get(flow) ?? out.set(flow, new Array<number>(size).fill(0)).get(flow)!;
  const read = () => {
    const query = sqlite.query(
      "select flow_name, buckets from run_durations where level = ? and period >= ? and period < ?",
    );
    for (const { level, from, to } of pieces(fromMs, toMs, ["d", "q", "h"])) {
      for (const [flow, json] of query.values(level, from, to) as [string, string][]) {
        const histogram = histogramOf(flow);
        for (const [bucket, n] of JSON.parse(json) as [number, number][]) histogram[bucket]! += n;
      }
    }
    const [from, to] = [periodKey("h", fromMs), periodKey("h", toMs)];
    const pending = sqlite
      .query(
        "select flow_name, bucket, sum(n) from duration_deltas where period >= ? and period < ? group by flow_name, bucket",
      )
      .values(from, to) as [string, number, number][];
    for (const [flow, bucket, n] of pending) histogramOf(flow)[bucket]! += n;
  };
  // Inside a transaction already (an in-process projector's), its snapshot is one already.
  if (sqlite.inTransaction) read();
  else sqlite.transaction(read)();
  return out;
}

/** Adds single durations (the runs of the hour under way, read from the runs) to the histograms. */
export function addDurations(sqlite: Sqlite, histograms: Histograms, durations: [string, number][]): void {
  const lows = bucketLows(sqlite);
  for (const [flow, ms] of durations) {
    const histogram = histograms.get(flow) ?? histograms.set(flow, new Array(lows.length).fill(0)).get(flow)!;
    histogram[bucketOf(lows, ms)]!++;
  }
}

/**
 * Nearest-rank percentiles from a histogram: the highest duration of the bucket that holds
 * the value at position ceil(p × n). Under 64 ms that is the value itself; above, at most
 * 4.5% over it (a bucket's highest value is under 2^(1/16) times its lowest), never under.
 */
export function histogramPercentiles(sqlite: Sqlite, histogram: number[], ps: number[]): (number | null)[] {
  const lows = bucketLows(sqlite);
  const total = histogram.reduce((sum, n) => sum + n, 0);
  return ps.map((p) => {
    if (total === 0) return null;
    const rank = Math.ceil((p / 100) * total);
    let seen = 0;
    for (let bucket = 0; bucket < histogram.length; bucket++) {
      seen += histogram[bucket]!;
      if (seen >= rank) return bucket + 1 < lows.length ? lows[bucket + 1]! - 1 : lows[bucket]!;
    }
    return null;
  });
}
