import type { JsMsg } from "@nats-io/jetstream";
import { type DurableLoop, runDurableLoop } from "../../lib/consume.ts";
import { type Arrival, debounceVerdict } from "../../lib/debounce.ts";
import type { Logger } from "../../lib/log.ts";
import { decodeMessage, encodeMessage, type RunSuperseded } from "../../lib/messages.ts";
import { Slots } from "../../lib/slots.ts";
import { canceled, type DispatchDeps, route } from "./dispatch.ts";

export const DEBOUNCER_DURABLE = "debouncer";

/**
 * Settles debounced runs on the shared `debouncer` consumer: a deferred run is handed
 * back (nak with delay) until its debounce time passed; then the next deferred run with
 * the same key decides: one that came within the debounce time supersedes it, otherwise
 * it is routed to its queue. The timer is JetStream's redelivery, so it survives restarts.
 */
export function startDebouncer(deps: DispatchDeps & { ackWaitMs: number; log: Logger }): DurableLoop {
  const { js, jsm, stream, subjects, log } = deps;
  const handle = async (message: JsMsg) => {
    const decoded = decodeMessage(message.data);
    if (!decoded.ok || decoded.message.kind !== "run.deferred") {
      log.error("poison message on a debounce subject; terminated", { seq: message.seq, error: decoded.ok ? decoded.message.kind : decoded.error });
      return { term: "not a run.deferred message" };
    }
    const deferred = decoded.message;
    const wait = Date.parse(deferred.dueAt) - Date.now();
    if (wait > 0) return { nak: wait };
    const stored = await jsm.direct.getMessage(stream, { seq: message.seq + 1, next_by_subj: message.subject });
    const next = stored ? decodeMessage(stored.data) : undefined;
    const later: Arrival | undefined = next?.ok && next.message.kind === "run.deferred" ? { eventId: next.message.command.eventId, arrivedAt: next.message.arrivedAt } : undefined;
    const verdict = debounceVerdict({ eventId: deferred.command.eventId, arrivedAt: deferred.arrivedAt }, later, deferred.debounceMs);
    if (verdict.start) {
      if (!(await canceled(deps, deferred.runId))) await route(deps, deferred.command);
    } else {
      const superseded: RunSuperseded = { v: 1, kind: "run.superseded", runId: deferred.runId, supersededBy: verdict.supersededBy, at: new Date().toISOString() };
      await js.publish(subjects.run(deferred.runId, "superseded"), encodeMessage(superseded), { msgID: `run:${deferred.runId}:superseded`, timeout: deps.publishTimeoutMs });
    }
    return "ack" as const;
  };
  return runDurableLoop({ js, jsm, stream, spec: { durable: DEBOUNCER_DURABLE, filterSubject: subjects.allDebounce, ackWaitMs: deps.ackWaitMs }, slots: new Slots(16), batch: 16, log, handle });
}
