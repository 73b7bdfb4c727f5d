import { Database } from "bun:sqlite";
import { openReadModel, type ReadModel, rawSqlite } from "../../lib/read-model/database.ts";

/** Every row of every table, in key order: two read models are equal when these are. */
export async function snapshot(db: ReadModel): Promise<string> {
  const tables = {
    events: await db.selectFrom("events").selectAll().orderBy("id").execute(),
    matches: await db.selectFrom("matches").selectAll().orderBy("event_id").orderBy("generation").execute(),
    runs: await db.selectFrom("runs").selectAll().orderBy("id").execute(),
    attempts: await db.selectFrom("attempts").selectAll().orderBy("run_id").orderBy("attempt").execute(),
    output: await db.selectFrom("output").selectAll().orderBy("run_id").orderBy("attempt").orderBy("chunk").execute(),
    flowControls: await db.selectFrom("flow_controls").selectAll().orderBy("flow").orderBy("step").execute(),
    scheduleTicks: await db
      .selectFrom("schedule_ticks")
      .selectAll()
      .orderBy("flow")
      .orderBy("schedule")
      .orderBy("tick")
      .execute(),
    tombstones: (await db.selectFrom("tombstones").selectAll().orderBy("id_hash").execute()).map((t) => ({
      ...t,
      id_hash: Buffer.from(t.id_hash).toString("hex"),
    })),
    audit: await db.selectFrom("audit").selectAll().orderBy("action_id").execute(),
    // The overview's rollup (migration 2026-12-08-4-rollup): kept by triggers, so a rebuild gives the same.
    runCounts: await db
      .selectFrom("run_counts")
      .selectAll()
      .orderBy("level")
      .orderBy("period")
      .orderBy("flow_name")
      .orderBy("status")
      .orderBy("effective")
      .execute(),
    runDurations: durations(db),
    checkpoint: await db.selectFrom("projector_state").selectAll().execute(),
  };
  return JSON.stringify(tables);
}

/**
 * The duration histograms as a reader sees them: folded, plus the deltas the projector's
 * indexers have not folded yet (services/projector/fold-durations.ts), by level, period and flow.
 */
function durations(db: ReadModel): Record<string, number[]> {
  const sqlite = rawSqlite(db);
  const out: Record<string, number[]> = {};
  const size = (sqlite.query("select count(*) as n from duration_buckets").get() as { n: number }).n;
  const rows = sqlite.query("select level, period, flow_name, buckets from run_durations").values() as string[][];
  for (const [level, period, flow, buckets] of rows) {
    const histogram = new Array<number>(size).fill(0);
    for (const [bucket, n] of JSON.parse(buckets!) as [number, number][]) histogram[bucket] = n;
    out[`${level} ${period} ${flow}`] = histogram;
  }
  const deltas = sqlite.query("select period, flow_name, bucket, n from duration_deltas").values() as [
    string,
    string,
    number,
    number,
  ][];
  for (const [hour, flow, bucket, n] of deltas) {
    const q = `${hour.slice(0, 11)}${String(Math.floor(Number(hour.slice(11, 13)) / 6) * 6).padStart(2, "0")}`;
    for (const key of [`h ${hour} ${flow}`, `q ${q} ${flow}`, `d ${hour.slice(0, 10)} ${flow}`]) {
      out[key] ??= new Array<number>(size).fill(0);
      out[key][bucket]! += n;
    }
  }
  for (const [key, buckets] of Object.entries(out)) if (buckets.every((n) => n === 0)) delete out[key];
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The snapshot of the read model at `path`. */
export async function snapshotOf(path: string): Promise<string> {
  const db = await openReadModel(path);
  try {
    return await snapshot(db);
  } finally {
    await db.destroy();
  }
}

/**
 * Every index of the SQLite file at `path` (its name, table and CREATE statement), by name.
 * Opened for writing (nothing is written): the last connection to a WAL file to close
 * removes its -wal and -shm files, which a read-only one would leave behind.
 */
export function indexesOf(path: string): unknown[] {
  const sqlite = new Database(path, { readwrite: true });
  try {
    return sqlite.query("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name").all();
  } finally {
    sqlite.close();
  }
}
