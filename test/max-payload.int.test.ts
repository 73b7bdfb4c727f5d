// Issue 9, item 3: every message we publish is sized against the server's max_payload
// first; what cannot fit is recorded once as a failed match, never redelivered in a loop.
import { beforeAll, describe, expect, test } from "bun:test";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { flowCatalog } from "../lib/flows/catalog.ts";
import { HEADER_ALLOWANCE } from "../lib/nats/payload.ts";
import { encodeMessage } from "../lib/protocol/messages.ts";
import { subjects } from "../lib/protocol/subjects.ts";
import { ENVELOPE_ALLOWANCE } from "../services/matcher/fit.ts";
import { startMatcher } from "../services/matcher/matcher.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";

const MAX_PAYLOAD = 64 * 1024;
const LIMIT = MAX_PAYLOAD - HEADER_ALLOWANCE;
const nats = useNatsServer({ maxPayload: MAX_PAYLOAD });
const LOUD = `process.stdout.write("y".repeat(200_000));
console.log("\\nFLOW_RESULT " + JSON.stringify({ status: "completed", message: "said 200000" }));
`;
const DONE = 'console.log("FLOW_RESULT " + JSON.stringify({ status: "completed" }));\n';
// One event, two steps: one runs at once, one is debounced by a key as large as the event's payload.
const DEBOUNCED = {
  debounced: [
    { name: "now", type: "debounced.event", source: DONE },
    {
      name: "later",
      type: "debounced.event",
      source: DONE,
      trigger: 'debounce_ms = 100\ndebounce_key = "payload.blob"',
    },
  ],
};
const BIG_KEY = 35_000; // the command fits with room for its envelope; the deferred run (command and key) does not
let system: RunningSystem;
let config: ReturnType<typeof testConfig>;
let url: string;
let nc: NatsConnection;
let jsm: JetStreamManager;

const post = (event: object, query = "") =>
  fetch(`${url}/events${query}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(event),
  });

/** An event whose event.accepted message is `bytes` long (the ingress adds receivedAt and acceptedAt, 24 characters each). */
function eventOfSize(id: string, bytes: number) {
  const at = new Date().toISOString();
  const shell = { id, type: "big.event", receivedAt: at, payload: { blob: "" } };
  const envelope = encodeMessage({ v: 1, kind: "event.accepted", event: shell, acceptedAt: at });
  return { id, type: "big.event", payload: { blob: "x".repeat(bytes - Buffer.byteLength(envelope)) } };
}

beforeAll(async () => {
  const cwd = writeFlows({
    big: [{ name: "take", type: "big.event", source: echoStep() }],
    loud: [{ name: "shout", type: "loud.event", source: LOUD }],
    ...DEBOUNCED,
  });
  config = testConfig({ cwd, maxBodyBytes: 1024 * 1024 });
  system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
  url = system.ingressUrl!;
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  nats.cleanup(async () => {
    await system.stop();
    await nc.close();
  });
});

describe("messages over max_payload", () => {
  test("an event that fits the ingress but whose command does not is recorded once as a failed match, and never redelivered", async () => {
    const event = eventOfSize("fits-ingress-not-command", LIMIT - 50);
    const answer = await json(post(event, "?wait=matched"));
    expect(answer).toMatchObject({ status: "accepted", matched: 0, runIds: [] });

    const { event: detail } = await json(fetch(`${url}/events/${encodeURIComponent(event.id)}`));
    const [decision] = detail.decisions;
    expect(decision).toMatchObject({ stepName: "take", matched: false, runId: null });
    expect(decision.reasons.at(-1)).toMatch(
      new RegExp(
        `^not started: its run\\.step command would be \\d+ bytes, over the limit of ${LIMIT - ENVELOPE_ALLOWANCE} \\(the NATS server's max_payload less ${HEADER_ALLOWANCE} for headers and ${ENVELOPE_ALLOWANCE} for the envelope of a paused or debounced run\\)$`,
      ),
    );

    // One decision in the stream, and the matcher's consumer has nothing pending or redelivered.
    const info = await jsm.streams.info(config.stream, {
      subjects_filter: subjects(config.subjectPrefix).matched(event.id),
    });
    expect(Object.values(info.state.subjects ?? {})).toEqual([1]);
    const matcher = await eventually(
      async () => {
        const consumer = await jsm.consumers.info(config.stream, "matcher");
        return consumer.num_ack_pending === 0 && consumer.num_pending === 0 && consumer;
      },
      10_000,
      "the matcher to settle",
    );
    expect(matcher.num_redelivered).toBe(0);
    expect(matcher.config.max_deliver).toBe(config.maxDeliver);
  });

  test("an event whose envelope is over the limit is a 413 at the ingress, naming both sizes", async () => {
    const response = await post(eventOfSize("over-ingress", LIMIT + 10));
    expect(response.status).toBe(413);
    expect((await json(response)).error).toBe(
      `the event.accepted message is too large for the stream: ${LIMIT + 10} bytes with its envelope, over the limit of ${LIMIT} (the NATS server's max_payload less ${HEADER_ALLOWANCE} for headers)`,
    );
  });

  test("a step writing more than max_payload at once: its live output arrives whole in chunks that fit, and its record keeps the result with shorter tails", async () => {
    const answer = await json(post({ id: "loud-1", type: "loud.event" }, "?wait=true"));
    const [run] = answer.runs;
    expect(run).toMatchObject({
      status: "completed",
      attempt: 1,
      error: null,
      result: { status: "completed", message: "said 200000" },
      stdoutTruncated: true,
    });
    expect(Buffer.byteLength(run.stdout)).toBeLessThan(LIMIT);
    const output = await json(fetch(`${url}/runs/${run.id}/output`, { headers: { accept: "application/json" } }));
    const stdout = output.output
      .filter((o: { kind: string }) => o.kind === "stdout")
      .map((o: { text: string }) => o.text)
      .join("");
    expect(stdout.startsWith("y".repeat(200_000))).toBe(true);
  });
});

