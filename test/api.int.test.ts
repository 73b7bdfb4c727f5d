import { beforeAll, describe, expect, test } from "bun:test";
import SwaggerParser from "@apidevtools/swagger-parser";
import { signBody } from "../lib/signature.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
const TOKEN = "operator-token";
const SECRET = "hmac-secret";
let url: string;

/** Requests the way the original's FlowBackendHttpClient sends them: token headers always, signed JSON bodies. */
async function client(method: string, path: string, body?: unknown): Promise<any> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, "x-api-key": TOKEN };
  if (text !== undefined)
    Object.assign(headers, { "content-type": "application/json", "x-flow-signature-256": signBody(SECRET, text) });
  const response = await fetch(`${url}${path}`, { method, headers, body: text });
  if (!response.ok) throw new Error(`${method} ${path} failed with ${response.status}: ${await response.text()}`);
  return await response.json();
}

beforeAll(async () => {
  const cwd = writeFlows({
    bindings: [
      {
        name: "regenerate",
        type: "upstream.release",
        source: echoStep("changed"),
        schema: { type: "object", required: ["repo"], properties: { repo: { type: "string" } } },
      },
    ],
    notes: [{ name: "write", type: "note.posted", source: echoStep(), extra: "retries = 0" }],
    blocked: [
      {
        name: "stop",
        type: "note.posted",
        source: 'console.log("FLOW_RESULT " + JSON.stringify({ status: "blocked" }));',
      },
    ],
    slow: [{ name: "wait", type: "slow.start", source: "await Bun.sleep(30_000);" }],
  });
  const system: RunningSystem = await startSystem(
    testConfig({ cwd, secret: SECRET, token: TOKEN, waitTimeoutMs: 3_000 }),
    nats.url,
    ["ingress", "matcher", "executor", "projector"],
  );
  url = system.ingressUrl!;
  nats.cleanup(() => system.stop());
  for (let i = 0; i < 7; i++)
    await client("POST", "/events?wait=true", {
      id: `note-${i}`,
      type: "note.posted",
      source: i % 2 ? "odd" : "even",
      payload: { i },
    });
  await client("POST", "/events?wait=true", {
    id: "patch:upstream.release:openai/codex:rust-v0.169.0",
    type: "upstream.release",
    payload: { repo: 42 },
  });
});

describe("the API as the existing HTTP client drives it", () => {
  test("dispatch, list, get, replay and cancel answer in the shapes the client reads", async () => {
    const dispatched = await client("POST", "/events?wait=true", { id: "client-1", type: "note.posted", payload: {} });
    expect(dispatched).toMatchObject({ status: "accepted", eventId: "client-1", matched: 2 });
    expect(dispatched.runIds).toHaveLength(2);
    const listed = await client("GET", "/runs?eventId=client-1&status=completed&limit=10");
    expect(listed.runs.map((r: { id: string }) => r.id).sort()).toEqual([...dispatched.runIds].sort());
    const blocked = listed.runs.find((r: { flowName: string }) => r.flowName === "blocked");
    expect(blocked).toMatchObject({ effectiveStatus: "blocked", needsAttention: true, result: { status: "blocked" } });
    expect((await client("GET", `/runs/${encodeURIComponent(blocked.id)}`)).run.id).toBe(blocked.id);
    const events = await client("GET", "/events?type=note.posted&limit=2");
    expect(events.events).toHaveLength(2);
    const detail = await client("GET", `/events/${encodeURIComponent("client-1")}`);
    expect(detail.event).toMatchObject({ id: "client-1", type: "note.posted" });
    expect(detail.runs).toHaveLength(2);
    const replayed = await client("POST", `/events/${encodeURIComponent("client-1")}/replay`, { wait: false });
    expect(replayed).toMatchObject({ status: "accepted", eventId: "client-1", generation: 1 });
    const slow = await client("POST", "/events?wait=matched", { id: "client-slow", type: "slow.start" });
    await eventually(async () => (await client("GET", `/runs/${slow.runIds[0]}`)).run.status === "running");
    const canceled = await client("POST", `/runs/${encodeURIComponent(slow.runIds[0])}/cancel`, {});
    expect(canceled.run).toMatchObject({ id: slow.runIds[0], status: "canceled" });
  });
});

