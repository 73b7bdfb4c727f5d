import { type TSchema, t } from "elysia";
import type { FlowMessage } from "../../../lib/protocol/messages.ts";
import { FINAL_STATUSES, RUN_STATUSES } from "../../../lib/protocol/status.ts";
import type { RunsTable } from "../../../lib/read-model/tables.ts";
import { MAX_REASON, operatorAction } from "../audit/record.ts";
import { checkScope } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { waitForSeq } from "../read-your-writes.ts";
import { BULK_LIMIT, type BulkAnswer } from "./bulk-schemas.ts";
import { retryCommand } from "./operate.ts";

export { BulkAnswer } from "./bulk-schemas.ts";

/** What a bulk action may take: cancel the runs not ended (queued, running, awaiting approval), retry the ones that ended. */
export type BulkVerb = "cancel" | "retry";
const LIVE = RUN_STATUSES.filter((s) => !FINAL_STATUSES.has(s));
const STATUSES: Record<BulkVerb, readonly string[]> = { cancel: LIVE, retry: FINAL_STATUSES.list };

/** The body of POST /bulk/cancel or /bulk/retry: a selection (`ids`) or a filter, a dry run unless `dryRun: false`, and why. */
function bulkBody(verb: BulkVerb) {
  const statuses = STATUSES[verb];
  const text = t.Optional(t.String({ minLength: 1 }));
  const Time = t.Optional(t.String({ format: "date-time" }));
  const Filter = t.Object(
    {
      flow: text,
      step: text,
      eventId: text,
      queue: text,
      host: text,
      status: t.Optional(
        t.Union(statuses.map((s) => t.Literal(s)) as TSchema[], { error: `expected one of ${statuses.join(", ")}` }),
      ),
      since: Time,
      until: Time,
    },
    {
      additionalProperties: false,
      minProperties: 1,
      description: `Runs that match every field given (as GET /runs's filters), among those ${verb === "cancel" ? "still queued or running" : "that ended"}`,
    },
  );
  const dryRun = t.Optional(
    t.Boolean({
      description: `true (the default): count and list what would be ${verb === "cancel" ? "canceled" : "retried"}, change nothing`,
    }),
  );
  const reason = t.Optional(
    t.String({ maxLength: MAX_REASON, description: "Why: recorded in the audit log, once per run" }),
  );
  return t.Union(
    [
      t.Object(
        {
          ids: t.Array(t.String({ minLength: 1 }), {
            minItems: 1,
            maxItems: BULK_LIMIT,
            description: "The runs picked (a selection)",
          }),
          dryRun,
          reason,
        },
        { additionalProperties: false },
      ),
      t.Object({ filter: Filter, dryRun, reason }, { additionalProperties: false }),
    ],
    {
      error: `expected {"ids": [...]} (at most ${BULK_LIMIT}) or {"filter": {...}} (at least one field), with "dryRun" and "reason"`,
    },
  );
}
export const BulkCancelBody = bulkBody("cancel");
export const BulkRetryBody = bulkBody("retry");
type Filter = Partial<Record<"flow" | "step" | "eventId" | "queue" | "host" | "status" | "since" | "until", string>>;
export type BulkBody = ({ ids: string[] } | { filter: Filter }) & { dryRun?: boolean; reason?: string };

function isoOf(name: string, value: string): string {
  const at = new Date(value);
  if (Number.isNaN(at.getTime()))
    throw new HttpError(400, `invalid body: /filter/${name}: expected an ISO-8601 time, got ${JSON.stringify(value)}`);
  return at.toISOString();
}

/** Why a run cannot take the verb now, or null when it can. */
function unfit(verb: BulkVerb, row: RunsTable): string | null {
  if (verb === "retry") return FINAL_STATUSES.has(row.status) ? null : `still ${row.status}`;
  if (FINAL_STATUSES.has(row.status)) return `already ended (${row.status})`;
  return row.cancel_requested_at ? "already being canceled" : null;
}

