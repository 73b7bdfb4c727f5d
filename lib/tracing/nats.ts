/**
 * Trace context in NATS message headers (`traceparent`, `tracestate`, W3C): set by the
 * two publish paths (lib/nats/publish.ts, services/ingress/publish.ts) from the current
 * context, read by the consumer loop (lib/nats/consume.ts) and the projector.
 */
import { type MsgHdrs, headers as natsHeaders } from "@nats-io/nats-core";
import { currentTraceHeaders, tracing } from "./tracing.ts";

/** The publish option that carries the current trace context, or nothing (tracing off, or no span current). */
export function traceHeaders(): { headers: MsgHdrs } | Record<string, never> {
  if (!tracing()) return {};
  const current = currentTraceHeaders();
  if (!current) return {};
  const headers = natsHeaders();
  headers.set("traceparent", current.traceparent);
  if (current.tracestate) headers.set("tracestate", current.tracestate);
  return { headers };
}

/** The trace id a message's `traceparent` names when that trace is sampled (the read model keeps it: a trace the backend has), or null. */
export function traceIdOf(headers: MsgHdrs | undefined): string | null {
  const traceparent = headers?.get("traceparent") ?? "";
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/.exec(traceparent.trim());
  return match && match[1] !== "0".repeat(32) && (parseInt(match[2]!, 16) & 1) === 1 ? match[1]! : null;
}

/** The messaging attributes of a NATS message's span (semantic conventions). */
export function messagingAttributes(
  subject: string,
  operation: "send" | "process" | "receive",
  extra: Record<string, string | number | boolean> = {},
) {
  return {
    "messaging.system": "nats",
    "messaging.destination.name": subject,
    "messaging.operation.type": operation,
    ...extra,
  };
}
