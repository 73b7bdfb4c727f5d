import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { FlowCatalog } from "../../lib/flows/catalog.ts";
import { deferredRun } from "../../lib/flows/debounce.ts";
import type { Logger } from "../../lib/log.ts";
import { type DurableLoop, runDurableLoop } from "../../lib/nats/consume.ts";
import { publisher } from "../../lib/nats/publish.ts";
import { consumers } from "../../lib/protocol/consumers.ts";
import {
  decodeMessage,
  type EventAccepted,
  type RunCancelRequested,
  type RunStep,
} from "../../lib/protocol/messages.ts";
import type { Subjects } from "../../lib/protocol/subjects.ts";
import { Slots } from "../../lib/slots.ts";
import { annotate } from "../../lib/tracing/tracing.ts";
import { decide } from "./decide.ts";
import { admit, defer, readPauses, runRecorded } from "./dispatch.ts";
import { fitDecision } from "./fit.ts";
import { giveUpDecision } from "./give-up.ts";
import { type Prior, seenBefore } from "./seen.ts";

export type MatcherOptions = {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  subjects: Subjects;
  catalog: FlowCatalog;
  ackWaitMs: number;
  publishTimeoutMs: number;
  /** The most bytes one message body may have (lib/nats/payload.ts bodyLimit of the connection). */
  payloadLimit: () => number;
  /** Deliveries of one event before the matcher gives up on it (a failure that keeps coming back). */
  maxDeliver: number;
  log: Logger;
  /** What this host's read model knows of an event id (seen.ts): the guard that outlasts a trimmed stream. */
  prior?: (eventId: string) => Prior | undefined;
};

/**
 * Matches accepted events on the shared `matcher` durable consumer (every matcher
 * instance pulls from it). Commands are published before the decision, and the message
 * is acked last, so a crash at any point redoes the same work with the same ids.
 */
export async function startMatcher(options: MatcherOptions): Promise<DurableLoop> {
  const { js, jsm, stream, subjects, catalog, log } = options;
  const publish = publisher(options);

  const alreadyMatched = async (eventId: string, generation: number): Promise<boolean> => {
    // Beyond the dedup window the stream itself remembers: the last decision for this event.
    const last = await jsm.direct.getMessage(stream, { last_by_subj: subjects.matched(eventId) });
    if (!last) return false;
    const decoded = decodeMessage(last.data);
    return decoded.ok && decoded.message.kind === "event.matched" && decoded.message.generation >= generation;
  };

  const handle = async (accepted: EventAccepted, message: JsMsg) => {
    const generation = accepted.replay?.generation ?? 0;
    // A debounced step's run waits for newer events with its key (a replay is not debounced); a paused flow's run is held.
    const deferredOf = (command: RunStep) => {
      const debounce = generation === 0 ? catalog.find(command.flow, command.step)?.step.trigger.debounce : undefined;
      return debounce ? deferredRun(command, debounce, accepted.acceptedAt, message.seq) : undefined;
    };
    const decision = decide(accepted, catalog.current(), new Date().toISOString());
    const { matched, commands } = fitDecision(decision, options.payloadLimit(), deferredOf);
    const deps = { js, jsm, stream, subjects, publishTimeoutMs: options.publishTimeoutMs };
    const approvalOf = (command: RunStep) => catalog.find(command.flow, command.step)?.step.approval;
    // The routes' reads go out with the check below (one round trip, not two); nothing is published before both answered.
    const pauses = commands.map(({ command, deferred }) =>
      deferred || approvalOf(command) ? undefined : readPauses(deps, command),
    );
    for (const read of pauses) read?.catch(() => undefined); // awaited below, unless the event was matched already
    if (await alreadyMatched(accepted.event.id, generation)) return "ack" as const;
    // Once the stream is trimmed its decision is gone: the read model still knows the id (a copy published again).
    if (seenBefore(options.prior?.(accepted.event.id), message.seq, generation)) {
      log.info("event already handled (the read model knows it); nothing started again", {
        eventId: accepted.event.id,
        seq: message.seq,
        generation,
      });
      return "ack" as const;
    }
    annotate(() => {
      const runs = decision.matched.decisions.filter((d) => d.matched);
      return {
        "codex_flows.event.id": accepted.event.id,
        "codex_flows.event.type": accepted.event.type,
        "codex_flows.event.generation": generation,
        "codex_flows.match.steps": decision.matched.decisions.length,
        "codex_flows.match.matched": runs.map((d) => `${d.flow}/${d.step}`),
        "codex_flows.match.run_ids": runs.flatMap((d) => (d.runId ? [d.runId] : [])),
      };
    });
    await Promise.all(
      commands.map(({ command, deferred }, i) =>
        deferred
          ? defer(deps, deferred.message, deferred.body)
          : admit(deps, command, approvalOf(command), message.seq, pauses[i]),
      ),
    );
    await publish(decision.matched, { body: matched });
    return "ack" as const;
  };

  // A failure on every delivery: the event's decision says so, once, instead of a redelivery loop.
  const giveUp = async (accepted: EventAccepted, message: JsMsg, error: unknown) => {
    const deps = { js, jsm, stream, subjects, publishTimeoutMs: options.publishTimeoutMs };
    const { matched } = decide(accepted, catalog.current(), new Date().toISOString());
    const runIds = matched.decisions.flatMap((d) => (d.matched && d.runId ? [d.runId] : []));
    const recorded = new Set(
      (await Promise.all(runIds.map(async (runId) => ((await runRecorded(deps, runId)) ? [runId] : [])))).flat(),
    );
    const why = `after ${message.info.deliveryCount} deliveries: ${String(error).slice(0, 500)}`;
    const given = giveUpDecision(matched, recorded, why);
    const at = new Date().toISOString();
    for (const runId of given.cancel) {
      const cancel: RunCancelRequested = {
        v: 1,
        kind: "run.cancel",
        runId,
        requestedAt: at,
        reason: `the matcher gave up on its event ${why}`,
      };
      await publish(cancel, { after: 0 });
    }
    // Sized like any decision (no commands: only the match message is fitted).
    await publish(given.matched, {
      body: fitDecision({ matched: given.matched, commands: [] }, options.payloadLimit()).matched,
    });
  };

  return runDurableLoop({
    js,
    jsm,
    stream,
    consumer: consumers.matcher(subjects, options),
    giveUp,
    slots: new Slots(8),
    batch: 8,
    log,
    handle,
    span: "match",
  });
}
