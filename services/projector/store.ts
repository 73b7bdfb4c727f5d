import type { SQLQueryBindings, Database as Sqlite, Statement } from "bun:sqlite";
import type { Transaction } from "kysely";
import type { FlowMessage } from "../../lib/protocol/messages.ts";
import {
  type AttemptsTable,
  CHECKPOINT,
  type EventsTable,
  type ReadModelDatabase,
  type RunsTable,
  tombstoneKey,
} from "../../lib/read-model/database.ts";
import { rowsWhereIn } from "../../lib/read-model/hot.ts";
import { applyPurge, type PurgeOutcome } from "../../lib/read-model/purge.ts";
import { isPurge, type Purge, type ReadState, type Upsert, type Write } from "./writes.ts";

const PRIMARY_KEYS = {
  events: (row: { id: string }) => row.id,
  runs: (row: { id: string }) => row.id,
  attempts: (row: { run_id: string; attempt: number }) => `${row.run_id}\n${row.attempt}`,
  matches: (row: { event_id: string; generation: number }) => `${row.event_id}\n${row.generation}`,
  output: (row: { run_id: string; attempt: number; chunk: number }) => `${row.run_id}\n${row.attempt}\n${row.chunk}`,
  flow_controls: (row: { flow: string; step: string }) => `${row.flow}\n${row.step}`,
  schedule_ticks: (row: { flow: string; schedule: string; tick: string }) =>
    `${row.flow}\n${row.schedule}\n${row.tick}`,
  audit: (row: { action_id: string }) => row.action_id,
};

/** The rows one batch reads, loaded in a statement per table, plus what the batch has written so far (its rows, then its purges). */
export type BatchState = ReadState & {
  apply(writes: Write[]): void;
  dirty(): Write[];
};

/**
 * Loads every row the batch's messages can touch, so evolve can run without I/O: one
 * kept statement per table (lib/read-model/hot.ts), on the handle that holds the batch's
 * transaction.
 */
export function loadBatchState(sqlite: Sqlite, messages: FlowMessage[]): BatchState {
  const eventIds = new Set<string>();
  const runIds = new Set<string>();
  const outputRuns = new Set<string>();
  for (const m of messages) {
    if (m.kind === "event.accepted") eventIds.add(m.event.id);
    else if (m.kind === "event.matched") eventIds.add(m.eventId);
    else if ("runId" in m) {
      runIds.add(m.runId);
      if (m.kind === "run.output") outputRuns.add(m.runId);
    }
  }
  const events = new Map<string, EventsTable>();
  const runs = new Map<string, RunsTable>();
  const attempts = new Map<string, AttemptsTable>();
  for (const row of rowsWhereIn(sqlite, "events", "id", [...eventIds])) events.set(row.id, row);
  for (const row of rowsWhereIn(sqlite, "runs", "id", [...runIds])) runs.set(row.id, row);
  for (const row of rowsWhereIn(sqlite, "attempts", "run_id", [...runIds]))
    attempts.set(PRIMARY_KEYS.attempts(row), row);
  const outputs = new Set<string>();
  for (const row of rowsWhereIn(sqlite, "output", "run_id", [...outputRuns], {
    select: ["run_id", "attempt", "chunk"],
  }))
    outputs.add(PRIMARY_KEYS.output(row));
  // Only an id with no event row can be a tombstone's (and there are none in most batches).
  const tombstoned = new Set<string>();
  const missing = new Map<string, string>();
  for (const id of eventIds) if (!events.has(id)) missing.set(Buffer.from(tombstoneKey(id)).toString("hex"), id);
  const hashes =
    missing.size === 0
      ? []
      : sqlite
          .query<{ id_hash: Uint8Array }, [string]>(
            "SELECT id_hash FROM tombstones WHERE id_hash IN (SELECT unhex(value) FROM json_each(?))",
          )
          .all(JSON.stringify([...missing.keys()]));
  for (const row of hashes) tombstoned.add(missing.get(Buffer.from(row.id_hash).toString("hex"))!);
  const dirty = new Map<string, Upsert>();
  const purges: Purge[] = [];
  return {
    tombstoned: (id) => tombstoned.has(id),
    event: (id) => events.get(id),
    run: (id) => runs.get(id),
    attempt: (runId, attempt) => attempts.get(`${runId}\n${attempt}`),
    hasOutput: (run_id, attempt, chunk) => outputs.has(PRIMARY_KEYS.output({ run_id, attempt, chunk })),
    apply(writes) {
      for (const write of writes) {
        if (isPurge(write)) {
          purges.push(write);
          continue;
        }
        const key = keyOf(write);
        dirty.set(`${write.table}\n${key}`, write);
        if (write.table === "events") events.set(key, write.row);
        else if (write.table === "runs") runs.set(key, write.row);
        else if (write.table === "attempts") attempts.set(key, write.row);
        else if (write.table === "output") outputs.add(key);
      }
    },
    dirty: () => [...dirty.values(), ...purges],
  };
}

/**
 * The one write path of the read model: writes the batch's final rows and the checkpoint
 * (call inside the batch's transaction, with the read model's own bun:sqlite handle),
 * applies output retention to the runs whose output went over it, then the batch's purge
 * rounds, in order (a purge ends its batch: evolve's writes after it are another batch's).
 * Rows go through one kept INSERT OR REPLACE statement per table and column set: building
 * statements was the larger part of a batch's cost.
 */
