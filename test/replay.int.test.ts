import { beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { headers } from "@nats-io/nats-core";
import { connectContext, type ServiceContext } from "../services/runtime/context.ts";
import { startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
const ID = "patch:upstream.release:openai/codex:rust-v0.171.0";
let url: string;
let ctx: ServiceContext;

beforeAll(async () => {
  const config = testConfig({
    cwd: writeFlows({ release: [{ name: "build", type: "upstream.release", source: echoStep() }] }),
  });
  const system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
  url = system.ingressUrl!;
  ctx = await connectContext(config, nats.url, "operator");
  nats.cleanup(async () => {
    await system.stop();
    await ctx.nc.close();
  });
});

// The same steps docs/replay.md gives for the nats CLI, through the client library.
test("an operator replays an event with nothing but the stream: get it, mark it, publish it", async () => {
  const first = await json(
    fetch(`${url}/events?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: ID, type: "upstream.release", payload: { tag: "rust-v0.171.0" } }),
    }),
  );
  expect(first.runs[0].status).toBe("completed");
  const { stream } = ctx.config;

  // nats stream get FLOWS <seq> (the seq the POST answered, or found with nats stream view)
  const stored = await ctx.jsm.streams.getMessage(stream, { seq: first.seq });
  const body = stored!.json<Record<string, unknown>>();
  expect(body).toMatchObject({ kind: "event.accepted", event: { id: ID } });

  // nats stream get FLOWS --last-for flows.matched.<first 32 hex of sha256(id)>: the generation to go past
  const token = createHash("sha256").update(ID).digest("hex").slice(0, 32);
  const matched = (await ctx.jsm.direct.getMessage(stream, {
    last_by_subj: `${ctx.config.subjectPrefix}.matched.${token}`,
  }))!.json<{ generation: number }>();
  const generation = matched.generation + 1;

  // nats req flows.events.upstream.release --header Nats-Msg-Id:replay:<n>:<id> "<body with a replay mark>"
  const replay = { ...body, replay: { generation, requestedAt: new Date().toISOString() } };
  const h = headers();
  h.set("Nats-Msg-Id", `replay:${generation}:${ID}`);
  const reply = await ctx.nc.request(stored!.subject, JSON.stringify(replay), { headers: h, timeout: 5_000 });
  expect(reply.json<{ seq: number; duplicate?: boolean }>().duplicate).toBeUndefined();

  const runs = await eventually(async () => {
    const answer = await json(fetch(`${url}/runs?eventId=${encodeURIComponent(ID)}`));
    return (
      answer.runs.length === 2 && answer.runs.every((r: { status: string }) => r.status === "completed") && answer.runs
    );
  });
  expect(runs.map((r: { generation: number }) => r.generation).sort()).toEqual([0, 1]);

  // The same request again is a duplicate for JetStream: no third run.
  const again = await ctx.nc.request(stored!.subject, JSON.stringify(replay), { headers: h, timeout: 5_000 });
  expect(again.json<{ duplicate?: boolean }>().duplicate).toBe(true);
});

// Item 7 of issue 9: event ids and replay message ids are disjoint id spaces.
const post = (id: string) =>
  json(
    fetch(`${url}/events?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id, type: "upstream.release" }),
    }),
  );
const replayOf = (id: string) =>
  json(fetch(`${url}/events/${encodeURIComponent(id)}/replay?wait=true`, { method: "POST" }));

test("an event whose id looks like a replay's (X:replay:1) does not block the replay of X", async () => {
  const x = "collide-a";
  expect((await post(`${x}:replay:1`)).status).toBe("accepted");
  expect((await post(x)).status).toBe("accepted");
  const replay = await replayOf(x);
  expect(replay).toMatchObject({ status: "accepted", generation: 1, matched: 1 });
  expect(replay.runs.map((r: { status: string }) => r.status)).toEqual(["completed"]);
});

test("an event X:replay:1 posted after X was replayed is accepted, not dropped as a duplicate", async () => {
  const x = "collide-b";
  expect((await post(x)).status).toBe("accepted");
  expect(await replayOf(x)).toMatchObject({ status: "accepted", generation: 1 });
  const lookalike = await post(`${x}:replay:1`);
  expect(lookalike).toMatchObject({ status: "accepted", eventId: `${x}:replay:1`, matched: 1 });
  expect(lookalike.runs.map((r: { status: string }) => r.status)).toEqual(["completed"]);
});
