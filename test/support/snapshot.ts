import { Database } from "bun:sqlite";
import { openReadModel, type ReadModel } from "../../lib/read-model/database.ts";

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
    checkpoint: await db.selectFrom("projector_state").selectAll().execute(),
  };
  return JSON.stringify(tables);
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
