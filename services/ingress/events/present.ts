import { wantedType } from "../../../lib/flows/why-no-match.ts";
import type { FlowEvent } from "../../../lib/protocol/event.ts";
import type { EventsTable } from "../../../lib/read-model/database.ts";

/** The FlowEvent a stored event row holds. */
export function eventFromRow(row: EventsTable): FlowEvent {
  return {
    id: row.id,
    type: row.type,
    ...(row.source !== null ? { source: row.source } : {}),
    ...(row.occurred_at !== null ? { occurredAt: row.occurred_at } : {}),
    receivedAt: row.received_at,
    payload: JSON.parse(row.payload_json),
  };
}

/** What `isNearMiss` reads of a match decision. */
type DecisionFacts = { matched: boolean; runner: string; reasons: string[] };

/**
 * A near miss: a step that wants this event's type but did not start a run because its
 * schema or a limit said no (`schema: /repo must be string`, `not started: ...`). Not
 * one whose type differs, one that did not load (runner "-"), or one a replay limited
 * to another flow left out on purpose.
 */
export function isNearMiss(decision: DecisionFacts): boolean {
  if (decision.matched || decision.runner === "-") return false;
  if (decision.reasons.some((r) => wantedType(r) !== undefined)) return false;
  return decision.reasons.some((r) => !r.startsWith("not replayed:"));
}
