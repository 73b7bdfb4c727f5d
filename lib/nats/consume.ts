import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { isProgrammingError, PROGRAMMING_ERROR_REPEATS, RepeatedFailures } from "../failure.ts";
import type { Logger } from "../log.ts";
import type { ConsumerDef, Kind, MessageOf } from "../protocol/consumers.ts";
import { decodeMessage } from "../protocol/messages.ts";
import type { Slots } from "../slots.ts";
import { messagingAttributes } from "../tracing/nats.ts";
import { inSpan, SpanKind, withContextFrom } from "../tracing/tracing.ts";
import { type DurableSpec, ensureConsumer } from "./jetstream.ts";

/** How long one pull request waits on an idle stream. */
export const PULL_EXPIRES_MS = 5_000;

/**
 * The delay for handing a message back from a consumer that is stopping. The server
 * still holds this process's open pull requests until they expire; a message redelivered
 * before then could go to one of them and be lost until its ack wait ran out.
 */
export const HAND_BACK_DELAY_MS = PULL_EXPIRES_MS + 1_000;

/**
 * What a handler decided for one message. `abandon` settles nothing: the handler lost
 * its lease (it fenced itself), so the delivery is no longer its to ack or nak.
 */
export type Disposition = "ack" | { nak: number } | { term: string } | { abandon: string };

export type PullLoopOptions = {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  spec: DurableSpec;
  /** Handler capacity, shared with the service's other loops. */
  slots: Slots;
  /** The most messages asked for per pull request (never more than the free slots). */
  batch: number;
  log: Logger;
  handle(message: JsMsg): Promise<Disposition>;
  /**
   * The poison-message path: called when the handler failed on the last delivery
   * `spec.maxDeliver` allows, or with the same programming error (lib/failure.ts)
   * PROGRAMMING_ERROR_REPEATS times in a row, to record the failure where users look; the
   * message is then terminated. Without it the message is handed back (its stack logged on
   * every delivery), and the server's max-deliveries advisory is the record (the
   * executor's dead letters).
   */
  giveUp?(message: JsMsg, error: unknown): Promise<void>;
};

/** How long a message whose handler failed waits before its next delivery: 1 s, doubling up to 30 s. */
export function redeliveryDelayMs(deliveryCount: number): number {
  return Math.min(30_000, 1_000 * 2 ** Math.min(Math.max(deliveryCount - 1, 0), 5));
}

export type DurableLoop = {
  /** Stops pulling (messages that arrive meanwhile go back at once); waits up to `graceMs` for handlers; true when none is left. */
  stop(graceMs: number): Promise<boolean>;
  /** Resolves when no handler is running. */
  idle(): Promise<void>;
  /** How many messages are being handled right now. */
  inFlight(): number;
};

/**
 * The one consumer loop every service uses: it pulls from a shared durable consumer
 * only while the service has a free slot (so no host holds leases on work it has no
 * capacity for), re-creates the consumer when it disappears, acks only after the
 * handler's durable effect is done, naks with a growing delay on a transient failure (a
 * thrown error), and terms a poison message after the handler recorded it, or after
 * `giveUp` recorded a failure that lasted every delivery `spec.maxDeliver` allows. A message that
 * arrives when every slot is taken keeps its lease (`working()`) until one frees.
 */
