import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { isRunning } from "./fixtures/request.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
let url: string;
let system: RunningSystem;
let cwd: string;

const result = (fields: string) => `console.log("FLOW_RESULT " + JSON.stringify(${fields}));`;
const readInput = `const input = JSON.parse(await Bun.stdin.text()); const payload = input.flow.event.payload;`;

beforeAll(async () => {
  cwd = writeFlows({
    durable: [
      {
        name: "flaky",
        type: "t.flaky",
        extra: "retries = 3\nretry_backoff_ms = [50, 100]",
        source: `${readInput}
if (Number(process.env.CODEX_FLOW_ATTEMPT) < 3) { console.error("not yet"); process.exit(1); }
${result(`{ status: "completed", message: "attempt " + process.env.CODEX_FLOW_ATTEMPT }`)}`,
      },
      {
        name: "verdict",
        type: "t.verdict",
        extra: "retries = 3\nretry_backoff_ms = 10",
        source: result(`{ status: "failed", message: "the step says no" }`),
      },
      {
        name: "slowpoke",
        type: "t.timeout",
        timeoutMs: 300,
        extra: "retries = 1\nretry_backoff_ms = 10",
        source: "await Bun.sleep(10_000);",
      },
      {
        name: "sleeper",
        type: "t.sleep",
        source: `${readInput}
const child = Bun.spawn(["sleep", "300"]);
await Bun.write(payload.pidFile, JSON.stringify({ step: process.pid, grandchild: child.pid }));
await Bun.sleep(60_000);`,
      },
      {
        name: "echo",
        type: "t.echo",
        source: `${readInput}
${result(`{ status: "completed", replay: process.env.CODEX_FLOW_REPLAY ?? null, attempt: process.env.CODEX_FLOW_ATTEMPT }`)}`,
      },
      { name: "gpu-only", type: "t.gpu", extra: 'runs_on = "gpu"', source: result(`{ status: "completed" }`) },
    ],
    chain: [
      {
        name: "first",
        type: "chain.a",
        source: `${readInput}
${result(`{ status: "changed", next: [{ type: "chain.b", payload: { from: input.flow.event.id } }] }`)}`,
      },
      { name: "second", type: "chain.b", source: result(`{ status: "completed" }`) },
      {
        name: "forever",
        type: "chain.loop",
        source: result(`{ status: "completed", next: [{ type: "chain.loop" }] }`),
      },
    ],
  });
  const config = testConfig({ cwd, ackWaitMs: 2_000 });
  system = await startSystem(config, nats.url, ["ingress", "matcher", "executor", "projector"]);
  url = system.ingressUrl!;
  nats.cleanup(() => system.stop());
});

