// Issue 18, item 3: an executor fenced while it publishes the record of a step that
// already exited. The executor runs in this process against a real nats-server, with its
// connection wrapped so that, for as long as the test says, its lease renewals go
// unanswered and its `finished` records fail (an outage of this host's link, while the
// server itself stays up and redelivers the command to the same executor).
import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { msgIds } from "../lib/protocol/ids.ts";
import { encodeMessage } from "../lib/protocol/messages.ts";
import { startExecutorService } from "../services/executor/service.ts";
import { connectContext } from "../services/runtime/context.ts";
import { writeFlows } from "./support/flows.ts";
import { anEvent, command } from "./support/messages.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { tempDir } from "./support/temp.ts";

const nats = useNatsServer();
const LEASE_MS = 1_500;

/** `target` with `name` replaced by `replacement`; every other method bound to `target` (its private fields). */
function withMethod<T extends object>(target: T, name: string, replacement: unknown): T {
  return new Proxy(target, {
    get(t, key) {
      if (key === name) return replacement;
      const value = Reflect.get(t, key);
      return typeof value === "function" ? value.bind(t) : value;
    },
  });
}

test("issue 18 item 3: given a step that exited, when its record cannot be published for longer than 3/4 of the lease (the attempt is fenced meanwhile), then it is not run again: the redelivery on the same host is handed back, the step ran once, and one completed record is written", async () => {
  const marks = join(tempDir("codex-flows-marks-"), "marks");
  const cwd = writeFlows({
    once: [
      {
        name: "work",
        type: "t.once",
        source: `import { appendFileSync } from "node:fs";\nappendFileSync(${JSON.stringify(marks)}, process.env.CODEX_FLOW_ATTEMPT + "\\n");\nconsole.log("FLOW_RESULT " + JSON.stringify({ status: "completed" }));\n`,
      },
    ],
  });
  const config = testConfig({ cwd, ackWaitMs: LEASE_MS });
  const ctx = await connectContext(config, nats.url, "executor");
  const cut = { off: true };
  const warnings: string[] = [];
  const nc = withMethod(ctx.nc, "request", (subject: string, ...rest: unknown[]) =>
    cut.off && subject.startsWith("$JS.ACK.")
      ? Promise.reject(new Error("test: link cut"))
      : (ctx.nc.request as (...a: unknown[]) => unknown)(subject, ...rest),
  ) as NatsConnection;
  const js = withMethod(ctx.js, "publish", (subject: string, ...rest: unknown[]) =>
    cut.off && subject.endsWith(".finished")
      ? Promise.reject(new Error("test: link cut"))
      : (ctx.js.publish as (...a: unknown[]) => unknown)(subject, ...rest),
  ) as JetStreamClient;
  const log = {
    ...ctx.log,
    warn: (message: string, fields?: Record<string, unknown>) => (
      warnings.push(message), ctx.log.warn(message, fields)
    ),
  };
  const service = await startExecutorService({ ...ctx, nc, js, log });
  try {
    const runId = "run-fenced-publish";
    const event = anEvent({ id: "fenced-publish", type: "t.once" });
    await ctx.js.publish(
      ctx.subjects.command("any"),
      encodeMessage(command(runId, event, { flow: "once", step: "work" })),
      { msgID: msgIds.command(runId, 1) },
    );
    const ran = () => (existsSync(marks) ? readFileSync(marks, "utf8").split("\n").filter(Boolean) : []);
    await eventually(() => ran().length === 1, 10_000, "the step to run");

    // Its record cannot be written; the lease is fenced; the server redelivers the command to this executor.
    await eventually(
      () => warnings.includes("no lease renewal answered: fencing the step so that another host can take it"),
      10_000,
      "the attempt to be fenced",
    );
    await eventually(
      () => warnings.includes("a delivery of a run this executor still handles: handed back") || ran().length > 1,
      15_000,
      "the redelivery",
    );
    cut.off = false;

    const finished = ctx.subjects.run(runId, "finished");
    const started = ctx.subjects.run(runId, "started");
    // The command is done with once a later delivery found the record (the handed-back one comes back after its delay).
    await eventually(
      async () => (await ctx.jsm.consumers.info(config.stream, "executor-any")).num_ack_pending === 0,
      20_000,
      "the command to be acked",
    );
    const counts = (await ctx.jsm.streams.info(config.stream, { subjects_filter: ">" })).state.subjects ?? {};
    expect(ran()).toEqual(["1"]);
    expect([counts[started], counts[finished]]).toEqual([1, 1]);
    const record = await ctx.jsm.direct.getMessage(config.stream, { last_by_subj: finished });
    expect(record?.json()).toMatchObject({ kind: "run.finished", attempt: 1, status: "completed" });
  } finally {
    await service.stop();
    await ctx.nc.close();
  }
});
