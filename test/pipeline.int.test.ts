import { beforeAll, describe, expect, test } from "bun:test";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { type EventAccepted, encodeMessage } from "../lib/protocol/messages.ts";
import { subjects } from "../lib/protocol/subjects.ts";
import { signBody } from "../lib/signature.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
const SECRET = "shared-hmac-secret";
const PATCH_ID = "patch:upstream.release:openai/codex:rust-v0.169.0";

let system: RunningSystem;
let url: string;
let config: ReturnType<typeof testConfig>;

const cwd = writeFlows({
  bindings: [
    {
      name: "regenerate",
      type: "upstream.release",
      source: echoStep("changed"),
      schema: { type: "object", required: ["tag"], properties: { tag: { type: "string" } } },
    },
  ],
  fork: [
    {
      name: "rebase",
      type: "upstream.release",
      source: echoStep(),
      schema: { type: "object", required: ["repo"], properties: { repo: { type: "string" } } },
    },
  ],
});

function post(body: string, headers: Record<string, string> = {}, query = "") {
  return fetch(`${url}/events${query}`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-flow-signature-256": signBody(SECRET, body), ...headers },
  });
}

beforeAll(async () => {
  config = testConfig({ cwd, secret: SECRET, maxBodyBytes: 64 * 1024 });
  system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
  url = system.ingressUrl!;
  nats.cleanup(() => system.stop());
});

describe("POST /events through the whole pipeline", () => {
  test("a signed event with a Patch-style id runs the matching step to completion and /runs shows its FLOW_RESULT", async () => {
    const event = { id: PATCH_ID, type: "upstream.release", source: "patch", payload: { tag: "rust-v0.169.0" } };
    const response = await post(JSON.stringify(event), {}, "?wait=true");
    expect(response.status).toBe(202);
    const answer = (await json(response)) as {
      status: string;
      eventId: string;
      seq: number;
      matched: number;
      runIds: string[];
      runs: { status: string }[];
    };
    expect(answer).toMatchObject({ status: "accepted", eventId: PATCH_ID, matched: 1 });
    expect(answer.seq).toBeGreaterThan(0);
    expect(answer.runs.map((r) => r.status)).toEqual(["completed"]);

    const runs = await json(fetch(`${url}/runs?eventId=${encodeURIComponent(PATCH_ID)}`));
    expect(runs.eventId).toBe(PATCH_ID);
    expect(runs.runs).toHaveLength(1);
    const [run] = runs.runs;
    expect(run).toMatchObject({
      id: answer.runIds[0],
      eventId: PATCH_ID,
      flowName: "bindings",
      stepName: "regenerate",
      status: "completed",
      effectiveStatus: "changed",
      executor: "direct",
      host: "test-host",
      attempt: 1,
      error: null,
    });
    expect(run.result).toEqual({ status: "changed", message: 'payload {"tag":"rust-v0.169.0"}', attempt: "1" });
    expect(run.stdout).toContain("hello from regenerate");
    expect(run.stderr).toContain("note on stderr");
    expect(run.attempts).toHaveLength(1);
    expect(Date.parse(run.completedAt)).toBeGreaterThanOrEqual(Date.parse(run.startedAt));
  });

  test("the same event id again is a duplicate and starts nothing", async () => {
    const event = { id: PATCH_ID, type: "upstream.release", payload: { tag: "rust-v0.169.0" } };
    const response = await post(JSON.stringify(event), {}, "?wait=matched");
    expect(response.status).toBe(202);
    expect(await json(response)).toMatchObject({
      status: "duplicate",
      eventId: PATCH_ID,
      matched: 1,
      idempotent: true,
    });
    const runs = await json(fetch(`${url}/runs?eventId=${encodeURIComponent(PATCH_ID)}`));
    expect(runs.runs).toHaveLength(1);
  });

  test("an event published again beyond the dedup window (a new Nats-Msg-Id) starts no second run", async () => {
    const id = "late-duplicate-1";
    await post(JSON.stringify({ id, type: "upstream.release", payload: { tag: "v1" } }), {}, "?wait=true");
    const nc = await connect({ servers: nats.url });
    const accepted: EventAccepted = {
      v: 1,
      kind: "event.accepted",
      event: { id, type: "upstream.release", receivedAt: new Date().toISOString(), payload: { tag: "v1" } },
      acceptedAt: new Date().toISOString(),
    };
    const ack = await jetstream(nc).publish(
      subjects(config.subjectPrefix).event("upstream.release"),
      encodeMessage(accepted),
      { msgID: `expired-window-${id}` },
    );
    await nc.close();
    expect(ack.duplicate).toBe(false);
    // The projector has applied the re-published event (and anything the matcher did with it) once health shows no lag.
    await eventually(async () => {
      const health = await json(fetch(`${url}/healthz`));
      return health.projector.appliedSeq >= ack.seq && health.projector.lag === 0;
    });
    await Bun.sleep(300);
    const runs = await json(fetch(`${url}/runs?eventId=${id}`));
    expect(runs.runs).toHaveLength(1);
  });

  test("an event no step matches is accepted with matched 0", async () => {
    const response = await post(JSON.stringify({ id: "nobody-1", type: "nobody.cares" }), {}, "?wait=matched");
    expect(response.status).toBe(202);
    expect(await json(response)).toMatchObject({ status: "accepted", matched: 0, runIds: [] });
  });

  test("POST /flow-events is the same endpoint", async () => {
    const body = JSON.stringify({ id: "flow-events-1", type: "upstream.release", payload: { tag: "v2" } });
    const response = await fetch(`${url}/flow-events?wait=true`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "x-patchbay-flow-signature-256": signBody(SECRET, body) },
    });
    expect(response.status).toBe(202);
    expect(await json(response)).toMatchObject({ status: "accepted", matched: 1 });
  });
});