export async function applyBatch(
  sqlite: Sqlite,
  trx: Transaction<ReadModelDatabase>,
  writes: Write[],
  seq: number,
  outputRetentionBytes = Number.POSITIVE_INFINITY,
): Promise<PurgeOutcome[]> {
  const rows = writes.filter((w): w is Upsert => !isPurge(w));
  for (const write of rows) upsert(sqlite, write.table, write.row as unknown as Record<string, SQLQueryBindings>);
  upsert(sqlite, "projector_state", { name: CHECKPOINT, seq });
  const over = rows.flatMap((w) => (w.table === "runs" && w.row.output_bytes > outputRetentionBytes ? [w.row.id] : []));
  for (const runId of over) await keepOutputTail(trx, runId, outputRetentionBytes);
  const purged: PurgeOutcome[] = [];
  for (const write of writes) if (isPurge(write)) purged.push(await applyPurge(trx, write.purge));
  return purged;
}

/** Each table's primary key: an upsert updates the row in place (only the indexes whose columns changed). */
const KEY_COLUMNS: Record<Upsert["table"] | "projector_state", string[]> = {
  events: ["id"],
  runs: ["id"],
  attempts: ["run_id", "attempt"],
  matches: ["event_id", "generation"],
  output: ["run_id", "attempt", "chunk"],
  flow_controls: ["flow", "step"],
  schedule_ticks: ["flow", "schedule", "tick"],
  audit: ["action_id"],
  projector_state: ["name"],
};

type Prepared = { columns: string[]; statement: Statement };
const upserts = new WeakMap<Sqlite, Map<string, Prepared>>();

function upsert(sqlite: Sqlite, table: keyof typeof KEY_COLUMNS, row: Record<string, SQLQueryBindings>): void {
  const byTable = upserts.get(sqlite) ?? upserts.set(sqlite, new Map()).get(sqlite)!;
  // Every row evolve writes for a table has the same columns; the statement is built once.
  let prepared = byTable.get(table);
  if (!prepared?.columns.every((c) => c in row)) {
    const columns = Object.keys(row).sort();
    const keys = KEY_COLUMNS[table];
    const updates = columns.filter((c) => !keys.includes(c)).map((c) => `${c} = excluded.${c}`);
    const sql = `INSERT INTO ${table} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")}) ON CONFLICT (${keys.join(", ")}) DO UPDATE SET ${updates.join(", ")}`;
    prepared = { columns, statement: sqlite.prepare(sql) };
    byTable.set(table, prepared);
  }
  prepared.statement.run(...prepared.columns.map((c) => row[c]!));
}

/**
 * Keeps at most `limit` characters of a run's live output: the newest, across its
 * attempts. The chunk on the boundary keeps its tail, older ones go, and the run records
 * that its output was cut.
 */
async function keepOutputTail(trx: Transaction<ReadModelDatabase>, runId: string, limit: number): Promise<void> {
  if (!Number.isFinite(limit)) return;
  const chunks = await trx
    .selectFrom("output")
    .select(["attempt", "chunk", (eb) => eb.fn<number>("length", ["text"]).as("size")])
    .where("run_id", "=", runId)
    .orderBy("attempt", "desc")
    .orderBy("chunk", "desc")
    .execute();
  let room = limit;
  const boundary = chunks.findIndex((c) => (room -= Number(c.size)) < 0);
  if (boundary === -1) return;
  const edge = chunks[boundary]!;
  const keep = Number(edge.size) + room;
  if (keep > 0) {
    await trx
      .updateTable("output")
      .set((eb) => ({ text: eb.fn("substr", ["text", eb.val(-keep)]) }))
      .where("run_id", "=", runId)
      .where("attempt", "=", edge.attempt)
      .where("chunk", "=", edge.chunk)
      .execute();
  }
  const newestGone = keep > 0 ? { attempt: edge.attempt, chunk: edge.chunk - 1 } : edge;
  await trx
    .deleteFrom("output")
    .where("run_id", "=", runId)
    .where((eb) =>
      eb.or([
        eb("attempt", "<", newestGone.attempt),
        eb.and([eb("attempt", "=", newestGone.attempt), eb("chunk", "<=", newestGone.chunk)]),
      ]),
    )
    .execute();
  await trx.updateTable("runs").set({ output_cut: 1, output_bytes: limit }).where("id", "=", runId).execute();
}

function keyOf(write: Upsert): string {
  switch (write.table) {
    case "events":
      return PRIMARY_KEYS.events(write.row);
    case "runs":
      return PRIMARY_KEYS.runs(write.row);
    case "attempts":
      return PRIMARY_KEYS.attempts(write.row);
    case "matches":
      return PRIMARY_KEYS.matches(write.row);
    case "output":
      return PRIMARY_KEYS.output(write.row);
    case "flow_controls":
      return PRIMARY_KEYS.flow_controls(write.row);
    case "schedule_ticks":
      return PRIMARY_KEYS.schedule_ticks(write.row);
    case "audit":
      return PRIMARY_KEYS.audit(write.row);
  }
}