// Issue 18, item 8.
describe("a debounce key near max_payload", () => {
  const quiet = { info() {}, warn() {}, error() {}, debug() {} } as never;
  const decisionsOf = async (base: string, id: string) =>
    await eventually(
      async () => {
        const answer = await fetch(`${base}/events/${encodeURIComponent(id)}`);
        if (answer.status !== 200) return undefined;
        const { event } = await json(answer);
        return event.matchedGeneration === 0 ? (event.decisions as Record<string, any>[]) : undefined;
      },
      20_000,
      `the decision for ${id}`,
    );
  const finalRuns = async (base: string, id: string) =>
    await eventually(
      async () => {
        const { runs } = await json(fetch(`${base}/runs?eventId=${encodeURIComponent(id)}`));
        return runs.length > 0 &&
          runs.every((r: { status: string }) => r.status === "completed" || r.status === "canceled")
          ? (runs as Record<string, any>[])
          : undefined;
      },
      20_000,
      `the runs of ${id} to end`,
    );

  test("its run is refused once in the decision, with the sizes; the event's other step runs; nothing is redelivered", async () => {
    const id = "debounce-key-too-big";
    const answer = await json(
      post({ id, type: "debounced.event", payload: { blob: "k".repeat(BIG_KEY) } }, "?wait=matched"),
    );
    expect(answer).toMatchObject({ status: "accepted", matched: 1 });
    const later = (await decisionsOf(url, id)).find((d) => d.stepName === "later")!;
    expect(later).toMatchObject({ matched: false, runId: null });
    expect(later.reasons.at(-1)).toMatch(
      new RegExp(
        `^not started: its run\\.deferred message \\(the run waiting out its debounce, with a debounce key of ${BIG_KEY} bytes\\) would be \\d+ bytes, over the limit of ${LIMIT} `,
      ),
    );
    expect((await finalRuns(url, id)).map((r) => [r.stepName, r.status])).toEqual([["now", "completed"]]);
    const matcher = await eventually(
      async () => {
        const consumer = await jsm.consumers.info(config.stream, "matcher");
        return consumer.num_ack_pending === 0 && consumer.num_pending === 0 && consumer;
      },
      10_000,
      "the matcher to settle",
    );
    expect(matcher.num_redelivered).toBe(0);
  });

  test("given a matcher failing on every delivery after one of the event's commands was published, when it gives up, then no decision says 'not started' for a run that ran", async () => {
    // A matcher that believes max_payload is larger than the server's: the deferred run fails to publish on every delivery.
    const cwd = writeFlows(DEBOUNCED);
    const config2 = testConfig({ cwd, maxBodyBytes: 1024 * 1024, maxDeliver: 3 });
    const other = await startSystem(config2, nats.url, ["ingress", "executor", "projector"]);
    const nc2 = await connect({ servers: nats.url });
    const subjects2 = subjects(config2.subjectPrefix);
    const options = {
      js: jetstream(nc2),
      jsm: await jetstreamManager(nc2),
      stream: config2.stream,
      subjects: subjects2,
      catalog: flowCatalog(cwd),
      ackWaitMs: config2.ackWaitMs,
      publishTimeoutMs: 5_000,
      payloadLimit: () => 4 * MAX_PAYLOAD,
      maxDeliver: 3,
      log: quiet,
    };
    const loop = await startMatcher(options);
    nats.cleanup(async () => {
      await loop.stop(1_000);
      await other.stop();
      await nc2.close();
    });
    const id = "gives-up";
    expect(
      (
        await fetch(`${other.ingressUrl}/events?wait=none`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ id, type: "debounced.event", payload: { blob: "k".repeat(BIG_KEY) } }),
        })
      ).status,
    ).toBe(202);
    const decisions = await decisionsOf(other.ingressUrl!, id);
    const later = decisions.find((d) => d.stepName === "later")!;
    expect(later).toMatchObject({ matched: false, runId: null });
    expect(later.reasons.at(-1)).toStartWith("not started: the matcher gave up after 3 deliveries: ");
    // The plain step's command went out on the first delivery: its run either ran and the decision keeps it, or was canceled before it started.
    const now = decisions.find((d) => d.stepName === "now")!;
    const runs = await finalRuns(other.ingressUrl!, id);
    expect(runs.map((r) => r.stepName)).toEqual(["now"]);
    if (now.matched) {
      expect(now.runId).toBe(runs[0]!.id);
      expect(runs[0]!.status).toBe("completed");
      expect(now.reasons.at(-1)).toEndWith(", after this run was published");
    } else {
      expect(runs[0]).toMatchObject({ status: "canceled", attempt: 0 });
    }
  }, 40_000);
});