describe("events", () => {
  test("an event's detail gives every step's decision, with the schema error's path for the one that did not match", async () => {
    const { event } = await client(
      "GET",
      `/events/${encodeURIComponent("patch:upstream.release:openai/codex:rust-v0.169.0")}`,
    );
    const regenerate = event.decisions.find((d: { stepName: string }) => d.stepName === "regenerate");
    expect(regenerate).toMatchObject({ matched: false, runId: null, reasons: ["schema: /repo must be string"] });
    const other = event.decisions.find((d: { flowName: string }) => d.flowName === "notes");
    expect(other.reasons[0]).toContain("type differs");
    expect(event.runIds).toEqual([]);
  });

  test("listing filters by type and source and pages with a cursor, newest first, without repeats", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client(
        "GET",
        `/events?type=note.posted&source=even&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      seen.push(...page.events.map((e: { id: string }) => e.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(["note-6", "note-4", "note-2", "note-0"]);
    // The time window is on when each was accepted: since inclusive, until exclusive.
    const all = (await client("GET", "/events?type=note.posted&source=even")).events;
    const at = all.find((e: { id: string }) => e.id === "note-2").acceptedAt;
    const ids = async (query: string) =>
      (await client("GET", `/events?type=note.posted&source=even&${query}`)).events.map((e: { id: string }) => e.id);
    expect(await ids(`since=${encodeURIComponent(at)}`)).toEqual(
      all.filter((e: { acceptedAt: string }) => e.acceptedAt >= at).map((e: { id: string }) => e.id),
    );
    expect(await ids(`until=${encodeURIComponent(at)}`)).toEqual(
      all.filter((e: { acceptedAt: string }) => e.acceptedAt < at).map((e: { id: string }) => e.id),
    );
    expect(await ids("until=2000-01-01T00:00:00Z")).toEqual([]);
  });

  test("an unknown event is 404 as JSON; a bad cursor or limit is 400 naming it", async () => {
    const missing = await fetch(`${url}/events/nope`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(missing.status).toBe(404);
    expect((await json(missing)).error).toContain("nope");
    const badCursor = await fetch(`${url}/events?cursor=xyz`, { headers: { "x-api-key": TOKEN } });
    expect(badCursor.status).toBe(400);
    expect((await json(badCursor)).error).toContain("cursor");
  });
});

describe("runs", () => {
  test("filters narrow the listing and pages cover every run exactly once", async () => {
    const all: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await client("GET", `/runs?flow=notes&limit=3${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.runs.every((r: { flowName: string }) => r.flowName === "notes")).toBe(true);
      all.push(...page.runs.map((r: { id: string }) => r.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBeGreaterThanOrEqual(8);
    const attention = await client("GET", "/runs?needsAttention=true&limit=500");
    expect(attention.runs.length).toBeGreaterThan(0);
    expect(
      attention.runs.every(
        (r: { needsAttention: boolean; effectiveStatus: string }) =>
          r.needsAttention && r.effectiveStatus === "blocked",
      ),
    ).toBe(true);
    const effective = await client("GET", "/runs?effectiveStatus=blocked,changed&step=stop");
    expect(effective.runs.every((r: { stepName: string }) => r.stepName === "stop")).toBe(true);
    const future = await client("GET", "/runs?since=2999-01-01T00:00:00Z");
    expect(future.runs).toEqual([]);
    expect((await client("GET", "/runs?until=2000-01-01T00:00:00Z")).runs).toEqual([]);
    const onHost = await client("GET", "/runs?host=test-host&queue=any&limit=500");
    expect(onHost.runs.length).toBeGreaterThan(0);
    expect(onHost.runs.every((r: { host: string; queue: string }) => r.host === "test-host" && r.queue === "any")).toBe(
      true,
    );
    expect((await client("GET", "/runs?host=elsewhere")).runs).toEqual([]);
  });

  test("a read with ?after= the sequence a write answered shows that write", async () => {
    const write = await client("POST", "/events", { id: "after-1", type: "note.posted" });
    const { event } = await client("GET", `/events/after-1?after=${write.seq}`);
    expect(event.id).toBe("after-1");
    // Beyond the stream's end it can never be applied: a 400 at once (issue 9), not a 503 after the wait.
    const tooFar = await fetch(`${url}/runs?after=99999999`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(tooFar.status).toBe(400);
  });
});

describe("auth, metrics and the API document", () => {
  test("with a token set, reads and operations need it; posting events keeps the HMAC rule; /healthz stays open", async () => {
    for (const path of ["/runs", "/events", "/events/note-1", "/metrics"])
      expect((await fetch(`${url}${path}`)).status).toBe(401);
    expect((await fetch(`${url}/runs`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${url}/runs/x/cancel`, { method: "POST" })).status).toBe(401);
    expect((await fetch(`${url}/runs`, { headers: { "x-api-key": TOKEN } })).status).toBe(200);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  test("/metrics reports events, runs by status, step durations, projector lag, consumers and executor slots", async () => {
    const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(text).toMatch(/^codex_flows_events_accepted_total \d+$/m);
    expect(Number(text.match(/^codex_flows_events_accepted_total (\d+)$/m)![1])).toBeGreaterThanOrEqual(9);
    expect(text).toMatch(/^codex_flows_runs\{status="completed"\} \d+$/m);
    expect(text).toMatch(/^codex_flows_step_duration_seconds_bucket\{flow="notes",step="write",le="\+Inf"\} \d+$/m);
    expect(text).toMatch(/^codex_flows_projector_lag \d+$/m);
    expect(text).toMatch(/^codex_flows_consumer_pending\{consumer="matcher"\} \d+$/m);
    await eventually(async () =>
      /^codex_flows_executor_slots\{host="test-host"\} \d+$/m.test(
        await (await fetch(`${url}/metrics`, { headers: { "x-api-key": TOKEN } })).text(),
      ),
    );
  });

  test("/openapi.json is a valid OpenAPI document describing every endpoint", async () => {
    const document = await json(fetch(`${url}/openapi.json`));
    await SwaggerParser.validate(structuredClone(document));
    const paths = Object.keys(document.paths);
    for (const path of [
      "/events",
      "/flow-events",
      "/events/{id}",
      "/events/{id}/replay",
      "/runs",
      "/runs/{id}",
      "/runs/{id}/output",
      "/runs/{id}/cancel",
      "/runs/{id}/retry",
      "/healthz",
      "/metrics",
    ]) {
      expect(paths).toContain(path);
    }
    expect(Object.keys(document.paths["/events"].post.responses)).toEqual(
      expect.arrayContaining(["202", "400", "401", "413", "503"]),
    );
    expect((await fetch(`${url}/openapi`)).headers.get("content-type")).toContain("text/html");
  });
});