async function fire(id: string, type: string, payload: unknown = {}, wait = "true") {
  const response = await fetch(`${url}/events?wait=${wait}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id, type, payload }),
  });
  expect(response.status).toBe(202);
  return await json(response);
}
const getRun = async (id: string) => (await json(fetch(`${url}/runs/${encodeURIComponent(id)}`))).run;
const post = (path: string, body: unknown = {}) =>
  fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("retries", () => {
  test("a step that fails twice with retries = 3 completes on attempt 3, and every attempt is recorded", async () => {
    const answer = await fire("retry-1", "t.flaky");
    const [run] = answer.runs;
    expect(run).toMatchObject({
      status: "completed",
      attempt: 3,
      result: { status: "completed", message: "attempt 3" },
    });
    expect(run.attempts.map((a: { status: string; exitCode: number }) => [a.status, a.exitCode])).toEqual([
      ["failed", 1],
      ["failed", 1],
      ["completed", 0],
    ]);
  });

  test("a FLOW_RESULT of failed is the step's verdict: not retried, and it needs attention", async () => {
    const [run] = (await fire("verdict-1", "t.verdict")).runs;
    expect(run).toMatchObject({
      status: "completed",
      resultStatus: "failed",
      effectiveStatus: "failed",
      needsAttention: true,
      attempt: 1,
    });
  });

  test("a timeout is retried, and the run ends timed_out when the retries are spent", async () => {
    const [run] = (await fire("timeout-1", "t.timeout")).runs;
    expect(run).toMatchObject({ status: "timed_out", attempt: 2, needsAttention: true });
    expect(run.attempts.map((a: { status: string }) => a.status)).toEqual(["timed_out", "timed_out"]);
    expect(run.error).toContain("timed out after 300 ms");
  });
});

describe("cancel", () => {
  test("a running step is stopped with its whole process tree within 2 s and the run is canceled", async () => {
    const pidFile = join(cwd, "sleeper.pids");
    const answer = await fire("cancel-running", "t.sleep", { pidFile }, "matched");
    const runId = answer.runIds[0];
    const pids = await eventually(
      () => existsSync(pidFile) && JSON.parse(readFileSync(pidFile, "utf8")),
      10_000,
      "the step to start",
    );
    const started = Date.now();
    const response = await post(`/runs/${runId}/cancel`);
    expect(response.status).toBe(200);
    const { run } = await json(response);
    expect(run.status).toBe("canceled");
    expect(Date.now() - started).toBeLessThan(2_000);
    for (const pid of [pids.step, pids.grandchild])
      await eventually(() => !isRunning(pid), 3_000, `process ${pid} to be gone`);
  });

  test("a queued run never starts, and cancelling again or an unknown run is answered clearly", async () => {
    const answer = await fire("cancel-queued", "t.gpu", {}, "matched");
    const runId = answer.runIds[0];
    const queued = await getRun(runId);
    expect(queued.status).toBe("queued");
    expect(queued.waiting).toContain('queue "gpu"');
    const { run } = await json(post(`/runs/${runId}/cancel`));
    expect(run).toMatchObject({ status: "canceled", error: "canceled before it started", attempts: [] });
    const again = await post(`/runs/${runId}/cancel`);
    expect(again.status).toBe(409);
    expect((await json(again)).error).toContain("already ended (canceled)");
    expect((await post("/runs/run-nope/cancel")).status).toBe(404);
  });

  test("a finished run cannot be canceled", async () => {
    const [run] = (await fire("cancel-finished", "t.echo")).runs;
    const response = await post(`/runs/${run.id}/cancel`);
    expect(response.status).toBe(409);
    expect((await json(response)).error).toContain("already ended (completed)");
  });
});

describe("retry and replay", () => {
  test("retrying a finished run starts attempt 2 of the same run", async () => {
    const [first] = (await fire("retry-api", "t.echo")).runs;
    const response = await post(`/runs/${first.id}/retry`);
    expect(response.status).toBe(202);
    const run = await eventually(async () => {
      const now = await getRun(first.id);
      return now.attempt === 2 && now.status === "completed" && now;
    });
    expect(run.result).toMatchObject({ attempt: "2", replay: null });
    expect(run.attempts.map((a: { attemptNumber: number }) => a.attemptNumber)).toEqual([1, 2]);
    const running = await post(`/runs/${(await fire("retry-running", "t.gpu", {}, "matched")).runIds[0]}/retry`);
    expect(running.status).toBe(409);
  });

  test("replaying an event starts new runs marked as a replay; posting the id again starts nothing", async () => {
    const id = "patch:upstream.release:openai/codex:rust-v0.170.0";
    const original = await fire(id, "t.echo");
    const response = await post(`/events/${encodeURIComponent(id)}/replay`, { wait: true });
    expect(response.status).toBe(202);
    const replay = await json(response);
    expect(replay).toMatchObject({ status: "accepted", eventId: id, generation: 1, matched: 1 });
    expect(replay.runIds[0]).not.toBe(original.runIds[0]);
    expect(replay.runs[0]).toMatchObject({ status: "completed", generation: 1, result: { replay: "1" } });
    expect((await fire(id, "t.echo", {}, "matched")).status).toBe("duplicate");
    const runs = (await json(fetch(`${url}/runs?eventId=${encodeURIComponent(id)}`))).runs;
    expect(runs).toHaveLength(2);
    expect((await post("/events/nope/replay")).status).toBe(404);
  });
});

describe("chaining", () => {
  test("next events start their steps, and the run and the event link to each other", async () => {
    const [first] = (await fire("chain-1", "chain.a")).runs;
    expect(first.nextEventIds).toEqual([`${first.id}/next/0`]);
    const chained = await eventually(async () => {
      const { runs } = await json(fetch(`${url}/runs?eventId=${encodeURIComponent(first.nextEventIds[0])}`));
      return runs[0]?.status === "completed" && runs[0];
    });
    expect(chained).toMatchObject({ flowName: "chain", stepName: "second" });
  });

  test("a chain deeper than 8 stops with a clear reason", async () => {
    await fire("loop-0", "chain.loop", {}, "matched");
    const last = await eventually(async () => {
      let id = "loop-0";
      for (let depth = 0; depth <= 8; depth++) {
        const [run] = (await json(fetch(`${url}/runs?eventId=${encodeURIComponent(id)}`))).runs;
        if (run?.status !== "completed") return false;
        if (depth === 8) return run;
        id = run.nextEventIds[0];
        if (!id) return false;
      }
      return false;
    });
    expect(last.nextEventIds).toEqual([]);
    expect(last.error).toContain("chain depth 9 is over the limit of 8");
  });
});
