import type { Database as Sqlite } from "bun:sqlite";

/**
 * Folds the duration deltas the runs' triggers append (migration 2026-12-08-4-rollup:
 * `duration_deltas`, +1 or -1 in a bucket of an hour and flow) into the overview's
 * histograms (`run_durations`, per hour, 6 hours and day), a batch at a time behind the
 * projector: each histogram a batch touches is rewritten once, not once a run. The
 * histograms end the same whenever it runs (counts add up in any order); a histogram whose
 * count falls to 0 goes.
 */

/** An hour's key (`YYYY-MM-DDTHH`) as the key of its 6 hours (from 00, 06, 12, 18) and of its day. */
const LEVELS = {
  h: (hour: string) => hour,
  q: (hour: string) => `${hour.slice(0, 11)}${String(Math.floor(Number(hour.slice(11, 13)) / 6) * 6).padStart(2, "0")}`,
  d: (hour: string) => hour.slice(0, 10),
};

/** Folds the oldest `batch` deltas in one transaction; returns how many. The connection must be in no transaction. */
export function foldDurationsBatch(sqlite: Sqlite, batch: number): number {
  return sqlite
    .transaction(() => {
      const bound = sqlite
        .query<{ upto: number | null; n: number }, [number]>(
          "select max(id) as upto, count(*) as n from (select id from duration_deltas order by id limit ?)",
        )
        .get(batch);
      if (!bound?.upto) return 0;
      const deltas = sqlite
        .query("select period, flow_name, bucket, sum(n) from duration_deltas where id <= ? group by 1, 2, 3")
        .values(bound.upto) as [string, string, number, number][];
      const changes = new Map<string, { level: string; period: string; flow: string; add: [number, number][] }>();
      for (const [hour, flow, bucket, n] of deltas) {
        if (n === 0) continue;
        for (const [level, periodOf] of Object.entries(LEVELS)) {
          const period = periodOf(hour);
          const key = `${level}\n${period}\n${flow}`;
          const change = changes.get(key) ?? changes.set(key, { level, period, flow, add: [] }).get(key)!;
          change.add.push([bucket, n]);
        }
      }
      const read = sqlite.query<{ n: number; buckets: string }, [string, string, string]>(
        "select n, buckets from run_durations where level = ? and period = ? and flow_name = ?",
      );
      const write = sqlite.query(
        "insert into run_durations (level, period, flow_name, n, buckets) values (?, ?, ?, ?, ?) on conflict do update set n = excluded.n, buckets = excluded.buckets",
      );
      const drop = sqlite.query("delete from run_durations where level = ? and period = ? and flow_name = ?");
      for (const { level, period, flow, add } of changes.values()) {
        const row = read.get(level, period, flow);
        const buckets = new Map<number, number>(row ? (JSON.parse(row.buckets) as [number, number][]) : []);
        let n = row?.n ?? 0;
        for (const [bucket, d] of add) {
          buckets.set(bucket, (buckets.get(bucket) ?? 0) + d);
          n += d;
        }
        const kept = [...buckets].filter(([, count]) => count !== 0).sort(([a], [b]) => a - b);
        if (n === 0) drop.run(level, period, flow);
        else write.run(level, period, flow, n, JSON.stringify(kept));
      }
      sqlite.query("delete from duration_deltas where id <= ?").run(bound.upto);
      return bound.n;
    })
    .immediate();
}
