// Issue 18 items 7, 11, 12 and 28 against a real system: one budget per chain, system ids
// and types out of clients' reach, notification links from validated ids, and a
// "why nothing matched" that names the step that wanted the event first.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, cpSync } from "node:fs";
import { join } from "node:path";
import { runIdFor } from "../lib/protocol/ids.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { REPO } from "./support/processes.ts";
import { startTestSystem } from "./support/system.ts";

const nats = useNatsServer();
const result = (fields: object) => `console.log("FLOW_RESULT " + ${JSON.stringify(JSON.stringify(fields))});\n`;
// Every run of the three fan steps asks for ten more fan.node events.
const FAN = result({ status: "completed", next: Array.from({ length: 10 }, () => ({ type: "fan.node" })) });
const fanSteps = ["a", "b", "c"].map((name) => ({ name, type: "fan.node", source: FAN }));
// Unrelated steps whose flow names sort before the one that matters (item 28).
const unrelated = Object.fromEntries(
  Array.from({ length: 6 }, (_, i) => [`a-other-${i}`, [{ name: "go", type: `other.type${i}`, source: echoStep() }]]),
);

// A local webhook receiver for notify-webhook: records every body it is sent.
const received: string[] = [];
const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: async (request) => (received.push(await request.text()), new Response("ok")),
});
afterAll(() => receiver.stop(true));
const hook = `http://127.0.0.1:${receiver.port}/hook`;

