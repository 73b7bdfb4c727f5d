import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync } from "node:fs";
import { join } from "node:path";
import { type Config, loadConfig, readModelPath } from "../lib/config.ts";
import { rebuildReadModel } from "../services/projector/rebuild.ts";
import { connectContext } from "../services/runtime/context.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { authed, json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { REPO, useProcesses } from "./support/processes.ts";
import { snapshotOf } from "./support/snapshot.ts";
import { tempDir } from "./support/temp.ts";

const nats = useNatsServer();
const cli = useProcesses();
const T = {
  alice: "alice-token-0123456789abcdef",
  bob: "bob-token-0123456789abcdef00",
  reader: "read-token-0123456789abcdef",
  ci: "ci-token-0123456789abcdef0123",
};
const TOKENS = JSON.stringify([
  { name: "alice", token: T.alice, role: "operate" },
  { name: "bob", token: T.bob, role: "operate" },
  { name: "reader", token: T.reader, role: "read" },
  { name: "ci", token: T.ci, role: "operate", flows: ["other"] },
]);

// A result that asks for approval before its `next` event (demo.after) starts.
const holder = `const input = JSON.parse(await Bun.stdin.text());
console.log("FLOW_RESULT " + JSON.stringify({ status: "completed", message: "built", approval: { reason: "publish " + input.flow.event.payload.v + "?" }, next: [{ type: "demo.after", payload: { v: input.flow.event.payload.v } }] }));
`;

// A local webhook receiver for the shipped notify-webhook flow: records every body it is sent.
const received: Record<string, any>[] = [];
const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    received.push((await request.json()) as Record<string, any>);
    return new Response("ok");
  },
});
afterAll(() => {
  receiver.stop(true);
  delete process.env.NOTIFY_WEBHOOK_URL;
});

let config: Config;
let system: RunningSystem;
let second: RunningSystem;
let url: string;

const call = authed(() => url);
const runsOf = async (query: string) =>
  (await json(call(T.reader, "GET", `/runs?${query}&limit=200`))).runs as Record<string, any>[];
const runOf = async (id: string) => (await json(call(T.reader, "GET", `/runs/${id}`))).run as Record<string, any>;
const post = async (id: string, type: string, payload: unknown = {}) => {
  const answer = await json(call(T.alice, "POST", "/events", { id, type, payload }));
  return answer;
};
/** The one run of an event once it shows `status`. */
const runWhen = (eventId: string, status: string, ms = 20_000) =>
  eventually(
    async () => (await runsOf(`eventId=${eventId}`)).find((r) => r.status === status),
    ms,
    `the run of ${eventId} to be ${status}`,
  );

beforeAll(async () => {
  const cwd = writeFlows({
    gated: [
      {
        name: "deploy",
        type: "demo.deploy",
        source: echoStep(),
        extra: '[steps.approval]\napprovers = ["alice"]\ntimeout_ms = 600000',
      },
    ],
    lapse: [
      {
        name: "go",
        type: "demo.lapse-approve",
        source: echoStep(),
        extra: '[steps.approval]\ntimeout_ms = 2000\non_timeout = "approve"',
      },
      { name: "stop", type: "demo.lapse-reject", source: echoStep(), extra: "[steps.approval]\ntimeout_ms = 2000" },
    ],
    holder: [
      { name: "build", type: "demo.build", source: holder },
      { name: "after", type: "demo.after", source: echoStep() },
    ],
  });
  cpSync(join(REPO, "flows", "notify-webhook"), join(cwd, "flows", "notify-webhook"), { recursive: true });
  process.env.NOTIFY_WEBHOOK_URL = `http://127.0.0.1:${receiver.port}/hook`;
  const { tokens } = loadConfig({ CODEX_FLOW_BACKEND_TOKENS: TOKENS }, { cwd });
  config = testConfig({ cwd, waitTimeoutMs: 10_000, tokens });
  system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
  // A second host's matcher: a gate is released once whichever matcher takes it.
  second = await startSystem({ ...config, hostId: "second-host" }, nats.url, ["matcher"]);
  url = system.ingressUrl!;
  nats.cleanup(() => second.stop());
  nats.cleanup(() => system.stop());
});

