// The consumer-loop helper's poison path (issue 9, item 3): a handler that fails on every
// delivery is given up on after the consumer's max_deliver, recorded once, terminated.
import { expect, test } from "bun:test";
import { logger } from "../lib/log.ts";
import { runPullLoop } from "../lib/nats/consume.ts";
import { ensureConsumer } from "../lib/nats/jetstream.ts";
import { subjects } from "../lib/protocol/subjects.ts";
import { Slots } from "../lib/slots.ts";
import { eventually, freshStream, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();

test("given a handler that fails every time, when the consumer allows 3 deliveries, then it runs 3 times, the failure is recorded once and the message is terminated", async () => {
  const { config, js, jsm } = await freshStream(nats);
  const subject = subjects(config.subjectPrefix).event("poison.test");
  const spec = { durable: "poison", filterSubject: subject, ackWaitMs: 5_000, maxDeliver: 3 };
  await ensureConsumer(jsm, config.stream, spec);
  await js.publish(subject, "{}");

  let handled = 0;
  const recorded: string[] = [];
  const loop = runPullLoop({
    js,
    jsm,
    stream: config.stream,
    spec,
    slots: new Slots(1),
    batch: 1,
    log: logger("test"),
    handle: async () => {
      handled++;
      throw new Error("always broken");
    },
    giveUp: async (message, error) => void recorded.push(`${message.seq}: ${String(error)}`),
  });
  nats.cleanup(() => loop.stop(1_000));

  await eventually(() => recorded.length > 0, 15_000, "the give-up record");
  const consumer = await eventually(
    async () => {
      const info = await jsm.consumers.info(config.stream, "poison");
      return info.num_ack_pending === 0 && info.num_pending === 0 && info;
    },
    5_000,
    "the message to be terminated",
  );
  expect(recorded).toEqual(["1: Error: always broken"]);
  expect(handled).toBe(3);
  expect(consumer.delivered.consumer_seq).toBe(3);
});

test("given a handler with a programming error, when the consumer allows 30 deliveries, then each failure is logged with its stack, and the third identical one is recorded and terminated", async () => {
  const { config, js, jsm } = await freshStream(nats);
  const subject = subjects(config.subjectPrefix).event("bug.test");
  const spec = { durable: "bug", filterSubject: subject, ackWaitMs: 5_000, maxDeliver: 30 };
  await ensureConsumer(jsm, config.stream, spec);
  await js.publish(subject, "{}");

  let handled = 0;
  const recorded: string[] = [];
  const logged: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const log = {
    info: () => undefined,
    warn: (message: string, fields?: Record<string, unknown>) => void logged.push({ level: "warn", message, fields }),
    error: (message: string, fields?: Record<string, unknown>) => void logged.push({ level: "error", message, fields }),
  };
  const loop = runPullLoop({
    js,
    jsm,
    stream: config.stream,
    spec,
    slots: new Slots(1),
    batch: 1,
    log,
    handle: async (message) => {
      handled++;
      // A bug: `{}` has no event, so this throws a TypeError on every delivery.
      return message.json<{ event: { id: string } }>().event.id ? "ack" : { term: "no event id" };
    },
    giveUp: async (message, error) => void recorded.push(`${message.seq}: ${(error as Error).name}`),
  });
  nats.cleanup(() => loop.stop(1_000));

  await eventually(() => recorded.length > 0, 15_000, "the give-up record");
  const consumer = await eventually(
    async () => {
      const info = await jsm.consumers.info(config.stream, "bug");
      return info.num_ack_pending === 0 && info.num_pending === 0 && info;
    },
    5_000,
    "the message to be terminated",
  );
  expect(recorded).toEqual(["1: TypeError"]);
  expect(handled).toBe(3);
  expect(consumer.delivered.consumer_seq).toBe(3);
  expect(logged.map((line) => line.level)).toEqual(["warn", "warn", "error"]);
  expect(logged[2]!.message).toContain("programming error");
  for (const line of logged) {
    expect(line.fields).toMatchObject({ subject, seq: 1 });
    expect((line.fields!.error as Error).stack).toContain("consume.int.test.ts");
  }
});
