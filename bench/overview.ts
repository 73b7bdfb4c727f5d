/**
 * GET /overview's queries over a read model of N runs spread over eight days (12 flows,
 * a mix of statuses), in a temporary file: the median and the slowest of 7 calls per
 * window. Prints one line per window.
 *   bun bench/overview.ts [--runs 300000]
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openReadModel, rawSqlite } from "../lib/read-model/database.ts";
import { overview } from "../services/ingress/overview/queries.ts";
import { catchUpIndexes } from "../services/projector/indexers.ts";
import { tempDir } from "../test/support/temp.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "300000" } } });
const n = Number(values.runs);
const dir = tempDir("codex-flows-bench-overview-");
const db = await openReadModel(join(dir, "read-model.sqlite"));
const now = Date.now();
const statuses = ["completed", "completed", "completed", "failed", "timed_out", "canceled", "queued", "running"];
const insert = rawSqlite(db).prepare(
  `insert into runs (id, event_id, generation, flow_name, flow_version, step_name, runner, queue, status, attempt, host, created_at, started_at, completed_at, updated_at, result_status, stdout, stderr, stdout_truncated, stderr_truncated, duration_ms, seq, output_cut, output_bytes)
   values (?, ?, 0, ?, 1, 's', 'bun', 'any', ?, 1, 'h', ?, ?, ?, ?, ?, '', '', 0, 0, ?, ?, 0, 0)`,
);
rawSqlite(db).transaction(() => {
  for (let i = 0; i < n; i++) {
    const at = new Date(now - Math.floor((i / n) * 8 * 86_400_000)).toISOString();
    const status = statuses[i % statuses.length]!;
    insert.run(
      `run-${i}`,
      `ev-${i}`,
      `flow-${i % 12}`,
      status,
      at,
      at,
      at,
      at,
      status === "completed" && i % 5 === 0 ? "changed" : null,
      status === "queued" ? null : (i * 7919) % 60_000,
      i + 1,
    );
  }
})();
// The duration deltas folded into the rollup's histograms, as the projector's indexers do behind it.
catchUpIndexes(rawSqlite(db));
for (const window of ["hour", "day", "week"] as const) {
  const ms: number[] = [];
  for (let round = 0; round < 7; round++) {
    const started = performance.now();
    await overview(db, window, new Date());
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  console.log(`${window}: median ${ms[3]!.toFixed(1)} ms, slowest ${ms[6]!.toFixed(1)} ms (${n} runs over 8 days)`);
}
await db.destroy();
rmSync(dir, { recursive: true, force: true });
