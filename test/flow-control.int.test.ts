import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openReadModel } from "../lib/read-model/database.ts";
import { verifySignature } from "../lib/signature.ts";
import { rebuildReadModel } from "../services/projector/rebuild.ts";
import { connectContext } from "../services/runtime/context.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { REPO } from "./support/processes.ts";
import { tempDir } from "./support/temp.ts";

const nats = useNatsServer();
const WEBHOOK_SECRET = "webhook-hmac-secret";

const result = (status: string) =>
  `const input = JSON.parse(await Bun.stdin.text());\nconsole.log("FLOW_RESULT " + JSON.stringify({ status: ${JSON.stringify(status)}, message: "rebase of " + input.flow.event.payload.repo + " needs a person" }));\n`;

/** Writes a flow package: a flow.toml with the given steps (name, trigger type, extra trigger lines, script). */
function flow(
  cwd: string,
  name: string,
  steps: { name: string; type: string; trigger?: string; source: string }[],
  extra = "",
): void {
  const root = join(cwd, "flows", name);
  mkdirSync(join(root, "exec"), { recursive: true });
  const toml = [`name = "${name}"`, extra, ""];
  for (const step of steps) {
    writeFileSync(join(root, "exec", `${step.name}.ts`), step.source);
    toml.push(
      "[[steps]]",
      `name = "${step.name}"`,
      'runner = "bun"',
      `script = "exec/${step.name}.ts"`,
      "",
      "[steps.trigger]",
      `type = "${step.type}"`,
      step.trigger ?? "",
      "",
    );
  }
  writeFileSync(join(root, "flow.toml"), toml.join("\n"));
}

// A local webhook receiver: records every request; answers 503 to the first one (the sender must retry).
const received: { body: string; signed: boolean; headers: Headers }[] = [];
const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    const body = new Uint8Array(await request.arrayBuffer());
    received.push({
      body: new TextDecoder().decode(body),
      signed: verifySignature(WEBHOOK_SECRET, body, request.headers),
      headers: request.headers,
    });
    return received.length === 1 ? new Response("busy", { status: 503 }) : new Response("ok");
  },
});
afterAll(() => receiver.stop(true));

const cwd = tempDir("codex-flows-control-");
flow(cwd, "fork", [
  { name: "rebase", type: "upstream.release", source: result("needs_intervention") },
  {
    name: "rebuild",
    type: "upstream.branch_update",
    trigger: 'debounce_ms = 1500\ndebounce_key = "payload.repo"',
    source: result("completed"),
  },
]);
flow(cwd, "ordered", [
  {
    name: "record",
    type: "demo.ordered",
    source:
      'const input = JSON.parse(await Bun.stdin.text());\nconsole.log("FLOW_RESULT " + JSON.stringify({ status: "completed", message: String(input.flow.event.payload.n) }));\n',
  },
]);
flow(cwd, "other", [{ name: "echo", type: "demo.other", source: result("completed") }]);
// The shipped notify-webhook flow, as it is, pointed at the receiver.
cpSync(join(REPO, "flows", "notify-webhook"), join(cwd, "flows", "notify-webhook"), { recursive: true });

let system: RunningSystem;
let url: string;
let config: ReturnType<typeof testConfig>;
const post = (path: string, body: unknown) =>
  fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
const runsOf = async (query: string) =>
  (await json(fetch(`${url}/runs?${query}&limit=200`))).runs as Record<string, any>[];

beforeAll(async () => {
  process.env.NOTIFY_WEBHOOK_URL = `http://127.0.0.1:${receiver.port}/hook`;
  process.env.NOTIFY_WEBHOOK_SECRET = WEBHOOK_SECRET;
  config = testConfig({ cwd, concurrency: 1 });
  system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
  // A second host's matcher (its own connection): pauses, debounces and resumes must hold across both.
  const secondMatcher = await startSystem({ ...config, hostId: "second-host" }, nats.url, ["matcher"]);
  url = system.ingressUrl!;
  nats.cleanup(() => system.stop());
  nats.cleanup(() => secondMatcher.stop());
});
afterAll(() => {
  delete process.env.NOTIFY_WEBHOOK_URL;
  delete process.env.NOTIFY_WEBHOOK_SECRET;
});