let system: RunningSystem;
let url: string;
const post = (body: unknown, path = "/events", query = "") =>
  fetch(`${url}${path}${query}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
const runsOf = async (query: string) =>
  (await json(fetch(`${url}/runs?${query}&limit=500`))).runs as Record<string, any>[];

beforeAll(async () => {
  const cwd = writeFlows({
    fan: fanSteps,
    fails: [{ name: "boom", type: "boom.go", source: result({ status: "failed", message: "release/publish failed" }) }],
    "zz-deploy": [
      {
        name: "push",
        type: "github.push",
        source: echoStep(),
        schema: { type: "object", required: ["ref"], properties: { ref: { type: "string" } } },
      },
    ],
    ...unrelated,
  });
  cpSync(join(REPO, "flows", "notify-webhook"), join(cwd, "flows", "notify-webhook"), { recursive: true });
  process.env.NOTIFY_WEBHOOK_URL = hook;
  system = await startTestSystem(nats, testConfig({ cwd, maxNextEvents: 4, maxChainEvents: 20 }));
  url = system.ingressUrl!;
});
afterAll(() => delete process.env.NOTIFY_WEBHOOK_URL);

describe("one budget per chain (item 7)", () => {
  test("given three steps matching every event and limits 20/4, when each run asks for 10 more, then the whole chain starts at most 20 events", async () => {
    expect((await post({ id: "fan-root", type: "fan.node" })).status).toBe(202);
    const events = await eventually(
      async () => {
        const { events } = await json(fetch(`${url}/events?type=fan.node&limit=500`));
        if (events.length > 21) return events; // over the budget: no need to wait for the rest
        const runs = await runsOf("flow=fan");
        const done = runs.length === 3 * events.length && runs.every((r) => ["completed", "failed"].includes(r.status));
        return done && events;
      },
      60_000,
      "the chain to end",
    );
    expect(events.length - 1).toBeGreaterThan(0);
    expect(events.length - 1).toBeLessThanOrEqual(20);
  }, 90_000);
});

describe("system ids and types (items 11 and 12)", () => {
  test("a pre-posted run event id is refused (400 naming the id), and the real failure notification still happens", async () => {
    const runId = runIdFor("boom-1", 0, "fails", "boom");
    const eventId = `codex-flows.run.failed:${runId}:1`;
    const forged = await post({ id: eventId, type: "boom.other", payload: { runId, link: "@evil.example/login" } });
    expect(forged.status).toBe(400);
    expect((await json(forged)).error).toContain(
      `id: ${JSON.stringify(eventId)} has the form of an id the system generates`,
    );

    expect((await post({ id: "boom-1", type: "boom.go" })).status).toBe(202);
    const [notify] = await eventually(
      async () => {
        const runs = await runsOf(`eventId=${encodeURIComponent(eventId)}`);
        return runs[0]?.status === "completed" ? runs : undefined;
      },
      30_000,
      "the notification run",
    );
    expect(notify).toMatchObject({ flowName: "notify-webhook", stepName: "failed", effectiveStatus: "completed" });
    expect(received.map((body) => JSON.parse(body))).toContainEqual(
      expect.objectContaining({ runId, status: "failed", link: `/runs/${runId}`, message: "release/publish failed" }),
    );
  }, 60_000);

  test("a client cannot post a type in the codex-flows namespace, on either path: 400 naming the type", async () => {
    for (const path of ["/events", "/flow-events"]) {
      const forged = await post(
        {
          id: `forged-${path}`,
          type: "codex-flows.run.failed",
          payload: { runId: "run-0", link: "@evil.example/login" },
        },
        path,
      );
      expect(forged.status).toBe(400);
      expect((await json(forged)).error).toContain('type: "codex-flows.run.failed" is in the system\'s namespace');
    }
    expect(await json(fetch(`${url}/events/forged-%2Fevents`)).then((b) => b.error)).toContain("no event");
  });
});

describe("a schedule tick's id (item 11)", () => {
  test("a pre-posted tick id is refused (400 naming the id), and the tick still runs at its time with the schedule's payload", async () => {
    const cwd = writeFlows({ nightly: [{ name: "go", type: "nightly.tick", source: echoStep() }] });
    appendFileSync(
      join(cwd, "flows", "nightly", "flow.toml"),
      '\n[[schedules]]\nname = "each"\ncron = "* * * * * *"\noverlap = "allow"\nevent = { type = "nightly.tick", payload = { n = 1 } }\n',
    );
    const ticking = await startSystem(testConfig({ cwd }), nats.url, ["ingress", "matcher", "executor", "projector"]);
    try {
      const eventId = `schedule:nightly:each:${new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_000).toISOString()}`;
      const forged = await fetch(`${ticking.ingressUrl}/events`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: eventId, type: "nightly.tick", payload: { n: "forged" } }),
      });
      expect(forged.status).toBe(400);
      expect((await json(forged)).error).toContain(
        `id: ${JSON.stringify(eventId)} has the form of an id the system generates`,
      );
      const run = await eventually(
        async () => {
          const { runs } = await json(fetch(`${ticking.ingressUrl}/runs?eventId=${encodeURIComponent(eventId)}`));
          return runs[0]?.status === "completed" && runs[0];
        },
        30_000,
        "the tick's run",
      );
      expect(run.result.message).toBe('payload {"n":1}');
    } finally {
      await ticking.stop();
    }
  }, 60_000);
});

describe("notify-webhook links (item 12)", () => {
  const runId = runIdFor("ev-1", 0, "release", "publish");
  const notify = async (payload: object, publicUrl: string) => {
    const event = {
      id: "e",
      type: "codex-flows.run.failed",
      receivedAt: "2026-12-01T00:00:00Z",
      payload: {
        flow: "release",
        step: "publish",
        eventId: "ev-1",
        status: "failed",
        message: "re-authenticate",
        host: "h",
        attempt: 1,
        ...payload,
      },
    };
    const child = Bun.spawn(["bun", join(REPO, "flows", "notify-webhook", "exec", "notify.ts")], {
      stdin: new Blob([JSON.stringify({ flow: { name: "notify-webhook", config: { attempts: 1 }, event } })]),
      stdout: "pipe",
      env: { ...process.env, NOTIFY_WEBHOOK_URL: hook, CODEX_FLOW_PUBLIC_URL: publicUrl },
    });
    const stdout = await new Response(child.stdout).text();
    expect(await child.exited).toBe(0);
    return JSON.parse(stdout.split("FLOW_RESULT ").at(-1)!);
  };

  test("the link is the public URL joined with the validated run id, whatever the payload's link says", async () => {
    const before = received.length;
    expect((await notify({ runId, link: "@evil.example/login" }, "https://host")).status).toBe("completed");
    expect((await notify({ runId, link: "@evil.example/login" }, "https://host/flows")).status).toBe("completed");
    const sent = received.slice(before).map((body) => JSON.parse(body));
    expect(sent.map((s) => s.link)).toEqual([`https://host/runs/${runId}`, `https://host/flows/runs/${runId}`]);
    for (const s of sent) expect(s.text).not.toContain("evil.example");
  });

  test("a run id that is not of the run id shape, or a public URL with credentials, sends nothing and says why", async () => {
    const before = received.length;
    const forged = await notify({ runId: "@evil.example/login", link: "/runs/x" }, "https://host");
    expect(forged).toMatchObject({ status: "failed" });
    expect(forged.message).toContain("not a run event of codex-flows");
    const credentials = await notify({ runId, link: "" }, "https://host@evil.example");
    expect(credentials.message).toContain("CODEX_FLOW_PUBLIC_URL is not an http(s) URL without credentials");
    expect(received.length).toBe(before);
  });
});

describe("why nothing matched (item 28)", () => {
  test("a near-miss type names the step that wants github.push first, with a did-you-mean", async () => {
    const { why, matched } = await json(
      post({ id: "near-1", type: "github.psuh", payload: { ref: "main" } }, "/events", "?wait=matched"),
    );
    expect(matched).toBe(0);
    expect(why).toStartWith(
      'no step matched: zz-deploy/push: type differs: step wants "github.push", event is "github.psuh" | ',
    );
    expect(why).toContain('did you mean "github.push"?');
  });

  test("the right type with a wrong payload puts that step's schema errors first, uncut", async () => {
    const { why, matched } = await json(
      post({ id: "near-2", type: "github.push", payload: { ref: 7 } }, "/events", "?wait=matched"),
    );
    expect(matched).toBe(0);
    expect(why).toStartWith("no step matched: zz-deploy/push: schema: /ref must be string | ");
    expect(why).toContain("... ");
    expect(why).not.toContain("did you mean");
  });
});
