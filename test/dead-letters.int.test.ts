// The executor's dead letters (issue 20, item 5): a NATS failure while reading the command is not "the command is gone".
import { expect, test } from "bun:test";
import type { JetStreamManager } from "@nats-io/jetstream";
import { logger } from "../lib/log.ts";
import { decodeMessage, encodeMessage } from "../lib/protocol/messages.ts";
import { subjects as subjectsOf } from "../lib/protocol/subjects.ts";
import { advisoryStream, startDeadLetters } from "../services/executor/dead-letters.ts";
import { command } from "./support/messages.ts";
import { eventually, freshStream, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();

test("given a max-deliveries advisory, when reading its command fails once in NATS, then it is tried again and the run is recorded as failed", async () => {
  const { config, js, jsm } = await freshStream(nats);
  const subjects = subjectsOf(config.subjectPrefix);
  const stored = await js.publish(subjects.command("any"), encodeMessage(command("run-dead")));

  // The real manager, whose first read of a stored message times out the way a busy server's does.
  let reads = 0;
  const streams = new Proxy(jsm.streams, {
    get: (target, name) =>
      name !== "getMessage"
        ? Reflect.get(target, name)
        : (...args: Parameters<typeof target.getMessage>) =>
            ++reads === 1 ? Promise.reject(new Error("TIMEOUT")) : target.getMessage(...args),
  });
  const flaky = new Proxy(jsm, {
    get: (target, name) => (name === "streams" ? streams : Reflect.get(target, name)),
  }) as JetStreamManager;
  const loop = await startDeadLetters({
    js,
    jsm: flaky,
    stream: config.stream,
    replicas: 1,
    subjects,
    hostId: "test-host",
    publishTimeoutMs: 5_000,
    log: logger("test"),
  });
  nats.cleanup(() => loop.stop(1_000));

  const finished = subjects.run("run-dead", "finished");
  const advisory = { stream: config.stream, consumer: "executor-any", stream_seq: stored.seq, deliveries: 30 };
  await js.publish(advisoryStream(config.stream).subject.replace("*", "executor-any"), JSON.stringify(advisory));

  const record = await eventually(
    async () => (await jsm.streams.getMessage(config.stream, { last_by_subj: finished })) ?? undefined,
    20_000,
    "the failed run's record",
  );
  const decoded = decodeMessage(record.data);
  expect(decoded.ok && decoded.message).toMatchObject({ kind: "run.finished", runId: "run-dead", status: "failed" });
  expect(reads).toBeGreaterThanOrEqual(2);
});
