import type { JsMsg } from "@nats-io/jetstream";
import { type DurableLoop, runPullLoop } from "../../lib/nats/consume.ts";
import { type Arrival, debounceVerdict, matcherWait } from "../../lib/flows/debounce.ts";
import type { Logger } from "../../lib/log.ts";
import { decodeMessage, encodeMessage, type RunDeferred, type RunSuperseded } from "../../lib/protocol/messages.ts";
import { Slots } from "../../lib/slots.ts";
import { canceled, type DispatchDeps, route } from "./dispatch.ts";
import { MATCHER_DURABLE } from "../../lib/protocol/consumers.ts";

export const DEBOUNCER_DURABLE = "debouncer";

/** The most deferred runs of one key read to settle one run (a key's runs after its event, in stream order). */
export const MAX_DEFERRED_SCAN = 1_000;

/**
 * Settles debounced runs on the shared `debouncer` consumer: a deferred run is handed
 * back (nak with delay) until its debounce time passed, and while the matchers have not
 * matched every event that arrived within that time; then the deferred runs of its key
 * decide (lib/flows/debounce.ts): one whose event was stored after its event, within the
 * debounce time, supersedes it, otherwise it is routed to its queue. The timer is
 * JetStream's redelivery, so it survives restarts.
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
    const mine = arrivalOf(deferred, message.seq);
    // Two matchers defer runs in the order they finish: wait until none is still matching an event of the window.
    const behind = matcherWait(mine, deferred.dueAt, await oldestUnmatched(deps), deferred.debounceMs, Date.now());
    if (behind > 0) return { nak: behind };
    const verdict = debounceVerdict(mine, await deferredAfter(deps, message.subject, mine.seq), deferred.debounceMs);
    if (verdict.start) {
      if (!(await canceled(deps, deferred.runId))) await route(deps, deferred.command);
    } else {
      const superseded: RunSuperseded = { v: 1, kind: "run.superseded", runId: deferred.runId, supersededBy: verdict.supersededBy, at: new Date().toISOString() };
      await js.publish(subjects.run(deferred.runId, "superseded"), encodeMessage(superseded), { msgID: `run:${deferred.runId}:superseded`, timeout: deps.publishTimeoutMs });
    }
    return "ack" as const;
  };
  return runPullLoop({ js, jsm, stream, spec: { durable: DEBOUNCER_DURABLE, filterSubject: subjects.allDebounce, ackWaitMs: deps.ackWaitMs }, slots: new Slots(16), batch: 16, log, handle });
}

/** A deferred run's event as the decision sees it (a message of an older version, without eventSeq, is ordered by its own sequence). */
function arrivalOf(deferred: RunDeferred, storedSeq: number): Arrival {
  return { eventId: deferred.command.eventId, seq: deferred.eventSeq ?? storedSeq, arrivedAt: deferred.arrivedAt };
}

/** The deferred runs on a key's subject stored after an event's sequence (a later event's run is always deferred after it). */
async function deferredAfter(deps: DispatchDeps, subject: string, seq: number): Promise<Arrival[]> {
  const found: Arrival[] = [];
  let cursor = seq + 1;
  for (let read = 0; read < MAX_DEFERRED_SCAN; read++) {
    const stored = await deps.jsm.direct.getMessage(deps.stream, { seq: cursor, next_by_subj: subject });
    if (!stored) break;
    cursor = stored.seq + 1;
    const decoded = decodeMessage(stored.data);
    if (decoded.ok && decoded.message.kind === "run.deferred") found.push(arrivalOf(decoded.message, stored.seq));
  }
  return found;
}

/** The oldest event the matchers have not finished (the first after the `matcher` consumer's ack floor), if any. */
async function oldestUnmatched(deps: DispatchDeps): Promise<{ arrivedAt: string } | undefined> {
  const info = await deps.jsm.consumers.info(deps.stream, MATCHER_DURABLE);
  const stored = await deps.jsm.direct.getMessage(deps.stream, { seq: info.ack_floor.stream_seq + 1, next_by_subj: deps.subjects.allEvents });
  if (!stored) return undefined;
  const decoded = decodeMessage(stored.data);
  // Whatever is not an event there is no run of ours to wait for (the matcher terms it).
  return decoded.ok && decoded.message.kind === "event.accepted" ? { arrivedAt: decoded.message.acceptedAt } : undefined;
}
