import type { Database } from "bun:sqlite";
import type { Link } from "@opentelemetry/api";
import type { FlowMessage } from "../../lib/protocol/messages.ts";

/** A message of a batch and the trace id its `traceparent` header named (lib/tracing/nats.ts traceIdOf). */
export type Traced = { message: FlowMessage; traceId: string };

/**
 * Keeps each event's and run's trace id (docs/tracing.md): the first accept of an event
 * (a replay keeps the original's, and links to it) and the command that queued a run.
 * Runs inside the batch's transaction, after its rows are written.
 */
export function recordTraceIds(sqlite: Database, traced: readonly Traced[]): void {
  if (traced.length === 0) return;
  const event = sqlite.query("UPDATE events SET trace_id = ? WHERE id = ? AND trace_id IS NULL");
  const run = sqlite.query("UPDATE runs SET trace_id = ? WHERE id = ? AND trace_id IS NULL");
  for (const { message, traceId } of traced) {
    if (message.kind === "event.accepted") event.run(traceId, message.event.id);
    else if (message.kind === "run.step") run.run(traceId, message.runId);
  }
}

/** The most traces one apply span links to (a batch holds up to 2,000 messages). */
const MAX_LINKS = 32;

/** The apply span's links: the distinct traces of the batch's messages, at most MAX_LINKS (tracing on only). */
export function applyLinks(batch: readonly { headers?: { get(name: string): string } }[]): Link[] {
  const seen = new Set<string>();
  for (const m of batch) {
    if (seen.size >= MAX_LINKS) break;
    const traceparent = m.headers?.get("traceparent");
    if (traceparent) seen.add(traceparent);
  }
  return [...seen].flatMap((traceparent) => {
    const [, traceId, spanId] = traceparent.split("-");
    return traceId && spanId ? [{ context: { traceId, spanId, traceFlags: 1, isRemote: true } }] : [];
  });
}
