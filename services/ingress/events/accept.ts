import { parseFlowEvent, systemFieldProblems } from "../../../lib/protocol/event.ts";
import type { EventAccepted } from "../../../lib/protocol/messages.ts";
import { acceptedSeq, isTombstoned } from "../../../lib/read-model/database.ts";
import { contextFrom, inSpan, SpanKind } from "../../../lib/tracing/tracing.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { type Wait, waitForMatch } from "./wait.ts";

/**
 * The one way an event from outside enters the stream, shared by POST /events,
 * POST /flow-events and POST /webhooks/* (so every sender gets the same checks,
 * duplicate answers, publish path and its retries): `accept` validates a FlowEvent
 * input, answers a known id as a duplicate and publishes a new one; `answer` words the
 * outcome (and waits for the match when asked).
 */
export function eventAcceptor(deps: IngressDeps) {
  const { db, publish } = deps;
  // Spooled: not in the stream yet, so no sequence and no match to wait for; the wait says it timed out.
  const spooledAnswer = (eventId: string, taken: { duplicate: boolean }, wait: Wait) => {
    if (taken.duplicate) deps.counters.duplicates++;
    else deps.counters.accepted++;
    const base = {
      status: taken.duplicate ? ("duplicate" as const) : ("accepted" as const),
      eventId,
      spooled: true,
      ...(taken.duplicate ? { idempotent: true } : {}),
    };
    return wait
      ? { ...base, matched: 0, runIds: [], ...(wait.explicit ? { runs: [] } : {}), waitTimedOut: true }
      : base;
  };
  // The brief default wait for runIds ends by the publish deadline (from the post's arrival): a publish that rode out an election must still answer before the sender gives up.
  const byDeadline = (wait: Wait, arrived: number): Wait => {
    if (!wait || wait.explicit || deps.publishDeadlineMs === undefined) return wait;
    return { ...wait, timeoutMs: Math.max(0, Math.min(wait.timeoutMs, arrived + deps.publishDeadlineMs - Date.now())) };
  };
  const answer = async (
    eventId: string,
    generation: number,
    published: { seq: number; duplicate: boolean },
    wait: Wait,
  ) => {
    if (published.duplicate) deps.counters.duplicates++;
    else deps.counters.accepted++;
    const base = {
      status: published.duplicate ? ("duplicate" as const) : ("accepted" as const),
      eventId,
      seq: published.seq,
      ...(published.duplicate ? { idempotent: true } : {}),
    };
    if (!wait) return base;
    const outcome = await waitForMatch(
      db,
      eventId,
      generation,
      wait.mode,
      wait.timeoutMs,
      deps.changes,
      deps.responseBudgetBytes,
    );
    const runs = wait.explicit ? { runs: outcome.runs } : {};
    return {
      ...base,
      matched: outcome.matched,
      runIds: outcome.runIds,
      ...runs,
      ...(outcome.why ? { why: outcome.why } : {}),
      ...(outcome.timedOut ? { waitTimedOut: true } : {}),
    };
  };

  /**
   * `now`: when the post arrived (its time of acceptance, and where the default wait's deadline counts from).
   * `request`: the request's headers, whose W3C `traceparent` the accept span continues (docs/tracing.md).
   */
  const accept = async (input: unknown, now: Date, waitAsked: Wait, request?: Headers) => {
    const mode = byDeadline(waitAsked, now.getTime());
    const parsed = parseFlowEvent(input, now);
    if (!parsed.ok) throw new HttpError(400, `not a FlowEvent: ${parsed.errors.join("; ")}`, parsed.errors);
    const { event } = parsed;
    const reserved = systemFieldProblems(event);
    if (reserved.length > 0)
      throw new HttpError(400, `not a FlowEvent a client may post: ${reserved.join("; ")}`, reserved);
    const knownSeq = acceptedSeq(db, event.id);
    // Accepted before (perhaps long before the dedup window): nothing new goes to the log.
    // A deleted one (a tombstone) has no match left to wait for.
    if (knownSeq !== undefined)
      return await answer(
        event.id,
        0,
        { seq: knownSeq, duplicate: true },
        isTombstoned(db, event.id) ? undefined : mode,
      );
    const accepted: EventAccepted = { v: 1, kind: "event.accepted", event, acceptedAt: now.toISOString() };
    const attributes = () => ({
      "codex_flows.event.id": event.id,
      "codex_flows.event.type": event.type,
      ...(event.source ? { "codex_flows.event.source": event.source } : {}),
    });
    const traced = { kind: SpanKind.SERVER, parent: contextFrom(request), attributes };
    if (deps.spool) {
      const taken = await inSpan("accept", traced, () => deps.spool!.take(accepted, publish));
      if (taken.spooled) return spooledAnswer(event.id, taken, mode);
      return await answer(event.id, 0, taken, mode);
    }
    return await answer(event.id, 0, await inSpan("accept", traced, () => publish(accepted)), mode);
  };

  /** Runs a write, counting a refusal by its status (/metrics: codex_flows_events_rejected_total). */
  const counted = async <T>(write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      deps.counters.rejected.set(status, (deps.counters.rejected.get(status) ?? 0) + 1);
      throw error;
    }
  };
  return { answer, accept, counted };
}
