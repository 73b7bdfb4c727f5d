/**
 * How long one purge round holds the read model's write lock, and what a tombstone costs:
 * `bun bench/purge-round.ts [RUNS]` fills a read model with RUNS finished runs (each with
 * its event, attempt, match and 1 KiB of live output), deletes them in rounds of 500 as
 * the projector does (one transaction each), and prints the rounds' times, the file
 * before and after the incremental vacuum, and the bytes one tombstone takes.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { incrementalVacuum, openReadModel, rawSqlite } from "../lib/read-model/database.ts";
import { applyPurge } from "../lib/read-model/purge.ts";
import { tempDir } from "./rows.ts";

const RUNS = Number(process.argv[2] ?? 100_000);
const path = join(tempDir("purge-bench-"), "read-model.sqlite");
const db = await openReadModel(path);
const sqlite = rawSqlite(db);
const at = "2026-01-01T00:00:00.000Z";
const text = "x".repeat(1024);
sqlite.transaction(() => {
  const event = sqlite.prepare(
    "INSERT INTO events (id, type, received_at, accepted_at, payload_json, seq, generation, chain_depth) VALUES (?, 'bench', ?, ?, '{}', ?, 0, 0)",
  );
  const match = sqlite.prepare(
    "INSERT INTO matches (event_id, generation, matched_at, decisions_json) VALUES (?, 0, ?, '[]')",
  );
  const run = sqlite.prepare(
    "INSERT INTO runs (id, event_id, generation, flow_name, flow_version, step_name, runner, queue, status, attempt, created_at, updated_at, completed_at, stdout, stderr, stdout_truncated, stderr_truncated, seq, output_cut, output_bytes) VALUES (?, ?, 0, 'bench', 1, 'a', 'bun', 'any', 'completed', 1, ?, ?, ?, 'ok', '', 0, 0, ?, 0, 1024)",
  );
  const attempt = sqlite.prepare(
    "INSERT INTO attempts (run_id, attempt, host, status, started_at, completed_at) VALUES (?, 1, 'h', 'completed', ?, ?)",
  );
  const output = sqlite.prepare(
    "INSERT INTO output (run_id, attempt, chunk, stream, text, at, seq) VALUES (?, 1, 0, 'stdout', ?, ?, ?)",
  );
  for (let i = 0; i < RUNS; i++) {
    const id = `e${i}`;
    event.run(id, at, at, i + 1);
    match.run(id, at);
    run.run(`r${i}`, id, at, at, at, i + 1);
    attempt.run(`r${i}`, at, at);
    output.run(`r${i}`, text, at, i + 1);
  }
})();
sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
const sizeBefore = statSync(path).size;
const rounds: number[] = [];
for (let round = 1; round < 100_000; round++) {
  const started = performance.now();
  let runs = 0;
  await db.transaction().execute(async (trx) => {
    runs = (
      await applyPurge(trx, {
        v: 1,
        kind: "runs.purge",
        purgeId: "bench",
        round,
        at: "2026-06-01T00:00:00.000Z",
        rules: [{ before: "2026-02-01T00:00:00.000Z" }],
        limit: 500,
        tombstoneDays: 400,
      })
    ).runs;
  });
  rounds.push(performance.now() - started);
  if (runs === 0) break;
}
const vacuumStarted = performance.now();
await incrementalVacuum(db);
const vacuumMs = performance.now() - vacuumStarted;
const pageSize = Number((sqlite.query("PRAGMA page_size").get() as { page_size: number }).page_size);
const tombstoneBytes = (
  sqlite.query("SELECT sum(pgsize) AS bytes FROM dbstat WHERE name IN ('tombstones', 'tombstones_deleted')").get() as {
    bytes: number;
  } | null
)?.bytes;
await db.destroy();
const sorted = [...rounds].sort((a, b) => a - b);
console.log(
  JSON.stringify({
    runs: RUNS,
    rounds: rounds.length,
    roundMs: {
      median: +sorted[Math.floor(sorted.length / 2)]!.toFixed(1),
      p99: +sorted[Math.floor(sorted.length * 0.99)]!.toFixed(1),
      max: +sorted.at(-1)!.toFixed(1),
    },
    purgeRunsPerS: Math.round(RUNS / (rounds.reduce((a, b) => a + b, 0) / 1000)),
    fileBytes: { before: sizeBefore, afterVacuum: statSync(path).size },
    vacuumMs: Math.round(vacuumMs),
    tombstoneBytesPerId: tombstoneBytes ? +(tombstoneBytes / RUNS).toFixed(1) : "dbstat unavailable",
    pageSize,
  }),
);
