import type { NatsConnection } from "@nats-io/nats-core";
import type { JetStreamClient } from "@nats-io/jetstream";
import { msgIds } from "../../../lib/ids.ts";
import { isConnected } from "../../../lib/jetstream.ts";
import { encodeMessage, type EventAccepted } from "../../../lib/messages.ts";
import type { Subjects } from "../../../lib/subjects.ts";
import { HttpError } from "../errors.ts";

export type Published = { seq: number; duplicate: boolean };

/** Appends accepted events to the stream; the API's only write path. */
export type EventPublisher = (accepted: EventAccepted) => Promise<Published>;

/**
 * Publishes with the event id as Nats-Msg-Id and resolves only once JetStream has
 * stored the message. While NATS is unreachable it answers 503 at once instead of
 * letting the request wait on a reconnect, and a slow JetStream is bounded by
 * `timeoutMs`, so a sender always learns that it should retry.
 */
export function jetStreamPublisher(nc: NatsConnection, js: JetStreamClient, subjects: Subjects, timeoutMs: number): EventPublisher {
  return async (accepted) => {
    if (!isConnected(nc)) throw new HttpError(503, "JetStream is unavailable (not connected to NATS); the event was not accepted, retry later");
    const generation = accepted.replay?.generation ?? 0;
    try {
      const ack = await js.publish(subjects.event(accepted.event.type), encodeMessage(accepted), {
        msgID: msgIds.event(accepted.event.id, generation),
        timeout: timeoutMs,
      });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      throw new HttpError(503, `JetStream did not acknowledge the event (${(error as Error).message}); the event was not accepted, retry later`);
    }
  };
}