async function selection(
  deps: IngressDeps,
  verb: BulkVerb,
  body: BulkBody,
): Promise<{ rows: RunsTable[]; matched: number; skipped: { id: string; why: string }[] }> {
  if ("ids" in body) {
    const ids = [...new Set(body.ids)];
    const found = new Map(
      (await deps.db.selectFrom("runs").selectAll().where("id", "in", ids).execute()).map((r) => [r.id, r]),
    );
    const skipped: { id: string; why: string }[] = [];
    const rows: RunsTable[] = [];
    for (const id of ids) {
      const row = found.get(id);
      const why = row ? unfit(verb, row) : "no such run";
      if (why || !row) skipped.push({ id, why: why ?? "no such run" });
      else rows.push(row);
    }
    return { rows, matched: rows.length, skipped };
  }
  const f = body.filter;
  let query = deps.db
    .selectFrom("runs")
    .where("status", "in", (f.status ? [f.status] : STATUSES[verb]) as RunsTable["status"][]);
  if (verb === "cancel") query = query.where("cancel_requested_at", "is", null);
  if (f.flow) query = query.where("flow_name", "=", f.flow);
  if (f.step) query = query.where("step_name", "=", f.step);
  if (f.eventId) query = query.where("event_id", "=", f.eventId);
  if (f.queue) query = query.where("queue", "=", f.queue);
  if (f.host) query = query.where("host", "=", f.host);
  if (f.since) query = query.where("created_at", ">=", isoOf("since", f.since));
  if (f.until) query = query.where("created_at", "<", isoOf("until", f.until));
  const counted = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirst();
  const rows = await query.selectAll().orderBy("created_at").orderBy("id").limit(BULK_LIMIT).execute();
  return { rows, matched: Number(counted?.n ?? 0), skipped: [] };
}

/**
 * POST /bulk/cancel and /bulk/retry: the runs a selection (`ids`) or a filter names that
 * can take the verb (cancel: queued or running; retry: ended), at most BULK_LIMIT a
 * request, after a dry run (the default) that counts and lists them. A token limited to
 * some flows may act only on those flows' runs: one run outside them refuses the whole
 * request (403) before anything is written. Each run gets what POST /runs/:id/cancel or
 * /retry writes: its `run.cancel` or `run.step` message and one audit record (the summary
 * naming the bulk request); the answer comes once the read model has them.
 */
export async function bulkAct(
  deps: IngressDeps,
  verb: BulkVerb,
  request: Request,
  body: BulkBody,
): Promise<BulkAnswer> {
  const { rows, matched, skipped } = await selection(deps, verb, body);
  for (const row of rows) checkScope(request, row.flow_name, `run ${row.id}`);
  const dryRun = body.dryRun ?? true;
  const runs = rows.map((r) => ({ id: r.id, flowName: r.flow_name, stepName: r.step_name, status: r.status }));
  const answer = { dryRun, matched, runs, remaining: Math.max(0, matched - rows.length), skipped };
  if (dryRun) return answer;
  const events =
    verb === "retry"
      ? new Map(
          (
            await deps.db
              .selectFrom("events")
              .selectAll()
              .where("id", "in", [...new Set(rows.map((r) => r.event_id))])
              .execute()
          ).map((e) => [e.id, e]),
        )
      : new Map();
  const at = new Date().toISOString();
  const how =
    "ids" in body
      ? `${body.ids.length} id${body.ids.length === 1 ? "" : "s"}`
      : `filter ${JSON.stringify(body.filter)}`;
  let last = 0;
  for (const row of rows) {
    const event = events.get(row.event_id);
    if (verb === "retry" && !event) {
      answer.skipped.push({ id: row.id, why: `its event ${row.event_id} is not in the read model` });
      continue;
    }
    const message: FlowMessage =
      verb === "cancel"
        ? {
            v: 1,
            kind: "run.cancel",
            runId: row.id,
            requestedAt: at,
            reason: body.reason ?? "requested through the API (bulk cancel)",
          }
        : retryCommand(row, event!);
    const action = operatorAction(deps, request, {
      action: verb,
      target: { runId: row.id, eventId: row.event_id, flow: row.flow_name, step: row.step_name },
      summary: `POST /bulk/${verb} (${how})`.slice(0, 2000),
      reason: body.reason,
    });
    const { seq } = await action.publish(message, verb === "cancel" ? { after: row.attempt } : undefined);
    last = Math.max(last, seq, (await action.record()).seq);
  }
  answer.runs = answer.runs.filter((r) => !answer.skipped.some((s) => s.id === r.id));
  if (last > 0) await waitForSeq(deps.db, last, deps.waitTimeoutMs, deps.changes);
  return answer;
}
