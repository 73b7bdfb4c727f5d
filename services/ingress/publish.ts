import { JetStreamApiError, type JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { errors as coreErrors, RequestError } from "@nats-io/nats-core";
import { isConnected } from "../../lib/nats/jetstream.ts";
import { bodyBytes, bodyLimit, HEADER_ALLOWANCE } from "../../lib/nats/payload.ts";
import type { PublishOptions } from "../../lib/nats/publish.ts";
import { addressOf } from "../../lib/protocol/address.ts";
import { encodeMessage, type FlowMessage } from "../../lib/protocol/messages.ts";
import type { Subjects } from "../../lib/protocol/subjects.ts";
import { traceHeaders } from "../../lib/tracing/nats.ts";
import { HttpError } from "./errors.ts";

export type Published = { seq: number; duplicate: boolean };

/** Appends one message to the stream at its address (lib/protocol/address.ts); the API's only write path. */
export type Publisher = (message: FlowMessage, options?: PublishOptions) => Promise<Published>;

/** What a sender is told to wait before it tries again, after the publish deadline passed (seconds). */
export const RETRY_AFTER_S = 5;

/** The 503 of a write JetStream did not take within the deadline; `Retry-After` says when to try again. */
export class Unavailable extends HttpError {
  constructor(why: string, maybeStored = false) {
    const outcome = maybeStored
      ? "it may have been stored (a retry with the same id is answered duplicate)"
      : "nothing was accepted";
    super(503, `JetStream ${why}; ${outcome}, retry later`, undefined, { "retry-after": String(RETRY_AFTER_S) });
  }
}

/**
 * Whether a failed publish may succeed if tried again soon: no responders (the stream
 * has no leader while it elects one, or JetStream is restarting), a timeout (the
 * leader died with the request), a request cut by a reconnect, and JetStream's own
 * 503 answers ("temporarily unavailable"). Anything else (permissions, a closed
 * connection, a stream that refuses the message) will fail the same way again.
 */
export function passes(error: unknown): boolean {
  // The client wraps the cause (no responders becomes "jetstream is not enabled"): look down the chain.
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof coreErrors.TimeoutError || e instanceof coreErrors.NoRespondersError) return true;
    if (e instanceof coreErrors.PermissionViolationError || e instanceof coreErrors.ClosedConnectionError) return false;
    if (e instanceof JetStreamApiError) return e.status === 503;
  }
  return error instanceof RequestError;
}

function causedBy(error: unknown, kind: new (...args: never[]) => Error): boolean {
  let e: unknown = error;
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e instanceof kind) return true;
    e = (e as Error).cause;
  }
  return false;
}

/** The pause before the n-th retry (0-based): short at first, as an election ends within seconds. */
export function backoffMs(n: number): number {
  return Math.min(500, 50 * 2 ** n);
}

export type PublisherOptions = {
  /** One attempt's wait for JetStream's acknowledgement (CODEX_FLOW_PUBLISH_TIMEOUT_MS). */
  timeoutMs: number;
  /** How long one write rides out failures that pass, with the same message id (CODEX_FLOW_PUBLISH_DEADLINE_MS). */
  deadlineMs: number;
};

/**
 * Publishes with a deterministic Nats-Msg-Id and resolves only once JetStream has
 * stored the message. A failure that passes (an election, a reconnect) is tried again
 * with the same message id until `deadlineMs`, so a repeat is a duplicate JetStream
 * drops; then 503 with Retry-After. The deadline sits below a webhook sender's own
 * timeout (GitHub's is 10 s): a sender either gets its 202 or learns to retry.
 */
export function jetStreamPublisher(
  nc: NatsConnection,
  js: JetStreamClient,
  subjects: Subjects,
  options: PublisherOptions,
): Publisher {
  return async (message, publishOptions = {}) => {
    const { subject, msgID } = addressOf(subjects, message, publishOptions.after);
    const body = publishOptions.body ?? encodeMessage(message);
    const limit = bodyLimit(nc);
    // Retrying can never help a message over the server's max_payload: that is the sender's to fix.
    if (bodyBytes(body) > limit) {
      throw new HttpError(
        413,
        `the ${message.kind} message is too large for the stream: ${bodyBytes(body)} bytes with its envelope, over the limit of ${limit} (the NATS server's max_payload less ${HEADER_ALLOWANCE} for headers)`,
      );
    }
    const deadline = Date.now() + options.deadlineMs;
    // The request's trace context (the accept span), the same on every retry.
    const traced = traceHeaders();
    // Once an attempt may have stored the message (it timed out), a duplicate ack is this write's own.
    let maybeStored = false;
    let last = "is unavailable (not connected to NATS)";
    for (let n = 0; ; n++) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Unavailable(`${last}, for the whole publish deadline of ${options.deadlineMs} ms`, maybeStored);
      if (nc.isClosed()) throw new Unavailable("is unavailable (the NATS connection is closed)", maybeStored);
      if (!isConnected(nc)) {
        last = "is unavailable (not connected to NATS)";
        await Bun.sleep(Math.min(100, left));
        continue;
      }
      try {
        const ack = await js.publish(subject, body, {
          msgID,
          timeout: Math.max(1, Math.min(options.timeoutMs, left)),
          ...traced,
        });
        return { seq: ack.seq, duplicate: ack.duplicate && !maybeStored };
      } catch (error) {
        if (!passes(error))
          throw new HttpError(
            503,
            `JetStream did not acknowledge the write (${(error as Error).message}); nothing was accepted, retry later`,
          );
        // Only "no responders" says for sure that nothing was stored.
        if (!causedBy(error, coreErrors.NoRespondersError)) maybeStored = true;
        last = `did not acknowledge the write (${(error as Error).message})`;
        await Bun.sleep(Math.min(backoffMs(n), Math.max(0, deadline - Date.now())));
      }
    }
  };
}