describe("a step that requires approval", () => {
  test("waits as awaiting_approval without starting; only a listed approver decides; approved, it runs once; a second decision is 409 naming the first", async () => {
    await post("gate-1", "demo.deploy", { n: 1 });
    const waiting = await runWhen("gate-1", "awaiting_approval");
    expect(waiting.attempt).toBe(0);
    expect(waiting.attempts).toEqual([]);
    expect(waiting.approval).toMatchObject({ gate: "step", approvers: ["alice"], onTimeout: "reject" });
    expect((await runsOf("status=awaiting_approval")).map((r) => r.id)).toContain(waiting.id);
    // The run event a notify flow can turn into a message for a person.
    const asked = await json(call(T.reader, "GET", "/events?type=codex-flows.run.awaiting_approval&limit=50"));
    expect(asked.events.map((e: { payload: { runId: string } }) => e.payload.runId)).toContain(waiting.id);
    // notify-webhook tells a person: who may decide, until when, and how.
    const note = await eventually(
      () => received.find((body) => body.runId === waiting.id),
      20_000,
      "notify-webhook's post about the gate",
    );
    expect(note).toMatchObject({ status: "awaiting_approval", flow: "gated", step: "deploy", approvers: ["alice"] });
    expect(note.text).toContain("awaits approval by alice until");
    expect(note.text).toContain(`flow approve ${waiting.id}`);

    const byReader = await call(T.reader, "POST", `/runs/${waiting.id}/approve`, {});
    expect(byReader.status).toBe(403);
    const byBob = await call(T.bob, "POST", `/runs/${waiting.id}/approve`, {});
    expect(byBob.status).toBe(403);
    expect((await json(byBob)).error).toContain("its approvers are alice");
    const byCi = await call(T.ci, "POST", `/runs/${waiting.id}/approve`, {});
    expect(byCi.status).toBe(403);
    expect((await call(T.alice, "POST", "/runs/run-nope/approve", {})).status).toBe(404);

    const approved = await call(T.alice, "POST", `/runs/${waiting.id}/approve`, { comment: "ship it" });
    expect(approved.status).toBe(200);
    expect((await json(approved)).run.approval).toMatchObject({ decision: "approve", by: "alice", comment: "ship it" });
    const done = await runWhen("gate-1", "completed");
    // Two matchers follow approvals: the run was queued once.
    expect(done.attempts).toHaveLength(1);

    const again = await call(T.alice, "POST", `/runs/${waiting.id}/reject`, {});
    expect(again.status).toBe(409);
    expect((await json(again)).error).toContain("approved by alice");
    const audit = (await json(call(T.reader, "GET", "/audit?action=approve"))).entries;
    expect(audit).toContainEqual(expect.objectContaining({ actor: "alice", runId: waiting.id, reason: "ship it" }));
  }, 60_000);

  test("rejected, it ends rejected with the comment and never starts", async () => {
    await post("gate-2", "demo.deploy", { n: 2 });
    const waiting = await runWhen("gate-2", "awaiting_approval");
    const rejected = await json(call(T.alice, "POST", `/runs/${waiting.id}/reject`, { comment: "not today" }));
    expect(rejected.run).toMatchObject({ status: "rejected", error: "rejected by alice: not today", attempt: 0 });
    const queued = await call(T.alice, "POST", `/runs/${waiting.id}/approve`, {});
    expect(queued.status).toBe(409);
    // Other work goes on meanwhile, and the rejected run is still untouched after it.
    await post("gate-2-other", "demo.build", { v: "0.0.1" });
    await runWhen("gate-2-other", "awaiting_approval");
    expect(await runOf(waiting.id)).toMatchObject({ status: "rejected", attempt: 0, attempts: [] });
  }, 60_000);

  test("expires as configured: on_timeout approve starts the run, the default rejects it", async () => {
    await post("lapse-1", "demo.lapse-approve");
    await post("lapse-2", "demo.lapse-reject");
    const started = await runWhen("lapse-1", "completed");
    expect(started.approval).toMatchObject({ decision: "approve", by: "timeout", expired: true });
    const refused = await runWhen("lapse-2", "rejected");
    expect(refused.approval).toMatchObject({ decision: "reject", by: "timeout", expired: true });
    expect(refused.attempts).toEqual([]);
  }, 60_000);
});

describe("the command line", () => {
  test("flow approve and flow reject decide with a comment and print one line; a second decision exits 1 naming the first", async () => {
    const env = (token: string) => ({ env: { CODEX_FLOW_URL: url, CODEX_FLOW_BACKEND_TOKEN: token } });
    await post("cli-1", "demo.deploy", { n: 11 });
    await post("cli-2", "demo.deploy", { n: 12 });
    const first = await runWhen("cli-1", "awaiting_approval");
    const second = await runWhen("cli-2", "awaiting_approval");
    const listed = await cli.run(["runs", "--status", "awaiting_approval", "--json"], env(T.reader));
    expect(listed.code).toBe(0);
    const ids = listed.stdout.split("\n").map((line) => JSON.parse(line).id);
    expect(ids).toContain(first.id);

    const approved = await cli.run(["approve", first.id, "--comment", "looks right"], env(T.alice));
    expect({ code: approved.code, stdout: approved.stdout }).toEqual({
      code: 0,
      stdout: `${first.id} approved by alice (queued)`,
    });
    const rejected = await cli.run(["reject", second.id, "--comment", "wrong env", "--json"], env(T.alice));
    expect(rejected.code).toBe(0);
    expect(JSON.parse(rejected.stdout)).toMatchObject({
      id: second.id,
      status: "rejected",
      approval: { decision: "reject", by: "alice", comment: "wrong env" },
    });
    const late = await cli.run(["approve", second.id], env(T.alice));
    expect(late.code).toBe(1);
    expect(late.stderr).toContain("rejected by alice");
    const refused = await cli.run(["approve", first.id], env(T.bob));
    expect(refused.code).toBe(1);
    await runWhen("cli-1", "completed");
  }, 60_000);
});

