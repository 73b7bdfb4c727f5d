import { beforeAll, describe, expect, test } from "bun:test";
import { signBody } from "../lib/signature.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { startTestSystem } from "./support/system.ts";

const nats = useNatsServer();
const TOKEN = "read-token";
const SECRET = "hmac-secret";
let url: string;

/** A signed write; `read` adds the token the way a reader sends it. */
async function post(
  path: string,
  body: unknown,
  options: { read?: boolean; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any }> {
  const text = JSON.stringify(body);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-flow-signature-256": signBody(SECRET, text),
    ...(options.read ? { authorization: `Bearer ${TOKEN}` } : {}),
    ...options.headers,
  };
  const response = await fetch(`${url}${path}`, { method: "POST", headers, body: text });
  return { status: response.status, body: await response.json() };
}

const read = async (path: string): Promise<any> =>
  await (await fetch(`${url}${path}`, { headers: { "x-api-key": TOKEN } })).json();

beforeAll(async () => {
  const cwd = writeFlows({
    notes: [{ name: "write", type: "note.posted", source: echoStep() }],
    other: [{ name: "log", type: "note.posted", source: echoStep() }],
  });
  const system = await startTestSystem(nats, testConfig({ cwd, secret: SECRET, token: TOKEN, waitTimeoutMs: 5_000 }));
  url = system.ingressUrl!;
});

describe("the runIds every dispatch and replay answer carries (the original client reads them)", () => {
  test("a new event without ?wait= answers the matched run ids; ?wait=none answers at once without them", async () => {
    const fresh = await post("/events", { id: "ids-1", type: "note.posted", payload: {} }, { read: true });
    expect(fresh.status).toBe(202);
    expect(fresh.body).toMatchObject({ status: "accepted", eventId: "ids-1", matched: 2 });
    expect(fresh.body.runIds).toHaveLength(2);
    const stored: any = await read("/runs?eventId=ids-1");
    expect(stored.runs.map((r: { id: string }) => r.id).sort()).toEqual([...fresh.body.runIds].sort());
    const none = await post("/events?wait=none", { id: "ids-2", type: "note.posted", payload: {} }, { read: true });
    expect(none.body).toEqual({ status: "accepted", eventId: "ids-2", seq: expect.any(Number) });
  });

  test("a duplicate answers the existing run ids; a replay answers its new ones, even with the client's {wait: false}", async () => {
    const first = await post("/events", { id: "ids-3", type: "note.posted", payload: {} }, { read: true });
    const again = await post("/events", { id: "ids-3", type: "note.posted", payload: {} }, { read: true });
    expect(again.body).toMatchObject({ status: "duplicate", idempotent: true, matched: 2 });
    expect([...again.body.runIds].sort()).toEqual([...first.body.runIds].sort());
    const replayed = await post(`/events/ids-3/replay`, { wait: false }, { read: true });
    expect(replayed.body).toMatchObject({ status: "accepted", generation: 1, matched: 2 });
    expect(replayed.body.runIds).toHaveLength(2);
    for (const id of replayed.body.runIds) expect(first.body.runIds).not.toContain(id);
  });

  test("an event that matched nothing says why and where every decision is", async () => {
    const answer = await post(
      "/events?wait=matched",
      { id: "ids-4", type: "nobody.listens", payload: {} },
      { read: true },
    );
    expect(answer.body).toMatchObject({ matched: 0, runIds: [] });
    expect(answer.body.why).toContain("notes/write: type differs");
    expect(answer.body.why).toContain("GET /events/ids-4");
  });
});

describe("the read token is not bypassed through POST /events", () => {
  test("a duplicate posted without the token reveals no run ids, runs or output", async () => {
    await post("/events?wait=true", { id: "secret-run", type: "note.posted", payload: { x: 1 } }, { read: true });
    for (const wait of ["", "?wait=false", "?wait=none"]) {
      const again = await post(`/events${wait}`, { id: "secret-run", type: "note.posted", payload: { x: 1 } });
      expect(again.status).toBe(202);
      expect(again.body).toEqual({
        status: "duplicate",
        eventId: "secret-run",
        seq: expect.any(Number),
        idempotent: true,
      });
    }
  });

  test("?wait=true or matched without the token is 401 before anything is published", async () => {
    for (const wait of ["true", "matched"]) {
      const answer = await post(`/events?wait=${wait}`, { id: `nowait-${wait}`, type: "note.posted", payload: {} });
      expect(answer.status).toBe(401);
      expect(answer.body.error).toContain("read token");
      const event = await fetch(`${url}/events/nowait-${wait}`, { headers: { "x-api-key": TOKEN } });
      expect(event.status).toBe(404);
    }
    const duplicate = await post("/events?wait=true", { id: "secret-run", type: "note.posted", payload: { x: 1 } });
    expect(duplicate.status).toBe(401);
  });

  test("a new event posted without the token is accepted and answers without run data", async () => {
    const answer = await post("/events", { id: "signer-only", type: "note.posted", payload: {} });
    expect(answer.body).toEqual({ status: "accepted", eventId: "signer-only", seq: expect.any(Number) });
    await eventually(async () => (await read("/runs?eventId=signer-only")).runs.length === 2);
  });
});
