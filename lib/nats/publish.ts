import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { addressOf } from "../protocol/address.ts";
import { encodeMessage, type FlowMessage } from "../protocol/messages.ts";
import type { Subjects } from "../protocol/subjects.ts";
import { traceHeaders } from "../tracing/nats.ts";

export type PublishOptions = {
  /** The fact the message's id needs beyond the message (lib/protocol/address.ts). */
  after?: number;
  /** The body when the caller sized it already (a record shortened to fit max_payload); else the message encoded. */
  body?: string;
};

/** Publishes one stream message at its subject with its message id (lib/protocol/address.ts), waiting at most the publish timeout. */
export type Publish = (message: FlowMessage, options?: PublishOptions) => Promise<PubAck>;

/** The one way every writer publishes a stream message; it carries the current trace context in its headers (lib/tracing/nats.ts). */
export function publisher(deps: { js: JetStreamClient; subjects: Subjects; publishTimeoutMs: number }): Publish {
  return (message, options = {}) => {
    const { subject, msgID } = addressOf(deps.subjects, message, options.after);
    return deps.js.publish(subject, options.body ?? encodeMessage(message), {
      msgID,
      timeout: deps.publishTimeoutMs,
      ...traceHeaders(),
    });
  };
}

/**
 * A publish that is retried until it succeeds (`tries` at most, backing off up to 2 s):
 * for records that must reach the log while their writer holds the work (an attempt's
 * records under its lease). `onRetry` runs before each wait (the attempt renews its lease).
 */
export function retrying(
  publish: Publish,
  options: { tries: number; onRetry(error: unknown, tries: number, message: FlowMessage): void },
): Publish {
  return async (message, publishOptions) => {
    for (let tries = 1; ; tries++) {
      try {
        return await publish(message, publishOptions);
      } catch (error) {
        if (tries >= options.tries) throw error;
        options.onRetry(error, tries, message);
        await Bun.sleep(Math.min(2_000, 100 * tries));
      }
    }
  };
}
