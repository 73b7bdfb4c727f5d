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
