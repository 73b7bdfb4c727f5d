import type { Static } from "elysia";
import { OPERATOR_ACTIONS } from "../../../lib/protocol/messages.ts";
import type { AuditTable, ReadModel } from "../../../lib/read-model/database.ts";
import { HttpError } from "../errors.ts";
import { newestBySeq } from "../paging.ts";
import type { AuditEntry } from "./schemas.ts";

/** The filters GET /audit takes (query parameters, as strings). */
export type AuditFilters = Partial<
  Record<"action" | "actor" | "runId" | "eventId" | "flow" | "since" | "until" | "limit" | "cursor", string>
>;

function present(row: AuditTable): Static<typeof AuditEntry> {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    runId: row.run_id,
    eventId: row.event_id,
    flow: row.flow,
    step: row.step,
    summary: row.summary,
    reason: row.reason,
    actionSeq: row.action_seq,
  };
}

/** One page of audit records matching the filters, newest first (by stream sequence), with `nextCursor` when there is more. */
export async function listAudit(
  db: ReadModel,
  filters: AuditFilters,
): Promise<{ entries: Static<typeof AuditEntry>[]; nextCursor?: string }> {
  let query = db.selectFrom("audit").selectAll();
  if (filters.action) {
    const wanted = filters.action.split(",").map((a) => a.trim());
    const unknown = wanted.find((a) => !(OPERATOR_ACTIONS as readonly string[]).includes(a));
    if (unknown !== undefined)
      throw new HttpError(
        400,
        `action=${JSON.stringify(filters.action)} is invalid: expected comma-separated actions from ${OPERATOR_ACTIONS.join(", ")}`,
      );
    query = query.where("action", "in", wanted as AuditTable["action"][]);
  }
  if (filters.actor) query = query.where("actor", "=", filters.actor);
  if (filters.runId) query = query.where("run_id", "=", filters.runId);
  if (filters.eventId) query = query.where("event_id", "=", filters.eventId);
  if (filters.flow) query = query.where("flow", "=", filters.flow);
  const { rows, nextCursor } = await newestBySeq(query, "at", filters);
  const entries = rows.map(present);
  return nextCursor ? { entries, nextCursor } : { entries };
}
