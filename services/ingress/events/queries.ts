import type { Static } from "@sinclair/typebox";
import type { StepDecision } from "../../../lib/protocol/messages.ts";
import type { EventsTable, ReadModel } from "../../../lib/read-model/database.ts";
import { traceFields } from "../../../lib/tracing/links.ts";
import { ResponseBudget } from "../budget.ts";
import { HttpError } from "../errors.ts";
import { newestBySeq } from "../paging.ts";
import { runsForEvent } from "../runs/queries.ts";
import type { EventDetail } from "../schemas.ts";
import { eventFromRow, isNearMiss } from "./present.ts";

export type EventFilters = Partial<Record<"type" | "source" | "since" | "until" | "limit" | "cursor", string>>;

/**
 * An event as the API shows it: the FlowEvent, when it was accepted, and what it
 * started. In a list, a payload that does not fit the answer's `budget` is left out
 * (null) and `elided` links the event.
 */
export function presentEvent(row: EventsTable, runIds: string[], budget?: ResponseBudget) {
  const whole = budget === undefined || budget.take(row.payload_json.length);
  return {
    ...(whole
      ? eventFromRow(row)
      : {
          ...eventFromRow({ ...row, payload_json: "null" }),
          elided: {
            fields: ["payload"],
            bytes: row.payload_json.length,
            href: `/events/${encodeURIComponent(row.id)}`,
          },
        }),
    createdAt: row.accepted_at,
    acceptedAt: row.accepted_at,
    seq: row.seq,
    generation: row.generation,
    matchedGeneration: row.matched_generation,
    matchedAt: row.matched_at,
    matchedCount: row.matched_count,
    chainDepth: row.chain_depth,
    parentRunId: row.parent_run_id,
    runIds,
    ...traceFields(row.trace_id),
  };
}

/** One page of events, newest accepted first, filtered by type, source and time of receipt. */
export async function listEvents(db: ReadModel, filters: EventFilters, budgetBytes: number) {
  let query = db.selectFrom("events").selectAll();
  if (filters.type) query = query.where("type", "=", filters.type);
  if (filters.source) query = query.where("source", "=", filters.source);
  const { rows: page, nextCursor } = await newestBySeq(query, "accepted_at", filters);
  const runs =
    page.length === 0
      ? []
      : await db
          .selectFrom("runs")
          .select(["id", "event_id"])
          .where(
            "event_id",
            "in",
            page.map((e) => e.id),
          )
          .orderBy("created_at")
          .execute();
  const budget = new ResponseBudget(budgetBytes);
  const events = page.map((row) =>
    presentEvent(
      row,
      runs.filter((r) => r.event_id === row.id).map((r) => r.id),
      budget,
    ),
  );
  return nextCursor ? { events, nextCursor } : { events };
}

/** One event with every match decision (each step, matched or not, with the reasons) and its runs; 404 when unknown. */
export async function getEvent(db: ReadModel, id: string, budgetBytes: number): Promise<Static<typeof EventDetail>> {
  const row = await db.selectFrom("events").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row) throw new HttpError(404, `no event with id ${JSON.stringify(id)}`);
  const matches = await db.selectFrom("matches").selectAll().where("event_id", "=", id).orderBy("generation").execute();
  const runs = await runsForEvent(db, id, budgetBytes);
  const event = {
    ...presentEvent(
      row,
      runs.map((r) => r.id),
    ),
    decisions: matches.flatMap((m) =>
      (JSON.parse(m.decisions_json) as StepDecision[]).map((d) => ({
        generation: m.generation,
        flowName: d.flow,
        flowVersion: d.flowVersion,
        stepName: d.step,
        runner: d.runner,
        matched: d.matched,
        runId: d.runId ?? null,
        queue: d.queue ?? null,
        reasons: d.reasons,
        nearMiss: isNearMiss(d),
      })),
    ),
  };
  // The runs once, beside the event (the existing client reads `runs` there, or on the event).
  return { event, runs };
}
