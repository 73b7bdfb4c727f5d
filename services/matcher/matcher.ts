import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { FlowCatalog } from "../../lib/catalog.ts";
import { type DurableLoop, runDurableLoop } from "../../lib/consume.ts";
import { Slots } from "../../lib/slots.ts";
import { msgIds } from "../../lib/ids.ts";
import type { Logger } from "../../lib/log.ts";
import { decodeMessage, encodeMessage } from "../../lib/messages.ts";
import type { Subjects } from "../../lib/subjects.ts";
import { decide } from "./decide.ts";
import { defer, route } from "./dispatch.ts";

export const MATCHER_DURABLE = "matcher";

export type MatcherOptions = {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  subjects: Subjects;
  catalog: FlowCatalog;
  ackWaitMs: number;
  publishTimeoutMs: number;
  log: Logger;
};

/**
 * Matches accepted events on the shared `matcher` durable consumer (every matcher
 * instance pulls from it). Commands are published before the decision, and the message
 * is acked last, so a crash at any point redoes the same work with the same ids.
 */
export function startMatcher(options: MatcherOptions): DurableLoop {
  const { js, jsm, stream, subjects, catalog, log } = options;
  const publish = (subject: string, body: string, msgID: string) => js.publish(subject, body, { msgID, timeout: options.publishTimeoutMs });

  const alreadyMatched = async (eventId: string, generation: number): Promise<boolean> => {
    // Beyond the dedup window the stream itself remembers: the last decision for this event.
    const last = await jsm.direct.getMessage(stream, { last_by_subj: subjects.matched(eventId) });
    if (!last) return false;
    const decoded = decodeMessage(last.data);
    return decoded.ok && decoded.message.kind === "event.matched" && decoded.message.generation >= generation;
  };

  const handle = async (message: JsMsg) => {
    const decoded = decodeMessage(message.data);
    if (!decoded.ok || decoded.message.kind !== "event.accepted") {
      log.error("poison message on the events subject; terminated", { seq: message.seq, subject: message.subject, error: decoded.ok ? decoded.message.kind : decoded.error });
      return { term: "not an event.accepted message" };
    }
    const accepted = decoded.message;
    const generation = accepted.replay?.generation ?? 0;
    if (await alreadyMatched(accepted.event.id, generation)) return "ack" as const;
    const { matched, commands } = decide(accepted, catalog.current(), new Date().toISOString());
    const deps = { js, jsm, stream, subjects, publishTimeoutMs: options.publishTimeoutMs };
    // A debounced step's run waits for newer events with its key (a replay is not debounced); a paused flow's run is held.
    await Promise.all(
      commands.map((command) => {
        const debounced = generation === 0 ? catalog.find(command.flow, command.step)?.step : undefined;
        return debounced?.trigger.debounce ? defer(deps, command, debounced, accepted.acceptedAt) : route(deps, command, message.seq);
      }),
    );
    await publish(subjects.matched(accepted.event.id), encodeMessage(matched), msgIds.matched(accepted.event.id, generation));
    return "ack" as const;
  };

  return runDurableLoop({
    js,
    jsm,
    stream,
    spec: { durable: MATCHER_DURABLE, filterSubject: subjects.allEvents, ackWaitMs: options.ackWaitMs },
    slots: new Slots(8),
    batch: 8,
    log,
    handle,
  });
}
