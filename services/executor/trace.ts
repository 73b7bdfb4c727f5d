/**
 * The executor's spans (docs/tracing.md): the queue wait (the command's creation to the
 * attempt's start), the attempt itself, a chained (`next`) event's accept, and the
 * TRACEPARENT a step gets so that it can add spans of its own under its attempt.
 */
import type { Attributes } from "@opentelemetry/api";
import type { EventAccepted, RunFinished, RunStep } from "../../lib/protocol/messages.ts";
import { messagingAttributes } from "../../lib/tracing/nats.ts";
import { currentTraceHeaders, recordSpan, tracing } from "../../lib/tracing/tracing.ts";

/** The attempt span's attributes known before it runs. */
export function attemptAttributes(command: RunStep, attempt: number, hostId: string, subject: string): Attributes {
  return messagingAttributes(subject, "process", {
    "codex_flows.run.id": command.runId,
    "codex_flows.event.id": command.eventId,
    "codex_flows.flow": command.flow,
    "codex_flows.step": command.step,
    "codex_flows.runner": command.runner,
    "codex_flows.queue": command.queue,
    "codex_flows.attempt": attempt,
    "codex_flows.host": hostId,
  });
}

/** What the attempt's record adds to its span: the status and the step's exit code (process.exit.code). */
export function finishedAttributes(fields: Pick<RunFinished, "status" | "exitCode" | "signal">): Attributes {
  return {
    "codex_flows.run.status": fields.status,
    ...(fields.exitCode !== null ? { "process.exit.code": fields.exitCode } : {}),
    ...(fields.signal ? { "codex_flows.signal": fields.signal } : {}),
  };
}

/** The queue wait of a command's first delivery: from its creation (the match) to now (its attempt starts). */
export function recordQueueWait(command: RunStep, deliveryCount: number): void {
  if (!tracing() || deliveryCount !== 1) return;
  const created = Date.parse(command.createdAt);
  if (Number.isFinite(created))
    recordSpan("queue wait", created, Math.max(created, Date.now()), {
      "codex_flows.run.id": command.runId,
      "codex_flows.queue": command.queue,
    });
}

/** The accept span's attributes of an event a step started (its FLOW_RESULT `next`). */
export function chainedAttributes(accepted: EventAccepted): Attributes {
  return {
    "codex_flows.event.id": accepted.event.id,
    "codex_flows.event.type": accepted.event.type,
    "codex_flows.event.source": "next",
  };
}

/** TRACEPARENT (and TRACESTATE) for a step: the attempt span's context, so a step's own spans are its children; nothing when tracing is off. */
export function stepTraceEnv(): { TRACEPARENT?: string; TRACESTATE?: string } {
  const current = currentTraceHeaders();
  return current
    ? { TRACEPARENT: current.traceparent, ...(current.tracestate ? { TRACESTATE: current.tracestate } : {}) }
    : {};
}
