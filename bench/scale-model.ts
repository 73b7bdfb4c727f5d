/**
 * A read model of `runs` runs (two per event) over the last 8 days, written straight into
 * SQLite in one transaction by SQL (a recursive sequence, no message through the stream):
 * the schema is the migrations', and the triggers keep the overview's rollup and number
 * the search documents as the projector's writes do; then the search indexer indexes them
 * all. 12 flows, 6 event types, most runs completed (a fifth of them "changed"), the rest
 * failed, timed out, canceled or superseded, and the newest 1,000 queued or running;
 * durations spread over 0-60 s. One event's payload holds the word "zanzibar".
 */
import { openReadModel, rawSqlite } from "../lib/read-model/database.ts";
import { catchUpIndexes } from "../services/projector/indexers.ts";

const DAYS = 8;
export const SCALE_FLOWS = 12;
export const SCALE_TYPES = ["push", "release", "deploy", "issue", "schedule", "webhook"];

export type ScaleModel = { runs: number; events: number; sampleRunId: string; buildMs: number; indexMs: number };

/** What a model of `runs` runs holds (its build times unknown: 0). */
export function scaleModelOf(runs: number): ScaleModel {
  const events = Math.ceil(runs / 2);
  return {
    runs,
    events,
    sampleRunId: `run-${String(Math.floor(events / 2)).padStart(8, "0")}-1`,
    buildMs: 0,
    indexMs: 0,
  };
}

export async function buildScaleModel(path: string, runs: number, now = Date.now()): Promise<ScaleModel> {
  const started = performance.now();
  const events = Math.ceil(runs / 2);
  const db = await openReadModel(path);
  const sqlite = rawSqlite(db);
  try {
    sqlite.exec("PRAGMA synchronous = OFF");
    const nowJd = now / 86_400_000 + 2_440_587.5;
    const at = (i: string) => `strftime('%Y-%m-%dT%H:%M:%fZ', ${nowJd} - (${events} - ${i}) * ${DAYS}.0 / ${events})`;
    const types = SCALE_TYPES.map((t) => `'${t}'`).join(", ");
    // In 50 slices, events then their runs: the search index numbers them about as a live system would.
    const slices = 50;
    const slice = (k: number) => Math.floor((events * k) / slices);
    sqlite.transaction(() => {
      for (let k = 0; k < slices; k++) writeSlice(slice(k), slice(k + 1));
    })();
    function writeSlice(from: number, to: number): void {
      sqlite.exec(`
        insert into events (id, type, source, occurred_at, received_at, accepted_at, payload_json, seq, generation, matched_generation, matched_at, matched_count)
        with recursive n(i) as (select ${from} union all select i + 1 from n where i < ${to - 1})
        select printf('evt-%08d', i), json_extract(json_array(${types}), '$[' || (i % 6) || ']'), 'bench', null, ${at("i")}, ${at("i")},
          json_object('repo', 'repo-' || (i % 50), 'ref', 'refs/heads/branch-' || (i % 200), 'note', case when i = ${Math.floor(events / 3)} then 'the zanzibar release is ready' else 'commit c' || (i % 5000) || ' by author-' || (i % 300) end),
          i * 5 + 1, 0, 0, ${at("i")}, 2
        from n`);
      sqlite.exec(`
        insert into runs (id, event_id, generation, flow_name, flow_version, step_name, runner, queue, status, attempt, host, created_at, started_at, completed_at, updated_at, result_json, result_status, duration_ms, seq)
        with recursive n(j) as (select ${from * 2} union all select j + 1 from n where j < ${Math.min(to * 2, runs) - 1}),
          r as (select j, j / 2 as i, (j * 7 + 3) % 100 as d, ${at("(j / 2)")} as at from n),
          s as (select *, case when j >= ${runs - 1000} then (case when j % 2 = 0 then 'queued' else 'running' end)
            when d < 80 then 'completed' when d < 90 then 'failed' when d < 93 then 'timed_out' when d < 98 then 'canceled' else 'superseded' end as status from r)
        select printf('run-%08d-%d', i, j % 2), printf('evt-%08d', i), 0, 'flow-' || (j % ${SCALE_FLOWS}), 1, 'build', 'bun', 'any', status,
          case when status in ('queued', 'superseded') then 0 else 1 end, case when status in ('queued', 'superseded') then null else 'host-' || (j % 4) end,
          at, case when status in ('queued', 'superseded') then null else at end, case when status in ('queued', 'running', 'superseded') then null else at end, at,
          case when status = 'completed' then json_object('status', case when d % 5 = 0 then 'changed' else 'completed' end, 'message', 'built flow-' || (j % ${SCALE_FLOWS}) || ' at commit c' || (i % 5000)) end,
          case when status = 'completed' then (case when d % 5 = 0 then 'changed' else 'completed' end) end,
          case when status in ('completed', 'failed', 'timed_out', 'canceled') then (j * 7919) % 60000 end,
          i * 5 + 2 + j % 2
        from s`);
    }
    const buildMs = performance.now() - started;
    const indexStarted = performance.now();
    catchUpIndexes(sqlite);
    sqlite.exec("PRAGMA optimize");
    sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return { ...scaleModelOf(runs), buildMs, indexMs: performance.now() - indexStarted };
  } finally {
    await db.destroy();
  }
}
