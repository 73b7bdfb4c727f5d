import { sql } from "kysely";
import { NEXT_NOT_STARTED } from "../../../lib/protocol/flow-result.ts";
import { ATTENTION, EFFECTIVE_STATUSES, isOneOf, RUN_STATUSES } from "../../../lib/protocol/status.ts";
import type { ReadModel } from "../../../lib/read-model/database.ts";
import { HttpError } from "../errors.ts";
import { decodeCursor, encodeCursor, parseBoolean, parseLimit, parseTime } from "../paging.ts";
import type { RunView } from "./present.ts";
import { runsById } from "./queries.ts";

/** Statuses `effectiveStatus=` filters on: process statuses and FLOW_RESULT statuses. */

/** A comma-separated status filter; 400 naming the unknown one and the known ones. */
function statusList<T extends string>(name: string, raw: string, known: readonly T[]): T[] {
  const wanted = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const unknown = wanted.filter((s) => !isOneOf(known, s));
  if (wanted.length === 0 || unknown.length > 0)
    throw new HttpError(
      400,
      `${name}=${JSON.stringify(raw)} is invalid: expected comma-separated statuses from ${known.join(", ")}`,
    );
  return wanted as T[];
}

/** The filters GET /runs takes (query parameters, as strings). */
export type RunFilters = Partial<
  Record<
    | "eventId"
    | "flow"
    | "step"
    | "status"
    | "effectiveStatus"
    | "needsAttention"
    | "host"
    | "queue"
    | "since"
    | "until"
    | "limit"
    | "cursor"
    | "order",
    string
  >
>;

/**
 * One page of runs matching the filters, in a stable order (creation time, then id),
 * with `nextCursor` when there is more; results and tails beyond `budgetBytes` are elided.
 */
export async function listRuns(
  db: ReadModel,
  filters: RunFilters,
  budgetBytes: number,
): Promise<{ runs: RunView[]; nextCursor?: string }> {
  const limit = parseLimit(filters.limit);
  // One event's runs read oldest first (the original backend's listing, seed/flows.md); everything else newest first.
  const order = filters.order || (filters.eventId ? "asc" : "desc");
  if (order !== "asc" && order !== "desc")
    throw new HttpError(400, `order=${JSON.stringify(order)} is invalid: expected asc or desc`);
  const cursor = decodeCursor(filters.cursor, 2) as [string, string] | undefined;
  const since = parseTime("since", filters.since);
  const until = parseTime("until", filters.until);
  const attention = parseBoolean("needsAttention", filters.needsAttention);
  const effective = sql<string>`coalesce(result_status, status)`;

  let query = db.selectFrom("runs").select("id");
  if (filters.eventId) query = query.where("event_id", "=", filters.eventId);
  if (filters.flow) query = query.where("flow_name", "=", filters.flow);
  if (filters.step) query = query.where("step_name", "=", filters.step);
  if (filters.status) query = query.where("status", "in", statusList("status", filters.status, RUN_STATUSES));
  if (filters.effectiveStatus)
    query = query.where(effective, "in", statusList("effectiveStatus", filters.effectiveStatus, EFFECTIVE_STATUSES));
  // The same rule as presentRun: an attention status, or `next` events that were cut.
  const cut = sql<boolean>`coalesce(instr(error, ${NEXT_NOT_STARTED}), 0) > 0`;
  if (attention === true)
    query = query.where((eb) => eb.or([eb(effective, "in", [...ATTENTION]), eb(cut, "=", sql<boolean>`1`)]));
  if (attention === false)
    query = query.where((eb) => eb.and([eb(effective, "not in", [...ATTENTION]), eb(cut, "=", sql<boolean>`0`)]));
  if (filters.host) query = query.where("host", "=", filters.host);
  if (filters.queue) query = query.where("queue", "=", filters.queue);
  if (since) query = query.where("created_at", ">=", since);
  if (until) query = query.where("created_at", "<", until);
  if (cursor) {
    const [createdAt, id] = cursor;
    // A row-value comparison, so SQLite seeks in the (…, created_at, id) index instead of scanning to the cursor.
    query = query.where((eb) =>
      eb(eb.refTuple("created_at", "id"), order === "desc" ? "<" : ">", eb.tuple(createdAt, id)),
    );
  }
  const rows = await query
    .orderBy("created_at", order)
    .orderBy("id", order)
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit).map((r) => r.id);
  const runs = await runsById(db, page, budgetBytes);
  const last = runs.at(-1);
  return rows.length > limit && last ? { runs, nextCursor: encodeCursor([last.createdAt, last.id]) } : { runs };
}