describe("pause and resume", () => {
  test("given a paused flow, when events match it, then its runs stay queued saying why while other flows run; on resume they run in the order they came", async () => {
    const paused = await post("/flows/ordered/pause", { reason: "maintenance" });
    expect(paused.status).toBe(200);
    expect(await json(paused)).toMatchObject({ flow: "ordered", paused: true });
    expect((await post("/flows/ordered/pause", {})).status).toBe(409);
    const listed = (await json(fetch(`${url}/flows`))).flows.find((f: { name: string }) => f.name === "ordered");
    expect(listed).toMatchObject({ paused: true, pauseReason: "maintenance" });

    for (let n = 1; n <= 5; n++)
      expect((await post("/events", { id: `ordered-${n}`, type: "demo.ordered", payload: { n } })).status).toBe(202);
    // Progress elsewhere proves the system is moving: an unpaused flow's run completes.
    await post("/events?wait=true", { id: "other-1", type: "demo.other", payload: { repo: "x" } });
    expect((await runsOf("eventId=other-1"))[0]!.status).toBe("completed");
    const held = await eventually(
      async () => {
        const runs = await runsOf("flow=ordered");
        return runs.length === 5 ? runs : undefined;
      },
      15_000,
      "five held runs",
    );
    for (const run of held) {
      expect(run.status).toBe("queued");
      expect(run.waiting).toContain("flow ordered is paused");
      expect(run.heldReason).toContain("flow ordered is paused");
    }

    expect(await json(await post("/flows/ordered/resume", {}))).toMatchObject({ flow: "ordered", paused: false });
    const done = await eventually(
      async () => {
        const runs = await runsOf("flow=ordered");
        return runs.every((r) => r.status === "completed") ? runs : undefined;
      },
      30_000,
      "the held runs to complete",
    );
    const byStart = [...done].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
    expect(byStart.map((r) => r.result.message)).toEqual(["1", "2", "3", "4", "5"]);
    expect(done.every((r) => r.heldReason === null)).toBe(true);
    expect((await post("/flows/ordered/resume", {})).status).toBe(409);
  }, 60_000);

  test("pausing one step holds only that step; an unknown flow or step is 404", async () => {
    expect((await post("/flows/nope/pause", {})).status).toBe(404);
    // Without a body (curl -X POST) too; an unknown field is named.
    expect((await fetch(`${url}/flows/other/pause`, { method: "POST" })).status).toBe(200);
    expect((await fetch(`${url}/flows/other/resume`, { method: "POST" })).status).toBe(200);
    const typo = await post("/flows/other/pause", { stpe: "echo" });
    expect(typo.status).toBe(400);
    expect((await post("/flows/ordered/pause", { step: "nope" })).status).toBe(404);
    expect((await post("/flows/ordered/pause", { step: "record" })).status).toBe(200);
    await post("/events", { id: "ordered-step-1", type: "demo.ordered", payload: { n: 6 } });
    const [run] = await eventually(
      async () => {
        const runs = await runsOf("eventId=ordered-step-1");
        return runs.length === 1 ? runs : undefined;
      },
      15_000,
      "the held run",
    );
    expect(run!.heldReason).toContain("step ordered/record is paused");
    const flows = (await json(fetch(`${url}/flows`))).flows;
    expect(flows.find((f: { name: string }) => f.name === "ordered")).toMatchObject({
      paused: false,
      steps: [{ name: "record", paused: true }],
    });
    await post("/flows/ordered/resume", { step: "record" });
    await eventually(
      async () => (await runsOf("eventId=ordered-step-1"))[0]?.status === "completed",
      20_000,
      "the released run",
    );
  }, 40_000);

  test("a held run canceled while paused stays canceled after the resume; the runs held with it run", async () => {
    expect((await post("/flows/ordered/pause", {})).status).toBe(200);
    await post("/events", { id: "ordered-cancel-1", type: "demo.ordered", payload: { n: 7 } });
    await post("/events", { id: "ordered-cancel-2", type: "demo.ordered", payload: { n: 8 } });
    const [first] = await eventually(
      async () => {
        const runs = await runsOf("eventId=ordered-cancel-1");
        return runs[0]?.heldReason ? runs : undefined;
      },
      15_000,
      "the held run",
    );
    const canceled = await json(await post(`/runs/${first!.id}/cancel`, {}));
    expect(canceled.run).toMatchObject({ status: "canceled", attempt: 0 });
    await post("/flows/ordered/resume", {});
    await eventually(
      async () => (await runsOf("eventId=ordered-cancel-2"))[0]?.status === "completed",
      20_000,
      "the other held run",
    );
    expect((await runsOf("eventId=ordered-cancel-1"))[0]).toMatchObject({ status: "canceled", attempt: 0 });
  }, 40_000);

  test("a pause is a message in the stream: a read model rebuilt from sequence 1 shows the flow paused and its runs held", async () => {
    expect((await post("/flows/other/pause", { reason: "rebuild check" })).status).toBe(200);
    await post("/events", { id: "other-held-1", type: "demo.other", payload: { repo: "y" } });
    await eventually(async () => (await runsOf("eventId=other-held-1"))[0]?.heldReason, 15_000, "the held run");
    const ctx = await connectContext(config, nats.url, "rebuild");
    try {
      const { path } = await rebuildReadModel(ctx, join(tempDir("codex-flows-rebuild-"), "rebuilt.sqlite"));
      const db = await openReadModel(path);
      const control = await db.selectFrom("flow_controls").selectAll().where("flow", "=", "other").executeTakeFirst();
      const run = await db.selectFrom("runs").selectAll().where("event_id", "=", "other-held-1").executeTakeFirst();
      await db.destroy();
      expect(control).toMatchObject({ step: "", paused: 1, reason: "rebuild check" });
      expect(run).toMatchObject({
        status: "queued",
        held_reason: "held: flow other is paused; the run starts when it is resumed",
      });
    } finally {
      await ctx.nc.close();
    }
    await post("/flows/other/resume", {});
    await eventually(
      async () => (await runsOf("eventId=other-held-1"))[0]?.status === "completed",
      20_000,
      "the released run",
    );
  }, 40_000);
});

