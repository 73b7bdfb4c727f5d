import { type Static, t } from "elysia";
import type { RunCancelRequested } from "../../../lib/protocol/messages.ts";
import { FINAL_STATUSES, RUN_STATUSES } from "../../../lib/protocol/status.ts";
import { MAX_REASON, operatorAction } from "../audit/record.ts";
import { checkScope } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { waitForSeq } from "../read-your-writes.ts";
import { BULK_LIMIT, type BulkCancelAnswer } from "./bulk-schemas.ts";

export { BulkCancelAnswer } from "./bulk-schemas.ts";


const Time = t.String({ format: "date-time" });
const Filter = t.Object(
  {
    flow: t.Optional(t.String({ minLength: 1 })),
    step: t.Optional(t.String({ minLength: 1 })),
    eventId: t.Optional(t.String({ minLength: 1 })),
    queue: t.Optional(t.String({ minLength: 1 })),
    host: t.Optional(t.String({ minLength: 1 })),
    status: t.Optional(t.Union([t.Literal("queued"), t.Literal("running")], { error: "expected queued or running (runs that ended cannot be canceled)" })),
    since: t.Optional(Time),
    until: t.Optional(Time),
  },
  { additionalProperties: false, minProperties: 1, description: "Runs that match every field given (as GET /runs's filters), among those still queued or running" },
);

const DryRunField = t.Optional(t.Boolean({ description: "true (the default): count and list what would be canceled, cancel nothing" }));
const ReasonField = t.Optional(t.String({ maxLength: MAX_REASON, description: "Why: recorded in the audit log, once per run" }));
export const BulkCancelBody = t.Union(
  [
    t.Object({ ids: t.Array(t.String({ minLength: 1 }), { minItems: 1, maxItems: BULK_LIMIT, description: "The runs picked (a selection)" }), dryRun: DryRunField, reason: ReasonField }, { additionalProperties: false }),
    t.Object({ filter: Filter, dryRun: DryRunField, reason: ReasonField }, { additionalProperties: false }),
  ],
  { error: `expected {"ids": [...]} (at most ${BULK_LIMIT}) or {"filter": {...}} (at least one field), with "dryRun" and "reason"` },
);
export type BulkCancelBody = Static<typeof BulkCancelBody>;


type Row = { id: string; flow_name: string; step_name: string; status: string; event_id: string; attempt: number; cancel_requested_at: string | null };

function isoOf(name: string, value: string): string {
  const at = new Date(value);
  if (Number.isNaN(at.getTime())) throw new HttpError(400, `invalid body: /filter/${name}: expected an ISO-8601 time, got ${JSON.stringify(value)}`);
  return at.toISOString();
}

async function selection(deps: IngressDeps, body: BulkCancelBody): Promise<{ rows: Row[]; matched: number; skipped: { id: string; why: string }[] }> {
  const columns = ["id", "flow_name", "step_name", "status", "event_id", "attempt", "cancel_requested_at"] as const;
  if ("ids" in body) {
    const ids = [...new Set(body.ids)];
    const found = new Map((await deps.db.selectFrom("runs").select(columns).where("id", "in", ids).execute()).map((r) => [r.id, r]));
    const skipped: { id: string; why: string }[] = [];
    const rows: Row[] = [];
    for (const id of ids) {
      const row = found.get(id);
      if (!row) skipped.push({ id, why: "no such run" });
      else if (FINAL_STATUSES.has(row.status)) skipped.push({ id, why: `already ended (${row.status})` });
      else if (row.cancel_requested_at) skipped.push({ id, why: "already being canceled" });
      else rows.push(row);
    }
    return { rows, matched: rows.length, skipped };
  }
  const f = body.filter;
  const live = RUN_STATUSES.filter((s) => !FINAL_STATUSES.has(s));
  let query = deps.db.selectFrom("runs").where("status", "in", f.status ? [f.status] : live).where("cancel_requested_at", "is", null);
  if (f.flow) query = query.where("flow_name", "=", f.flow);
  if (f.step) query = query.where("step_name", "=", f.step);
  if (f.eventId) query = query.where("event_id", "=", f.eventId);
  if (f.queue) query = query.where("queue", "=", f.queue);
  if (f.host) query = query.where("host", "=", f.host);
  if (f.since) query = query.where("created_at", ">=", isoOf("since", f.since));
  if (f.until) query = query.where("created_at", "<", isoOf("until", f.until));
  const counted = await query.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirst();
  const rows = await query.select(columns).orderBy("created_at").orderBy("id").limit(BULK_LIMIT).execute();
  return { rows, matched: Number(counted?.n ?? 0), skipped: [] };
}

/**
 * POST /runs/cancel: cancels the queued and running runs a selection (`ids`) or a filter
 * names, at most BULK_LIMIT a request, after a dry run (the default) that counts them.
 * A token limited to some flows may cancel only those flows' runs: one run outside them
 * refuses the whole request (403) before anything is written. Each cancel is one
 * `run.cancel` message and one audit record (action `cancel`, the summary naming the bulk
 * request), as POST /runs/:id/cancel writes; the answer comes once the read model has them.
 */
export async function bulkCancel(deps: IngressDeps, request: Request, body: BulkCancelBody): Promise<BulkCancelAnswer> {
  const { rows, matched, skipped } = await selection(deps, body);
  for (const row of rows) checkScope(request, row.flow_name, `run ${row.id}`);
  const dryRun = body.dryRun ?? true;
  const runs = rows.map((r) => ({ id: r.id, flowName: r.flow_name, stepName: r.step_name, status: r.status }));
  const answer = { dryRun, matched, runs, remaining: Math.max(0, matched - rows.length), skipped };
  if (dryRun) return answer;
  const requestedAt = new Date().toISOString();
  const how = "ids" in body ? `${body.ids.length} id${body.ids.length === 1 ? "" : "s"}` : `filter ${JSON.stringify(body.filter)}`;
  let last = 0;
  for (const row of rows) {
    const message: RunCancelRequested = { v: 1, kind: "run.cancel", runId: row.id, requestedAt, reason: body.reason ?? "requested through the API (bulk cancel)" };
    const action = operatorAction(deps, request, { action: "cancel", target: { runId: row.id, eventId: row.event_id, flow: row.flow_name, step: row.step_name }, summary: `POST /runs/cancel (${how})`.slice(0, 2000), reason: body.reason });
    const { seq } = await action.publish(message, { after: row.attempt });
    last = Math.max(last, seq, (await action.record()).seq);
  }
  if (last > 0) await waitForSeq(deps.db, last, deps.waitTimeoutMs, deps.changes);
  return answer;
}
