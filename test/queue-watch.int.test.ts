// Why a queued run waits (issue 20, item 5): a NATS failure is told apart from a queue no executor has served.
import { expect, test } from "bun:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { ensureConsumer } from "../lib/nats/jetstream.ts";
import { executorDurable } from "../lib/protocol/consumers.ts";
import { subjects } from "../lib/protocol/subjects.ts";
import { queueWatch } from "../services/ingress/runs/queues.ts";
import { freshStream, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();

test("given a queue without a consumer, one nobody pulls, and NATS gone, then each wait says which", async () => {
  const { config, nc, jsm } = await freshStream(nats);
  const command = subjects(config.subjectPrefix).command("idle");
  await ensureConsumer(jsm, config.stream, {
    durable: executorDurable("idle"),
    filterSubject: command,
    ackWaitMs: 5_000,
  });

  const watch = queueWatch(jsm, config.stream, 0);
  expect(await watch("nobody")).toStartWith('no executor has served queue "nobody" yet');
  expect(await watch("idle")).toBe('no executor is serving queue "idle" right now');
  const missingStream = queueWatch(jsm, "NO_SUCH_STREAM", 0);
  expect(await missingStream("nobody")).toStartWith('no executor has served queue "nobody" yet');

  // A request nobody answers (no JetStream behind this API prefix): "no responders", which nats.js reports as "jetstream is not enabled".
  const nowhere = queueWatch(await jetstreamManager(nc, { apiPrefix: "$NOJS.API", checkAPI: false }), config.stream, 0);
  const noAnswer = await nowhere("idle");
  expect(noAnswer).toStartWith('cannot tell whether an executor serves queue "idle": NATS did not answer (');

  await nc.close();
  const failed = await watch("idle");
  expect(failed).toStartWith('cannot tell whether an executor serves queue "idle": NATS did not answer (');
  expect(failed).not.toContain("no executor");
});