describe("debounce", () => {
  test("given a burst of 20 branch_update events for one repo, then one run starts (the last event's) and the others are superseded, each naming the event after it", async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `branch-update-${i}`);
    for (const id of ids)
      expect(
        (await post("/events", { id, type: "upstream.branch_update", payload: { repo: "openai/codex" } })).status,
      ).toBe(202);
    await post("/events", {
      id: "branch-update-other",
      type: "upstream.branch_update",
      payload: { repo: "other/repo" },
    });
    const runs = await eventually(
      async () => {
        const all = (await runsOf("flow=fork")).filter((r) => r.stepName === "rebuild");
        return all.length === 21 && all.every((r) => r.status === "completed" || r.status === "superseded")
          ? all
          : undefined;
      },
      30_000,
      "every debounced run to settle",
    );
    const mine = runs.filter((r) => r.eventId.startsWith("branch-update-") && r.eventId !== "branch-update-other");
    expect(mine.filter((r) => r.status === "completed").map((r) => r.eventId)).toEqual(["branch-update-19"]);
    const superseded = mine.filter((r) => r.status === "superseded");
    expect(superseded).toHaveLength(19);
    for (const run of superseded) {
      const n = Number(run.eventId.split("-").at(-1));
      expect(run.supersededBy).toBe(`branch-update-${n + 1}`);
      expect(run.attempt).toBe(0);
    }
    expect(runs.find((r) => r.eventId === "branch-update-other")!.status).toBe("completed");
  }, 60_000);

  // Issue 18, item 9: two matchers defer the runs of a fire-and-forget burst in whatever order they finish.
  test("given two matchers and five bursts of 20 events per key posted at once with ?wait=none, then in each burst the last stored event runs and every superseded run names the next stored event", async () => {
    const bursts = await Promise.all(
      Array.from({ length: 5 }, async (_, b) => {
        const answers = await Promise.all(
          Array.from({ length: 20 }, async (_, i) => {
            const response = await post("/events?wait=none", {
              id: `fire-${b}-${i}`,
              type: "upstream.branch_update",
              payload: { repo: `fire/${b}` },
            });
            expect(response.status).toBe(202);
            return (await json(response)) as { eventId: string; seq: number };
          }),
        );
        return answers.sort((x, y) => x.seq - y.seq).map((a) => a.eventId);
      }),
    );
    const runs = await eventually(
      async () => {
        const all = (await runsOf("flow=fork")).filter((r) => r.eventId.startsWith("fire-"));
        return all.length === 100 && all.every((r) => r.status === "completed" || r.status === "superseded")
          ? all
          : undefined;
      },
      45_000,
      "every run of the bursts to settle",
    );
    for (const stored of bursts) {
      const mine = runs.filter((r) => stored.includes(r.eventId));
      expect(mine.filter((r) => r.status === "completed").map((r) => r.eventId)).toEqual([stored.at(-1)!]);
      for (const run of mine.filter((r) => r.status === "superseded"))
        expect(run.supersededBy).toBe(stored[stored.indexOf(run.eventId) + 1]);
    }
  }, 90_000);
});

