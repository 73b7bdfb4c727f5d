import type { NatsConnection } from "@nats-io/nats-core";
import type { JetStreamClient } from "@nats-io/jetstream";
import { isConnected } from "../../lib/jetstream.ts";
import { encodeMessage, type FlowMessage } from "../../lib/messages.ts";
import { bodyBytes, bodyLimit, HEADER_ALLOWANCE } from "../../lib/payload.ts";
import { HttpError } from "./errors.ts";

export type Published = { seq: number; duplicate: boolean };

/** Appends one message to the stream; the API's only write path. */
export type Publisher = (subject: string, message: FlowMessage, msgID: string) => Promise<Published>;

/**
 * Publishes with a deterministic Nats-Msg-Id and resolves only once JetStream has
 * stored the message. While NATS is unreachable it answers 503 at once instead of
 * letting the request wait on a reconnect, and a slow JetStream is bounded by
 * `timeoutMs`, so a caller always learns that it should retry.
 */
export function jetStreamPublisher(nc: NatsConnection, js: JetStreamClient, timeoutMs: number): Publisher {
  return async (subject, message, msgID) => {
    if (!isConnected(nc)) throw new HttpError(503, "JetStream is unavailable (not connected to NATS); nothing was accepted, retry later");
    const body = encodeMessage(message);
    const limit = bodyLimit(nc);
    // Retrying can never help a message over the server's max_payload: that is the sender's to fix.
    if (bodyBytes(body) > limit) {
      throw new HttpError(413, `the ${message.kind} message is too large for the stream: ${bodyBytes(body)} bytes with its envelope, over the limit of ${limit} (the NATS server's max_payload less ${HEADER_ALLOWANCE} for headers)`);
    }
    try {
      const ack = await js.publish(subject, body, { msgID, timeout: timeoutMs });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      throw new HttpError(503, `JetStream did not acknowledge the write (${(error as Error).message}); nothing was accepted, retry later`);
    }
  };
}
