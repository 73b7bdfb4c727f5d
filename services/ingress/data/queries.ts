import { sql } from "kysely";
import type { PurgeRule } from "../../../lib/protocol/messages.ts";
import type { ReadModel } from "../../../lib/read-model/database.ts";
import { countRunlessEvents, covered, selectRunlessEvents } from "../../../lib/read-model/purge.ts";
import { HttpError } from "../errors.ts";
import { decodeCursor, encodeCursor } from "../paging.ts";

/** What an archive or purge covers: final runs created before `before` (of one flow, some statuses), and events that started no run. */
export type Selection = { rule: PurgeRule & { before: string }; eventsBefore?: string };

const DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/i;
const STATUS = /^[a-z_]{1,40}$/;
/** The forms `before` takes, for the OpenAPI document: what these describe, parseSelection accepts. */
export const BEFORE_FORMATS = ["date", "date-time"] as const;
/** `status` as the document describes it: comma-separated words. */
export const STATUS_LIST = "^[a-z_]{1,40}(,[a-z_]{1,40})*$";

/**
 * Reads `before` (a date or an ISO time: runs created before it), `flow` and `status` (a
 * comma list of effective statuses); 400 naming the one at fault. Events that started no
 * run are covered only when neither a flow nor a status narrows the selection.
 */
export function parseSelection(query: { before?: unknown; flow?: unknown; status?: unknown }): Selection {
  // An empty value is an absent one, as a form sends it.
  const [before, flow, status] = [query.before, query.flow, query.status].map((v) => (v === "" ? undefined : v));
  if (typeof before !== "string" || !DATE.test(before) || Number.isNaN(Date.parse(before.toUpperCase()))) {
    throw new HttpError(
      400,
      `before: expected a date (2026-01-31) or an ISO time (2026-01-31T12:00:00Z), got ${JSON.stringify(before ?? null)}`,
    );
  }
  if (flow !== undefined && (typeof flow !== "string" || flow === ""))
    throw new HttpError(400, `flow: expected a flow name, got ${JSON.stringify(flow)}`);
  const statuses =
    status === undefined
      ? undefined
      : String(status)
          .split(",")
          .map((s) => s.trim());
  if (statuses && !statuses.every((s) => STATUS.test(s)))
    throw new HttpError(
      400,
      `status: expected comma-separated statuses such as completed,failed,needs_intervention, got ${JSON.stringify(status)}`,
    );
  const at = new Date(Date.parse(before.toUpperCase())).toISOString();
  const rule = { before: at, ...(flow ? { flow: flow as string } : {}), ...(statuses ? { statuses } : {}) };
  return { rule, ...(flow || statuses ? {} : { eventsBefore: at }) };
}

const effective = sql<string>`coalesce(result_status, status)`;
/** What a run holds in the read model: its output tails and result, and its live output. */
const runBytes = sql<number>`length(stdout) + length(stderr) + coalesce(length(result_json), 0) + output_bytes`;

/** Per flow and effective status: how many runs a purge of `selection` deletes and their bytes; events without runs as flow "-". */
export async function purgeCounts(db: ReadModel, { rule, eventsBefore }: Selection) {
  const groups = await db
    .selectFrom("runs")
    .select([
      "flow_name as flow",
      effective.as("status"),
      (eb) => eb.fn.countAll<number>().as("runs"),
      (eb) => eb.fn.sum<number>(runBytes).as("bytes"),
    ])
    .where((eb) => covered(eb, rule))
    .where("created_at", "<", rule.before)
    .groupBy(["flow_name", effective])
    .orderBy("flow_name")
    .orderBy(effective)
    .execute();
  const rows = groups.map((g) => ({
    flow: g.flow,
    status: g.status,
    runs: Number(g.runs),
    bytes: Number(g.bytes ?? 0),
  }));
  const events = eventsBefore ? await countRunlessEvents(db, eventsBefore) : 0;
  return {
    before: rule.before,
    groups: rows,
    runs: rows.reduce((n, r) => n + r.runs, 0),
    bytes: rows.reduce((n, r) => n + r.bytes, 0),
    eventsWithoutRuns: events,
  };
}

/**
 * One page of an archive of `selection`: runs oldest first, each with its attempts, live
 * output and event (with its match decisions), then events that started no run. The
 * cursor says where the next page starts.
 */
export async function archivePage(
  db: ReadModel,
  { rule, eventsBefore }: Selection,
  rawCursor: string | undefined,
  limit: number,
) {
  const cursor = decodeCursor(rawCursor, 3) as [string, string, string] | undefined;
  const records: Record<string, unknown>[] = [];
  if (!cursor || cursor[0] === "runs") {
    let query = db
      .selectFrom("runs")
      .selectAll()
      .where((eb) => covered(eb, rule))
      .where("created_at", "<", rule.before);
    if (cursor) query = query.where((eb) => eb(eb.refTuple("created_at", "id"), ">", eb.tuple(cursor[1], cursor[2])));
    const runs = await query.orderBy("created_at").orderBy("id").limit(limit).execute();
    for (const run of runs) {
      const attempts = await db
        .selectFrom("attempts")
        .selectAll()
        .where("run_id", "=", run.id)
        .orderBy("attempt")
        .execute();
      const output = await db
        .selectFrom("output")
        .selectAll()
        .where("run_id", "=", run.id)
        .orderBy("attempt")
        .orderBy("chunk")
        .execute();
      const event = await db.selectFrom("events").selectAll().where("id", "=", run.event_id).executeTakeFirst();
      const matches = await db
        .selectFrom("matches")
        .selectAll()
        .where("event_id", "=", run.event_id)
        .orderBy("generation")
        .execute();
      records.push({ kind: "run", run, attempts, output, event: event ?? null, matches });
    }
    const last = runs.at(-1);
    if (runs.length === limit && last) return { records, nextCursor: encodeCursor(["runs", last.created_at, last.id]) };
    if (!eventsBefore) return { records };
  }
  const after = cursor?.[0] === "events" ? Number(cursor[1]) : 0;
  const ids = await selectRunlessEvents(db, eventsBefore!, limit, after);
  for (const { id } of ids) {
    const event = await db.selectFrom("events").selectAll().where("id", "=", id).executeTakeFirst();
    const matches = await db
      .selectFrom("matches")
      .selectAll()
      .where("event_id", "=", id)
      .orderBy("generation")
      .execute();
    records.push({ kind: "event", event, matches });
  }
  const last = ids.at(-1);
  return ids.length === limit && last
    ? { records, nextCursor: encodeCursor(["events", String(last.seq), ""]) }
    : { records };
}
