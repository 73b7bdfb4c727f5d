import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import type { Logger } from "../../lib/log.ts";
import { type DurableLoop, runPullLoop } from "../../lib/nats/consume.ts";
import { createStreamIfMissing, ensureConsumer } from "../../lib/nats/jetstream.ts";
import { publisher } from "../../lib/nats/publish.ts";
import { decodeMessage, type RunFinished } from "../../lib/protocol/messages.ts";
import type { Subjects } from "../../lib/protocol/subjects.ts";
import { Slots } from "../../lib/slots.ts";
import { noRun } from "./record.ts";
import { runEventFor } from "./run-events.ts";

export const DEAD_LETTER_DURABLE = "dead-letters";

/** The stream that keeps the server's max-deliveries advisories for our stream (they are plain NATS messages otherwise). */
export function advisoryStream(stream: string): { name: string; subject: string } {
  return { name: `${stream}_ADVISORIES`, subject: `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.*` };
}

type MaxDeliveries = { stream: string; consumer: string; stream_seq: number; deliveries: number };

/**
 * Records a failed run for every command that exhausted its deliveries (executors that
 * died on it every time), so nothing stays `queued` or `running` forever. The server's
 * advisories are captured in a small stream of their own, so one sent while no executor
 * was up is still handled when one starts.
 */
export async function startDeadLetters(options: {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  replicas: number;
  subjects: Subjects;
  hostId: string;
  publishTimeoutMs: number;
  log: Logger;
}): Promise<DurableLoop> {
  const { jsm, stream, log } = options;
  const publish = publisher(options);
  const advisories = advisoryStream(stream);
  await createStreamIfMissing(jsm, {
    name: advisories.name,
    subjects: [advisories.subject],
    max_age: nanos(7 * 24 * 3600_000),
    num_replicas: options.replicas,
  });
  // Bounded like every consumer: an advisory that cannot be recorded in 20 tries is left (logged each time).
  const spec = { durable: DEAD_LETTER_DURABLE, filterSubject: advisories.subject, ackWaitMs: 30_000, maxDeliver: 20 };
  await ensureConsumer(jsm, advisories.name, spec);

  const handle = async (message: JsMsg) => {
    const advisory = message.json<MaxDeliveries>();
    // null: the message is gone (nats.js reads "no message found" so); a NATS failure throws and the advisory is tried again.
    const stored = await jsm.streams.getMessage(stream, { seq: advisory.stream_seq });
    const decoded = stored ? decodeMessage(stored.data) : undefined;
    if (decoded?.ok && decoded.message.kind === "event.accepted") {
      // The matcher records what fails in its handler (lib/nats/consume.ts giveUp); this is an event whose matcher died on it every time.
      log.error("an event used up the matcher's deliveries without a decision; it stays unmatched until replayed", {
        eventId: decoded.message.event.id,
        deliveries: advisory.deliveries,
        consumer: advisory.consumer,
      });
      return "ack" as const;
    }
    if (!decoded?.ok || decoded.message.kind !== "run.step") return "ack" as const;
    const command = decoded.message;
    const attempt = (command.attemptBase ?? 0) + advisory.deliveries;
    const error = `gave up after ${advisory.deliveries} deliveries without a result (max deliveries reached on ${advisory.consumer}: the executors that took it stopped)`;
    const finished: RunFinished = {
      v: 1,
      kind: "run.finished",
      runId: command.runId,
      attempt,
      host: options.hostId,
      ...noRun("failed", error),
    };
    const now = finished.finishedAt;
    // An attempt may have started `next` events before it was lost, and how many is not known here: its run event gets none of the budget.
    const runEvent = runEventFor(command, finished, now, 0);
    if (runEvent) await publish(runEvent);
    // Same msg id as the last attempt's own record: if that executor did finish after all, this one is dropped.
    await publish(finished);
    log.warn("dead letter recorded as a failed run", { runId: command.runId, deliveries: advisory.deliveries });
    return "ack" as const;
  };
  return runPullLoop({
    js: options.js,
    jsm,
    stream: advisories.name,
    spec,
    slots: new Slots(1),
    batch: 8,
    log,
    handle,
  });
}
