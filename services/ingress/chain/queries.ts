import type { ReadModel } from "../../../lib/read-model/database.ts";
import type { AttemptsTable, EventsTable, RunsTable } from "../../../lib/read-model/tables.ts";
import { approvalField } from "../approvals/present.ts";
import { HttpError } from "../errors.ts";
import { CHAIN_NODE_LIMIT, type ChainEvent, type ChainRun, type ChainView } from "./schemas.ts";

function chainEvent(row: EventsTable, level: number): ChainEvent {
  return {
    id: row.id,
    type: row.type,
    source: row.source,
    acceptedAt: row.accepted_at,
    level,
    chainDepth: row.chain_depth,
    parentRunId: row.parent_run_id,
    generation: row.generation,
    matchedCount: row.matched_count,
  };
}

function nextIds(row: RunsTable): string[] {
  if (!row.next_json) return [];
  const ids: unknown = JSON.parse(row.next_json);
  return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === "string") : [];
}

function chainRun(row: RunsTable, attempts: AttemptsTable[]): ChainRun {
  return {
    id: row.id,
    eventId: row.event_id,
    generation: row.generation,
    flowName: row.flow_name,
    stepName: row.step_name,
    queue: row.queue,
    status: row.status,
    resultStatus: row.result_status,
    createdAt: row.created_at,
    completedAt: row.completed_at,
    heldReason: row.held_reason,
    retryAt: row.retry_at,
    supersededBy: row.superseded_by,
    ...approvalField(row),
    next: nextIds(row),
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      host: a.host,
      status: a.status,
      startedAt: a.started_at,
      completedAt: a.completed_at,
      durationMs: a.duration_ms,
    })),
  };
}

/**
 * An event's chain, level by level: the event, its runs (with their attempts), the events
 * their FLOW_RESULT `next` started, those events' runs, and so on, until a level starts
 * nothing or `limit` events plus runs are taken (then `cut`). Each level is two or three
 * queries by key (ids and run ids stay under `limit`, so under SQLite's variable limit);
 * an id seen before is not followed again, so a cycle cannot loop.
 */
export async function eventChain(
  db: ReadModel,
  eventId: string,
  now: Date,
  limit = CHAIN_NODE_LIMIT,
): Promise<ChainView> {
  const root = await db.selectFrom("events").selectAll().where("id", "=", eventId).executeTakeFirst();
  if (!root) throw new HttpError(404, `no event with id ${JSON.stringify(eventId)}`);
  const events: ChainEvent[] = [chainEvent(root, 0)];
  const runs: ChainRun[] = [];
  const missing: string[] = [];
  const seen = new Set([root.id]);
  let level = [root.id];
  let cut = false;
  // Each pass takes at least one node, so at most `limit` passes.
  for (let depth = 1; level.length > 0 && depth <= limit; depth++) {
    const room = limit - events.length - runs.length;
    const runRows = await db
      .selectFrom("runs")
      .selectAll()
      .where("event_id", "in", level)
      .orderBy("created_at")
      .orderBy("id")
      .limit(room + 1)
      .execute();
    if (runRows.length > room) {
      cut = true;
      runRows.length = room;
    }
    const attemptRows =
      runRows.length === 0
        ? []
        : await db
            .selectFrom("attempts")
            .selectAll()
            .where(
              "run_id",
              "in",
              runRows.map((r) => r.id),
            )
            .orderBy("run_id")
            .orderBy("attempt")
            .execute();
    const byRun = Map.groupBy(attemptRows, (a) => a.run_id);
    // Runs grouped by their event in the level's order (the SQL order is by time across events).
    const order = new Map(level.map((id, i) => [id, i]));
    const levelRuns = runRows
      .map((r) => chainRun(r, byRun.get(r.id) ?? []))
      .sort((a, b) => order.get(a.eventId)! - order.get(b.eventId)!);
    runs.push(...levelRuns);
    if (cut) break;
    const wanted = [...new Set(levelRuns.flatMap((r) => r.next))].filter((id) => !seen.has(id));
    for (const id of wanted) seen.add(id);
    const nextRoom = limit - events.length - runs.length;
    if (wanted.length > nextRoom) {
      cut = true;
      wanted.length = nextRoom;
    }
    const rows =
      wanted.length === 0 ? [] : await db.selectFrom("events").selectAll().where("id", "in", wanted).execute();
    const found = new Map(rows.map((r) => [r.id, r]));
    level = [];
    for (const id of wanted) {
      const row = found.get(id);
      if (!row) missing.push(id);
      else {
        events.push(chainEvent(row, depth));
        level.push(id);
      }
    }
    if (cut) break;
  }
  return { eventId, now: now.toISOString(), nodeLimit: limit, cut, events, runs, missing };
}
