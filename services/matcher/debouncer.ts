import type { JsMsg } from "@nats-io/jetstream";
import type { FlowCatalog } from "../../lib/flows/catalog.ts";
import { matcherWait } from "../../lib/flows/debounce.ts";
import type { Logger } from "../../lib/log.ts";
import { type DurableLoop, runDurableLoop } from "../../lib/nats/consume.ts";
import { publisher } from "../../lib/nats/publish.ts";
import { consumers, MATCHER_DURABLE } from "../../lib/protocol/consumers.ts";
import { decodeMessage, type RunDeferred } from "../../lib/protocol/messages.ts";
import { Slots } from "../../lib/slots.ts";
import { admit, canceled, type DispatchDeps } from "./dispatch.ts";
import { arrivalOf, type Stored, settleDeferred } from "./route.ts";

/** The most deferred runs of one key read to settle one run (a key's runs after its event, in stream order). */
export const MAX_DEFERRED_SCAN = 1_000;

/**
 * Settles debounced runs on the shared `debouncer` consumer: a deferred run is handed
 * back (nak with delay) until its debounce time passed, and while the matchers have not
 * matched every event that arrived within that time; then the deferred runs of its key
 * decide (route.ts settleDeferred): one whose event was stored after its event, within the
 * debounce time, supersedes it, otherwise it is routed to its queue. The timer is
 * JetStream's redelivery, so it survives restarts.
 */
export async function startDebouncer(
  deps: DispatchDeps & { ackWaitMs: number; log: Logger; catalog: FlowCatalog },
): Promise<DurableLoop> {
  const { js, jsm, stream, subjects, log } = deps;
  const publish = publisher(deps);
  const handle = async (deferred: RunDeferred, message: JsMsg) => {
    const wait = Date.parse(deferred.dueAt) - Date.now();
    if (wait > 0) return { nak: wait };
    const mine = arrivalOf(deferred, message.seq);
    // Two matchers defer runs in the order they finish: wait until none is still matching an event of the window.
    const behind = matcherWait(mine, deferred.dueAt, await oldestUnmatched(deps), deferred.debounceMs, Date.now());
    if (behind > 0) return { nak: behind };
    const settled = settleDeferred(deferred, {
      storedSeq: message.seq,
      later: await deferredAfter(deps, message.subject, mine.seq),
      now: new Date().toISOString(),
    });
    if (settled.kind === "release") {
      const { command } = deferred;
      const approval = deps.catalog.find(command.flow, command.step)?.step.approval;
      if (!(await canceled(deps, deferred.runId))) await admit(deps, command, approval);
    } else {
      await publish(settled.superseded);
    }
    return "ack" as const;
  };
  return await runDurableLoop({
    js,
    jsm,
    stream,
    consumer: consumers.debouncer(subjects, deps),
    slots: new Slots(16),
    batch: 16,
    log,
    handle,
  });
}

/** The deferred runs on a key's subject stored after an event's sequence (a later event's run is always deferred after it). */
async function deferredAfter(deps: DispatchDeps, subject: string, seq: number): Promise<Stored[]> {
  const found: Stored[] = [];
  let cursor = seq + 1;
  for (let read = 0; read < MAX_DEFERRED_SCAN; read++) {
    const stored = await deps.jsm.direct.getMessage(deps.stream, { seq: cursor, next_by_subj: subject });
    if (!stored) break;
    cursor = stored.seq + 1;
    const decoded = decodeMessage(stored.data);
    if (decoded.ok && decoded.message.kind === "run.deferred")
      found.push({ seq: stored.seq, message: decoded.message });
  }
  return found;
}

/** The oldest event the matchers have not finished (the first after the `matcher` consumer's ack floor), if any. */
async function oldestUnmatched(deps: DispatchDeps): Promise<{ arrivedAt: string } | undefined> {
  const info = await deps.jsm.consumers.info(deps.stream, MATCHER_DURABLE);
  const stored = await deps.jsm.direct.getMessage(deps.stream, {
    seq: info.ack_floor.stream_seq + 1,
    next_by_subj: deps.subjects.allEvents,
  });
  if (!stored) return undefined;
  const decoded = decodeMessage(stored.data);
  // Whatever is not an event there is no run of ours to wait for (the matcher terms it).
  return decoded.ok && decoded.message.kind === "event.accepted"
    ? { arrivedAt: decoded.message.acceptedAt }
    : undefined;
}