describe("a FLOW_RESULT that asks for approval", () => {
  test("holds its next events until approved: then they start, once", async () => {
    await post("hold-1", "demo.build", { v: "1.0.0" });
    const waiting = await runWhen("hold-1", "awaiting_approval");
    expect(waiting.attempts).toHaveLength(1);
    expect(waiting.approval).toMatchObject({ gate: "result", attempt: 1, reason: "publish 1.0.0?" });
    // While it waits the run shows that, not the step's verdict; approved, the verdict shows.
    expect(waiting.effectiveStatus).toBe("awaiting_approval");
    expect((await runsOf("effectiveStatus=awaiting_approval")).map((r) => r.id)).toContain(waiting.id);
    expect((await runsOf("flow=holder&step=after")).length).toBe(0);
    const approved = await json(call(T.bob, "POST", `/runs/${waiting.id}/approve`, {}));
    expect(approved.run).toMatchObject({
      status: "completed",
      effectiveStatus: "completed",
      resultStatus: "completed",
    });
    const after = await eventually(
      async () => (await runsOf("flow=holder&step=after")).find((r) => r.status === "completed"),
      20_000,
      "the released next event's run",
    );
    expect(JSON.parse(after.result.message.slice("payload ".length))).toEqual({ v: "1.0.0" });
    expect((await runsOf("flow=holder&step=after")).length).toBe(1);
  }, 60_000);

  test("rejected, its next events never start", async () => {
    await post("hold-2", "demo.build", { v: "2.0.0" });
    const waiting = await runWhen("hold-2", "awaiting_approval");
    const rejected = await json(call(T.bob, "POST", `/runs/${waiting.id}/reject`, { comment: "no" }));
    expect(rejected.run).toMatchObject({ status: "rejected", error: "rejected by bob: no" });
    // A later approved gate's events arrive; this one's never do.
    await post("hold-3", "demo.build", { v: "3.0.0" });
    const third = await runWhen("hold-3", "awaiting_approval");
    await call(T.bob, "POST", `/runs/${third.id}/approve`, {});
    const ran = (runs: Record<string, any>[]) =>
      runs.filter((r) => r.status === "completed").map((r) => String(r.result?.message ?? ""));
    await eventually(
      async () => ran(await runsOf("flow=holder&step=after")).some((m) => m.includes("3.0.0")),
      30_000,
      "the third gate's event to run",
    );
    const versions = (await runsOf("flow=holder&step=after")).map((r) => String(r.result?.message ?? ""));
    expect(versions.some((m) => m.includes("2.0.0"))).toBe(false);
  }, 60_000);
});

describe("durability", () => {
  test("two decisions at the same moment: one is the decision, the other is 409 naming it", async () => {
    await post("race-1", "demo.build", { v: "9.9.9" });
    const waiting = await runWhen("race-1", "awaiting_approval");
    const [a, b] = await Promise.all([
      call(T.alice, "POST", `/runs/${waiting.id}/approve`, { comment: "a" }),
      call(T.bob, "POST", `/runs/${waiting.id}/reject`, { comment: "b" }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const final = await runOf(waiting.id);
    const winner = a.status === 200 ? { decision: "approve", by: "alice" } : { decision: "reject", by: "bob" };
    expect(final.approval).toMatchObject(winner);
    expect((await json(a.status === 409 ? a : b)).error).toContain(`by ${winner.by}`);
  }, 60_000);

  test("an awaiting run survives a restart of every service; approved after it, it runs", async () => {
    await post("restart-1", "demo.deploy", { n: 3 });
    const waiting = await runWhen("restart-1", "awaiting_approval");
    await second.stop();
    await system.stop();
    system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
    second = await startSystem({ ...config, hostId: "second-host" }, nats.url, ["matcher"]);
    url = system.ingressUrl!;
    expect((await runOf(waiting.id)).status).toBe("awaiting_approval");
    expect((await call(T.alice, "POST", `/runs/${waiting.id}/approve`, {})).status).toBe(200);
    const done = await runWhen("restart-1", "completed");
    expect(done.attempts).toHaveLength(1);
  }, 90_000);

  test("a read model rebuilt from sequence 1 is the same, row for row, approvals included", async () => {
    const ctx = await connectContext(config, nats.url, "rebuild");
    try {
      const { path } = await rebuildReadModel(ctx, join(tempDir("codex-flows-rebuild-"), "rebuilt.sqlite"));
      const rebuilt = JSON.parse(await snapshotOf(path));
      const live = JSON.parse(await snapshotOf(readModelPath(config)));
      expect(rebuilt.runs.length).toBeGreaterThan(0);
      expect(rebuilt.runs.filter((r: { approval_json: string | null }) => r.approval_json).length).toBeGreaterThan(5);
      expect(rebuilt.runs).toEqual(live.runs);
      expect(rebuilt.audit).toEqual(live.audit);
    } finally {
      await ctx.nc.close();
    }
  }, 60_000);
});
