import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { type DurableSpec, ensureConsumer } from "./jetstream.ts";
import type { Logger } from "./log.ts";

/** What a handler decided for one message. */
export type Disposition = "ack" | { nak: number } | { term: string };

export type DurableLoopOptions = {
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  spec: DurableSpec;
  /** Messages handled at once (each slot holds at most `batch` leased messages). */
  slots: number;
  batch: number;
  /** How long one pull request waits on an idle stream. */
  expiresMs?: number;
  log: Logger;
  handle(message: JsMsg): Promise<Disposition>;
};

export type DurableLoop = {
  /** Stops pulling; waits up to `graceMs` for handlers in progress, then returns. */
  stop(graceMs?: number): Promise<void>;
  /** How many messages are being handled right now. */
  inFlight(): number;
};

/**
 * The one consumer loop every service uses: it pulls from a shared durable consumer,
 * re-creates the consumer when it disappears, acks only after the handler's durable
 * effect is done, naks with a delay on a transient failure (a thrown error), and terms
 * a poison message after the handler recorded it. Each slot pulls its own messages so
 * no host holds leases on work it has no capacity for.
 */
export function runDurableLoop(options: DurableLoopOptions): DurableLoop {
  const { js, jsm, stream, spec, log } = options;
  let stopping = false;
  let inFlight = 0;
  const pulls = new Set<ConsumerMessages>();
  const idle: (() => void)[] = [];

  const settle = async (message: JsMsg): Promise<void> => {
    inFlight++;
    try {
      let disposition: Disposition;
      try {
        disposition = await options.handle(message);
      } catch (error) {
        log.warn("handler failed; the message will be redelivered", { subject: message.subject, seq: message.seq, error: String(error) });
        disposition = { nak: 1_000 };
      }
      if (disposition === "ack") await message.ackAck().catch((error) => log.warn("ack not confirmed", { seq: message.seq, error: String(error) }));
      else if ("nak" in disposition) message.nak(disposition.nak);
      else message.term(disposition.term);
    } finally {
      inFlight--;
      if (inFlight === 0) for (const wake of idle.splice(0)) wake();
    }
  };

  const slot = async (): Promise<void> => {
    let failures = 0;
    while (!stopping) {
      try {
        const consumer = await js.consumers.get(stream, spec.durable);
        const pull = await consumer.fetch({ max_messages: options.batch, expires: options.expiresMs ?? 10_000 });
        pulls.add(pull);
        try {
          for await (const message of pull) {
            failures = 0;
            // A message that arrives while stopping goes straight back for another host.
            if (stopping) message.nak();
            else await settle(message);
          }
        } finally {
          pulls.delete(pull);
        }
      } catch (error) {
        if (stopping) break;
        failures++;
        log.warn("pull failed; retrying", { consumer: spec.durable, error: String(error) });
        await ensureConsumer(jsm, stream, spec).catch(() => undefined);
        await Bun.sleep(Math.min(5_000, 100 * 2 ** Math.min(failures, 6)));
      }
    }
  };

  const slots = Array.from({ length: options.slots }, () => slot());

  return {
    inFlight: () => inFlight,
    async stop(graceMs = 10_000) {
      stopping = true;
      for (const pull of pulls) await pull.close().catch(() => undefined);
      if (inFlight > 0) await Promise.race([new Promise<void>((wake) => idle.push(wake)), Bun.sleep(graceMs)]);
      await Promise.race([Promise.allSettled(slots), Bun.sleep(1_000)]);
    },
  };
}