export function runPullLoop(options: PullLoopOptions): DurableLoop {
  const { js, jsm, stream, spec, slots, log } = options;
  let stopping = false;
  let inFlight = 0;
  const pulls = new Set<ConsumerMessages>();
  const idleWaiters: (() => void)[] = [];
  const repeated = new RepeatedFailures();

  const settle = async (message: JsMsg, release: () => void): Promise<void> => {
    try {
      let disposition: Disposition;
      try {
        disposition = await options.handle(message);
        repeated.forget(message.seq);
      } catch (error) {
        disposition = await failed(message, error);
      }
      if (disposition === "ack") {
        const acked = message.ackAck().catch((error) => log.warn("ack not confirmed", { seq: message.seq, error }));
        // The work is done: its slot takes the next message while the server confirms the ack (a
        // round trip that held the slot and set the pace of a busy executor); stop still waits for it.
        release();
        await acked;
      } else if ("nak" in disposition) message.nak(disposition.nak);
      // Without the reason: nats-server before 2.10.4 ignores a "+TERM <reason>" and redelivers; the reason is logged where it is decided.
      else if ("term" in disposition) message.term();
      else
        log.warn("lease given up; leaving the message to its next holder", {
          subject: message.subject,
          seq: message.seq,
          why: disposition.abandon,
        });
    } finally {
      release();
      inFlight--;
      if (inFlight === 0) for (const wake of idleWaiters.splice(0)) wake();
    }
  };

  const failed = async (message: JsMsg, error: unknown): Promise<Disposition> => {
    const deliveries = message.info.deliveryCount;
    const repeats = repeated.note(message.seq, error);
    const bug = isProgrammingError(error) && repeats >= PROGRAMMING_ERROR_REPEATS;
    const lastDelivery = spec.maxDeliver !== undefined && spec.maxDeliver > 0 && deliveries >= spec.maxDeliver;
    if (options.giveUp === undefined || !(bug || lastDelivery)) {
      log.warn("handler failed; the message will be redelivered", {
        subject: message.subject,
        seq: message.seq,
        deliveries,
        error,
      });
      return { nak: redeliveryDelayMs(deliveries) };
    }
    repeated.forget(message.seq);
    const why = bug
      ? `failed the same way ${PROGRAMMING_ERROR_REPEATS} times in a row (a programming error)`
      : "failed on the last delivery";
    log.error(`handler ${why}; recorded and terminated`, {
      subject: message.subject,
      seq: message.seq,
      deliveries,
      error,
    });
    try {
      await options.giveUp!(message, error);
    } catch (recordError) {
      // Not recorded: hand it back once more rather than lose it silently (the server's limit ends it).
      log.error("could not record the failure; handing the message back", { seq: message.seq, error: recordError });
      return { nak: redeliveryDelayMs(deliveries) };
    }
    return { term: `gave up after ${deliveries} deliveries: ${String(error)}` };
  };

  const takeSlot = (message: JsMsg) => whileWorking(message, spec.ackWaitMs, () => slots.acquire());

  const loop = async (): Promise<void> => {
    let failures = 0;
    let consumer: Consumer | undefined;
    while (!stopping) {
      try {
        await slots.whenFree();
        if (stopping) break;
        // Looked up once, and again only after a failure: each lookup is a request to the server.
        consumer ??= await js.consumers.get(stream, spec.durable);
        const pull = await consumer.fetch({
          max_messages: Math.max(1, Math.min(options.batch, slots.free)),
          expires: PULL_EXPIRES_MS,
        });
        pulls.add(pull);
        try {
          for await (const message of pull) {
            failures = 0;
            if (stopping) {
              message.nak(HAND_BACK_DELAY_MS);
              continue;
            }
            inFlight++;
            const release = await takeSlot(message);
            void settle(message, release);
          }
        } finally {
          pulls.delete(pull);
        }
      } catch (error) {
        if (stopping) break;
        consumer = undefined;
        failures++;
        log.warn("pull failed; retrying", { consumer: spec.durable, error });
        await ensureConsumer(jsm, stream, spec).catch(() => undefined);
        await Bun.sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  };
  const running = loop();

  const idle = () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((wake) => idleWaiters.push(wake)));
  return {
    inFlight: () => inFlight,
    idle,
    async stop(graceMs) {
      stopping = true;
      // Not awaited: close() can hang on a pull that is still being set up; the iterator ends anyway.
      for (const pull of pulls) void pull.close().catch(() => undefined);
      const drained = await Promise.race([idle().then(() => true), Bun.sleep(graceMs).then(() => false)]);
      await Promise.race([running, Bun.sleep(1_000)]);
      return drained;
    },
  };
}

/** Runs `work` while renewing the message's lease (`working()`) well inside `ackWaitMs`. */
export async function whileWorking<T>(message: JsMsg, ackWaitMs: number, work: () => Promise<T>): Promise<T> {
  const keep = setInterval(() => message.working(), Math.max(200, Math.floor(ackWaitMs / 3)));
  try {
    return await work();
  } finally {
    clearInterval(keep);
  }
}

export type DurableLoopOptions<K extends Kind> = Omit<PullLoopOptions, "spec" | "handle" | "giveUp"> & {
  consumer: ConsumerDef<K>;
  handle(message: MessageOf<K>, delivery: JsMsg): Promise<Disposition>;
  /** The poison-message path of PullLoopOptions, for a message of the consumer's kinds. */
  giveUp?(message: MessageOf<K>, delivery: JsMsg, error: unknown): Promise<void>;
  /** The name of a span around each handling (tracing on, docs/tracing.md); without it the handler only runs in the message's trace context. */
  span?: string;
};

/**
 * A consumer of stream messages (lib/protocol/consumers.ts): provisions its durable
 * consumer, then pulls (runPullLoop) and hands each message of its kinds, decoded, to
 * `handle`; anything else on its subjects (not JSON, not valid, another kind) is poison:
 * logged once with what was wrong and terminated, never redelivered.
 */
export async function runDurableLoop<K extends Kind>(options: DurableLoopOptions<K>): Promise<DurableLoop> {
  const { consumer, log } = options;
  const spec: DurableSpec = {
    durable: consumer.durable,
    filterSubject: consumer.filterSubject,
    ackWaitMs: consumer.ackWaitMs,
    ...(consumer.maxDeliver !== undefined ? { maxDeliver: consumer.maxDeliver } : {}),
    ...(consumer.maxAckPending !== undefined ? { maxAckPending: consumer.maxAckPending } : {}),
  };
  await ensureConsumer(options.jsm, options.stream, spec);
  const kinds: readonly string[] = consumer.kinds;
  const decode = (delivery: JsMsg): { message: MessageOf<K> } | { error: string } => {
    const decoded = decodeMessage(delivery.data);
    if (!decoded.ok) return { error: decoded.error };
    if (!kinds.includes(decoded.message.kind))
      return { error: `a ${decoded.message.kind} message where ${consumer.kinds.join(" or ")} was expected` };
    return { message: decoded.message as MessageOf<K> };
  };
  const { consumer: _, handle: __, giveUp, span, ...loop } = options;
  const handleTraced = (message: MessageOf<K>, delivery: JsMsg): Promise<Disposition> =>
    span === undefined
      ? options.handle(message, delivery)
      : inSpan(
          span,
          {
            kind: SpanKind.CONSUMER,
            attributes: () =>
              messagingAttributes(delivery.subject, "process", {
                "messaging.consumer.group.name": consumer.durable,
                "codex_flows.stream.seq": delivery.seq,
              }),
          },
          () => options.handle(message, delivery),
        );
  return runPullLoop({
    ...loop,
    spec,
    handle: async (delivery) => {
      const decoded = decode(delivery);
      // The message's trace context (its headers) is current for the handler: what it publishes carries it on.
      if ("message" in decoded)
        return await withContextFrom(delivery.headers, () => handleTraced(decoded.message, delivery));
      log.error(`poison message for the ${consumer.durable} consumer; terminated`, {
        subject: delivery.subject,
        seq: delivery.seq,
        error: decoded.error,
      });
      return { term: decoded.error };
    },
    ...(giveUp
      ? {
          giveUp: async (delivery: JsMsg, error: unknown) => {
            const decoded = decode(delivery);
            if ("message" in decoded) await giveUp(decoded.message, delivery, error);
          },
        }
      : {}),
  });
}
