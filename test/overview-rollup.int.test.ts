/**
 * The overview's rollup (migration 2026-12-08-4-rollup) is what its runs say, however they
 * got there: runs written, moved through their statuses, given durations, moved to another
 * hour and deleted leave the same rollup as the same final runs written once into a new
 * read model, once their duration deltas are folded (in batches smaller than their number);
 * and GET /overview's day and week read it with the same numbers as the runs.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { openReadModel, type ReadModel, type RunsTable, rawSqlite } from "../lib/read-model/database.ts";
import { overview } from "../services/ingress/overview/queries.ts";
import { catchUpIndexes } from "../services/projector/indexers.ts";
import { queuedRun } from "../services/projector/writes.ts";
import { tempDir } from "./support/temp.ts";

const HOUR = 3_600_000;
const now = new Date(Date.UTC(2026, 11, 8, 13, 25, 0));

function run(i: number): RunsTable {
  const created = new Date(now.getTime() - i * 997_000).toISOString();
  return {
    ...queuedRun(
      {
        runId: `run-${i}`,
        eventId: `ev-${i}`,
        generation: 0,
        flow: `flow-${i % 3}`,
        flowVersion: 1,
        step: "s",
        runner: "bun",
        queue: "any",
        createdAt: created,
      } as Parameters<typeof queuedRun>[0],
      i + 1,
      null,
    ),
  };
}

function write(db: ReadModel, row: RunsTable): void {
  const columns = Object.keys(row);
  rawSqlite(db)
    .query(
      `insert into runs (${columns.join(", ")}) values (${columns.map(() => "?").join(", ")}) on conflict (id) do update set ${columns.map((c) => `${c} = excluded.${c}`).join(", ")}`,
    )
    .run(...(columns.map((c) => row[c as keyof RunsTable]) as never[]));
}

const rollup = (db: ReadModel) => {
  const sqlite = rawSqlite(db);
  return {
    counts: sqlite.query("select * from run_counts order by level, period, flow_name, status, effective").all(),
    durations: sqlite.query("select * from run_durations order by level, period, flow_name").all(),
  };
};

describe("the overview's rollup", () => {
  test("writes, changes and deletes leave the rollup of the final runs written once", async () => {
    const dir = tempDir("codex-flows-rollup-");
    const live = await openReadModel(join(dir, "live.sqlite"));
    const once = await openReadModel(join(dir, "once.sqlite"));
    try {
      const final = new Map<string, RunsTable>();
      for (let i = 0; i < 600; i++) {
        let row = run(i);
        write(live, row);
        if (i % 7 !== 0) {
          row = { ...row, status: "running", attempt: 1, started_at: row.created_at };
          write(live, row);
          const status = (["completed", "failed", "timed_out", "canceled"] as const)[i % 4]!;
          row = { ...row, status, duration_ms: (i * 7919) % 90_000, result_status: i % 5 === 0 ? "changed" : null };
          write(live, row);
        }
        if (i % 11 === 0) {
          // A retry: running again with no result, then another duration.
          row = { ...row, status: "running", duration_ms: null, result_status: null };
          write(live, row);
          row = { ...row, status: "completed", duration_ms: i * 3 };
          write(live, row);
        }
        if (i % 13 === 0) {
          row = { ...row, created_at: new Date(Date.parse(row.created_at) - 5 * HOUR).toISOString() };
          write(live, row);
        }
        final.set(row.id, row);
      }
      for (let i = 0; i < 600; i += 17) {
        rawSqlite(live).query("delete from runs where id = ?").run(`run-${i}`);
        final.delete(`run-${i}`);
      }
      for (const row of final.values()) write(once, row);
      // The durations' deltas folded (as the projector's indexers do behind it) on both.
      for (const db of [live, once]) catchUpIndexes(rawSqlite(db), 97);
      expect(rawSqlite(live).query("select count(*) as n from duration_deltas").get()).toEqual({ n: 0 });
      expect(rollup(live)).toEqual(rollup(once));
      expect(rollup(live).counts.length).toBeGreaterThan(0);

      // The day and the week from the rollup: their counts are the runs' own over the same window.
      for (const window of ["day", "week"] as const) {
        const view = await overview(live, window, now);
        const inWindow = [...final.values()].filter((r) => r.created_at >= view.since && r.created_at < view.until);
        const byStatus: Record<string, number> = {};
        for (const r of inWindow)
          byStatus[r.result_status ?? r.status] = (byStatus[r.result_status ?? r.status] ?? 0) + 1;
        expect(view.totals).toEqual(byStatus);
        for (const b of view.buckets) {
          const end = Date.parse(b.start) + view.bucketMs;
          const n = inWindow.filter((r) => r.created_at >= b.start && Date.parse(r.created_at) < end).length;
          expect(Object.values(b.counts).reduce((a, c) => a + c, 0)).toBe(n);
        }
      }
    } finally {
      await live.destroy();
      await once.destroy();
    }
  });
});
