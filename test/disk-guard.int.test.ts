import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statfsSync } from "node:fs";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
let system: RunningSystem;
let url: string;
let dataDir: string;

// No tmpfs (no root): a threshold of the whole disk makes any disk holding files low.
beforeAll(async () => {
  const config = testConfig({
    cwd: writeFlows({ demo: [{ name: "a", type: "demo.tick", source: echoStep() }] }),
    diskMinFreeBytes: Number.MAX_SAFE_INTEGER,
    diskMinFreePercent: 100,
  });
  dataDir = config.dataDir;
  const fs = statfsSync(dataDir);
  if (fs.bavail >= fs.blocks)
    throw new Error(`${dataDir}: an empty file system, never below a threshold of its whole size`);
  system = await startSystem(config, nats.url, ["ingress", "projector"]);
  url = system.ingressUrl!;
});
afterAll(() => system?.stop());

const post = (path: string, body: unknown) =>
  fetch(`${url}${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json" },
  });

describe("the disk guard at the ingress", () => {
  test("given the read model's disk below the threshold, then POST /events and /flow-events answer 507 with Retry-After, naming the directory and its free space", async () => {
    for (const path of ["/events", "/flow-events"]) {
      const response = await post(path, { id: `low${path}`, type: "demo.tick", payload: {} });
      expect(response.status).toBe(507);
      expect(response.headers.get("retry-after")).toBe("30");
      expect((await json(response)).error).toMatch(
        new RegExp(
          `^the read model's disk is low: [\\d.]+ [KMGT]i?B free under ${dataDir}, below the threshold of .*; nothing was accepted, retry once space is freed$`,
        ),
      );
    }
  });

  test("a flow's pause (another write that publishes) answers 507 too; bad input is still 400, and reads go on", async () => {
    expect((await post("/flows/demo/pause", {})).status).toBe(507);
    expect((await post("/events", { id: "bad" })).status).toBe(400);
    expect((await fetch(`${url}/events`)).status).toBe(200);
    expect((await fetch(`${url}/runs`)).status).toBe(200);
  });

  test("/healthz answers 503 with the disk's state, /metrics has its gauges and counts the refusals", async () => {
    const response = await fetch(`${url}/healthz`);
    expect(response.status).toBe(503);
    const health = await json(response);
    expect(health.ok).toBe(false);
    expect(health.reason).toStartWith(`the read model's disk is low: `);
    expect(health.nats.connected).toBe(true);
    expect(health.disk.low).toBe(true);
    expect(health.disk.dirs).toEqual([
      {
        role: "read model",
        dir: dataDir,
        freeBytes: expect.any(Number),
        totalBytes: expect.any(Number),
        thresholdBytes: health.disk.dirs[0].totalBytes,
        low: true,
      },
    ]);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain(`codex_flows_disk_low{dir="${dataDir}",role="read model"} 1`);
    expect(metrics).toMatch(
      new RegExp(`codex_flows_disk_free_bytes\\{dir="${dataDir}",role="read model"\\} [1-9]\\d*`),
    );
    expect(metrics).toContain('codex_flows_events_rejected_total{status="507"} 2');
  });
});