describe("bad input is answered clearly and nothing is published", () => {
  test("a body over the limit is 413", async () => {
    const body = JSON.stringify({ id: "big", type: "upstream.release", payload: { blob: "x".repeat(70 * 1024) } });
    const response = await post(body);
    expect(response.status).toBe(413);
    expect((await json(response)).error).toContain("larger than 65536 bytes");
  });

  test("a body that is not JSON is 400", async () => {
    const response = await post("{not json");
    expect(response.status).toBe(400);
    expect((await json(response)).error).toContain("not valid JSON");
  });

  test("a body that is not a FlowEvent is 400 naming the fields", async () => {
    const response = await post(JSON.stringify({ type: "a..b", payload: 1 }));
    expect(response.status).toBe(400);
    const answer = await json(response);
    expect(answer.details).toEqual([
      "id: expected required property",
      "type: expected dot-separated segments of letters, digits and _ - : / @ + (e.g. upstream.release)",
    ]);
  });

  test("a missing or wrong signature is 401, whichever header carries it", async () => {
    const body = JSON.stringify({ id: "unsigned", type: "upstream.release" });
    expect(
      (await fetch(`${url}/events`, { method: "POST", headers: { "content-type": "application/json" }, body })).status,
    ).toBe(401);
    expect((await post(body, { "x-flow-signature-256": signBody("other-secret", body) })).status).toBe(401);
    const viaPatch = await fetch(`${url}/events`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "x-patch-flow-signature-256": signBody(SECRET, body) },
    });
    expect(viaPatch.status).toBe(202);
  });

  test("GET /runs without eventId lists runs newest first; a bad limit is 400", async () => {
    const answer = await json(fetch(`${url}/runs?limit=2`));
    expect(answer.runs).toHaveLength(2);
    expect(answer.nextCursor).toBeString();
    expect(Date.parse(answer.runs[0].createdAt)).toBeGreaterThanOrEqual(Date.parse(answer.runs[1].createdAt));
    const bad = await fetch(`${url}/runs?limit=0`);
    expect(bad.status).toBe(400);
    expect((await json(bad)).error).toContain("limit");
  });

  test("an unknown wait mode is 400", async () => {
    const response = await post(JSON.stringify({ id: "wait-bad", type: "x" }), {}, "?wait=forever");
    expect(response.status).toBe(400);
  });
});
