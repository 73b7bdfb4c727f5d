import { sql } from "kysely";
import type { ReadModel } from "../../../lib/read-model/database.ts";
import { HttpError } from "../errors.ts";
import { decodeCursor, encodeCursor, parseBoolean, parseLimit, parseTime } from "../paging.ts";
import { ATTENTION, type RunView } from "./present.ts";
import { runsById } from "./queries.ts";

/** The filters GET /runs takes (query parameters, as strings). */
export type RunFilters = Partial<Record<"eventId" | "flow" | "step" | "status" | "effectiveStatus" | "needsAttention" | "host" | "queue" | "since" | "until" | "limit" | "cursor" | "order", string>>;

/**
 * One page of runs matching the filters, in a stable order (creation time, then id),
 * with `nextCursor` when there is more; results and tails beyond `budgetBytes` are elided.
 */
export async function listRuns(db: ReadModel, filters: RunFilters, budgetBytes: number): Promise<{ runs: RunView[]; nextCursor?: string }> {
  const limit = parseLimit(filters.limit);
  // One event's runs read oldest first (the seed's listing); everything else newest first.
  const order = filters.order ?? (filters.eventId ? "asc" : "desc");
  if (order !== "asc" && order !== "desc") throw new HttpError(400, `order=${JSON.stringify(order)} is invalid: expected asc or desc`);
  const cursor = decodeCursor(filters.cursor, 2) as [string, string] | undefined;
  const since = parseTime("since", filters.since);
  const until = parseTime("until", filters.until);
  const attention = parseBoolean("needsAttention", filters.needsAttention);
  const effective = sql<string>`coalesce(result_status, status)`;

  let query = db.selectFrom("runs").select("id");
  if (filters.eventId) query = query.where("event_id", "=", filters.eventId);
  if (filters.flow) query = query.where("flow_name", "=", filters.flow);
  if (filters.step) query = query.where("step_name", "=", filters.step);
  if (filters.status) query = query.where("status", "in", filters.status.split(","));
  if (filters.effectiveStatus) query = query.where(effective, "in", filters.effectiveStatus.split(","));
  if (attention !== undefined) query = query.where(effective, attention ? "in" : "not in", [...ATTENTION]);
  if (filters.host) query = query.where("host", "=", filters.host);
  if (filters.queue) query = query.where("queue", "=", filters.queue);
  if (since) query = query.where("created_at", ">=", since);
  if (until) query = query.where("created_at", "<", until);
  if (cursor) {
    const [createdAt, id] = cursor;
    // A row-value comparison, so SQLite seeks in the (…, created_at, id) index instead of scanning to the cursor.
    query = query.where((eb) => eb(eb.refTuple("created_at", "id"), order === "desc" ? "<" : ">", eb.tuple(createdAt, id)));
  }
  const rows = await query.orderBy("created_at", order).orderBy("id", order).limit(limit + 1).execute();
  const page = rows.slice(0, limit).map((r) => r.id);
  const runs = await runsById(db, page, budgetBytes);
  const last = runs.at(-1);
  return rows.length > limit && last ? { runs, nextCursor: encodeCursor([last.createdAt, last.id]) } : { runs };
}
