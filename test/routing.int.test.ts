import { beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../lib/config.ts";
import { connectContext } from "../services/runtime/context.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
let config: Config;
let url: string;
let cwd: string;

async function start(overrides: Partial<Config>, names: Parameters<typeof startSystem>[2]): Promise<RunningSystem> {
  const system = await startSystem({ ...config, ...overrides }, nats.url, names);
  nats.cleanup(() => system.stop());
  return system;
}

beforeAll(async () => {
  const record = `const input = JSON.parse(await Bun.stdin.text());
const start = Date.now();
await Bun.sleep(150);
const line = JSON.stringify({ id: input.flow.event.id, host: process.env.HOST_TAG, start, end: Date.now() }) + "\\n";
const { appendFileSync } = await import("node:fs");
appendFileSync(input.flow.event.payload.log, line);
console.log("FLOW_RESULT " + JSON.stringify({ status: "completed" }));`;
  cwd = writeFlows({
    routed: [
      { name: "on-gpu", type: "r.gpu", extra: 'runs_on = "gpu"', source: record },
      { name: "on-tpu", type: "r.tpu", extra: 'runs_on = "tpu"', source: record },
      { name: "deploy", type: "r.deploy", extra: 'concurrency = "deploy"', source: record },
      { name: "free", type: "r.free", source: record },
    ],
  });
  config = testConfig({ cwd, concurrency: 4 });
  url = (await start({}, ["ingress", "matcher", "projector"])).ingressUrl!;
});

const fire = (id: string, type: string, payload: unknown, wait = "true") =>
  json(
    fetch(`${url}/events?wait=${wait}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id, type, payload }),
    }),
  );
const lines = (log: string) =>
  readFileSync(log, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { id: string; start: number; end: number });

describe("routing and concurrency", () => {
  test("a run for a queue nobody serves waits and says so; an executor with that label then runs it", async () => {
    const log = join(cwd, "gpu.log");
    const answer = await fire("gpu-1", "r.gpu", { log }, "matched");
    const { run } = await json(fetch(`${url}/runs/${answer.runIds[0]}`));
    expect(run).toMatchObject({ status: "queued", queue: "gpu" });
    expect(run.waiting).toContain('queue "gpu"');
    process.env.HOST_TAG = "gpu-box";
    await start({ hostId: "gpu-box", labels: ["gpu"] }, ["executor"]);
    const done = await eventually(async () => {
      const { run: now } = await json(fetch(`${url}/runs/${answer.runIds[0]}`));
      return now.status === "completed" && now;
    });
    expect(done).toMatchObject({ host: "gpu-box", waiting: null });
  });

  test("a canceled queued run never starts, even when an executor for its queue comes up later", async () => {
    const log = join(cwd, "tpu.log");
    const runId = (await fire("tpu-1", "r.tpu", { log }, "matched")).runIds[0];
    expect((await json(fetch(`${url}/runs/${runId}/cancel`, { method: "POST" }))).run.status).toBe("canceled");
    const executor = await start({ hostId: "tpu-box", labels: ["tpu"] }, ["executor"]);
    // The executor has dealt with the command once it reports the run canceled on the stream.
    const ctx = await connectContext(config, nats.url, "probe");
    nats.cleanup(() => ctx.nc.close());
    const reported = await eventually(() =>
      ctx.jsm.direct.getMessage(config.stream, { last_by_subj: ctx.subjects.run(runId, "finished") }),
    );
    expect(reported!.json<{ status: string; error: string }>()).toMatchObject({
      status: "canceled",
      error: "canceled before it started",
    });
    const { run } = await json(fetch(`${url}/runs/${runId}`));
    expect(run).toMatchObject({ status: "canceled", attempts: [] });
    expect(await Bun.file(log).exists()).toBe(false);
    await executor.stop();
  });

  test("runs of one concurrency group never overlap across two hosts, while other runs do", async () => {
    await start({ hostId: "host-a" }, ["executor"]);
    await start({ hostId: "host-b" }, ["executor"]);
    const groupLog = join(cwd, "deploy.log");
    const freeLog = join(cwd, "free.log");
    await Promise.all([
      ...Array.from({ length: 6 }, (_, i) => fire(`deploy-${i}`, "r.deploy", { log: groupLog })),
      ...Array.from({ length: 6 }, (_, i) => fire(`free-${i}`, "r.free", { log: freeLog })),
    ]);
    const grouped = lines(groupLog).sort((a, b) => a.start - b.start);
    expect(grouped).toHaveLength(6);
    for (let i = 1; i < grouped.length; i++) expect(grouped[i]!.start).toBeGreaterThanOrEqual(grouped[i - 1]!.end);
    const free = lines(freeLog).sort((a, b) => a.start - b.start);
    const overlaps = free.some((run, i) => i > 0 && run.start < free[i - 1]!.end);
    expect(overlaps).toBe(true);
  });
});
