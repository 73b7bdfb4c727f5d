import type { EventAccepted } from "../../../lib/protocol/messages.ts";
import type { EventsTable } from "../../../lib/read-model/database.ts";
import { inSpan, linkTo, SpanKind } from "../../../lib/tracing/tracing.ts";
import type { IngressDeps } from "../deps.ts";
import type { Published } from "../publish.ts";
import { eventFromRow } from "./present.ts";

/**
 * Publishes a stored event again, marked as the next replay generation: the matcher
 * matches it anew against today's flows (new run ids). The one replay path, used by
 * `POST /events/:id/replay` and bulk replays. With `flow`, only that flow's steps run.
 */
export async function replayStored(
  deps: Pick<IngressDeps, "publish">,
  row: EventsTable,
  flow?: string,
): Promise<Published & { generation: number }> {
  const generation = row.generation + 1;
  const now = new Date().toISOString();
  const accepted: EventAccepted = {
    v: 1,
    kind: "event.accepted",
    event: eventFromRow(row),
    acceptedAt: now,
    replay: { generation, requestedAt: now, ...(flow !== undefined ? { flow } : {}) },
  };
  // A replay is a trace of its own (tracing on), linked to the original event's.
  const traced = {
    kind: SpanKind.SERVER,
    attributes: () => ({
      "codex_flows.event.id": row.id,
      "codex_flows.event.type": row.type,
      "codex_flows.event.generation": generation,
    }),
    links: () => linkTo(row.trace_id, { "codex_flows.link": "replay of" }),
  };
  return { ...(await inSpan("accept", traced, () => deps.publish(accepted))), generation };
}
