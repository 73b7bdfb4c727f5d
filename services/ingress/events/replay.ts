import type { EventAccepted } from "../../../lib/protocol/messages.ts";
import type { EventsTable } from "../../../lib/read-model/database.ts";
import type { IngressDeps } from "../deps.ts";
import type { Published } from "../publish.ts";
import { eventFromRow } from "./present.ts";

/**
 * Publishes a stored event again, marked as the next replay generation: the matcher
 * matches it anew against today's flows (new run ids). The one replay path, used by
 * `POST /events/:id/replay` and bulk replays. With `flow`, only that flow's steps run.
 */
export async function replayStored(deps: Pick<IngressDeps, "publish">, row: EventsTable, flow?: string): Promise<Published & { generation: number }> {
  const generation = row.generation + 1;
  const now = new Date().toISOString();
  const accepted: EventAccepted = { v: 1, kind: "event.accepted", event: eventFromRow(row), acceptedAt: now, replay: { generation, requestedAt: now, ...(flow !== undefined ? { flow } : {}) } };
  return { ...(await deps.publish(accepted)), generation };
}