describe("run events and notify-webhook", () => {
  test("given a run that ends needs_intervention, then codex-flows.run.needs_intervention is emitted and notify-webhook posts a signed summary (retrying a 503); the notification's own run emits nothing", async () => {
    await post("/events", { id: "release-1", type: "upstream.release", payload: { repo: "openai/codex" } });
    const [rebase] = await eventually(
      async () => {
        const runs = await runsOf("eventId=release-1");
        return runs[0]?.status === "completed" ? runs : undefined;
      },
      20_000,
      "the rebase run",
    );
    expect(rebase!.effectiveStatus).toBe("needs_intervention");
    const eventId = `codex-flows.run.needs_intervention:${rebase!.id}:1`;
    const [notify] = await eventually(
      async () => {
        const runs = await runsOf(`eventId=${encodeURIComponent(eventId)}`);
        return runs[0]?.status === "completed" ? runs : undefined;
      },
      30_000,
      "the notification run",
    );
    expect(notify).toMatchObject({
      flowName: "notify-webhook",
      stepName: "needs_intervention",
      effectiveStatus: "completed",
    });

    expect(received).toHaveLength(2);
    expect(received.every((r) => r.signed)).toBe(true);
    const summary = JSON.parse(received[1]!.body);
    expect(summary).toMatchObject({
      status: "needs_intervention",
      flow: "fork",
      step: "rebase",
      runId: rebase!.id,
      eventId: "release-1",
      attempt: 1,
      host: "test-host",
      link: `/runs/${rebase!.id}`,
      message: "rebase of openai/codex needs a person",
    });
    expect(received[1]!.headers.get("x-flow-signature-256")).toMatch(/^sha256=[0-9a-f]{64}$/);

    const event = await json(fetch(`${url}/events/${encodeURIComponent(eventId)}`));
    expect(event.event).toMatchObject({
      type: "codex-flows.run.needs_intervention",
      payload: { runId: rebase!.id, flow: "fork", step: "rebase" },
    });
    const runEvents = (await json(fetch(`${url}/events?limit=200`))).events.filter((e: { type: string }) =>
      e.type.startsWith("codex-flows.run."),
    );
    expect(runEvents.map((e: { id: string }) => e.id)).toEqual([eventId]);
  }, 60_000);
});
