// Issue 9, items 5, 6 and 11: what one request or one result may cost is bounded.
import { beforeAll, describe, expect, test } from "bun:test";
import { MAX_JSON_DEPTH } from "../lib/json-depth.ts";
import { type RunningSystem, startSystem } from "../services/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
let system: RunningSystem;
let url: string;

const post = (body: string, query = "") => fetch(`${url}/events${query}`, { method: "POST", headers: { "content-type": "application/json" }, body });
const nested = (id: string, depth: number) => `{"id":"${id}","type":"note.posted","payload":${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;

beforeAll(async () => {
  const cwd = writeFlows({ notes: [{ name: "write", type: "note.posted", source: echoStep() }] });
  system = await startSystem(testConfig({ cwd }), nats.url, ["ingress", "matcher", "executor", "projector"]);
  url = system.ingressUrl!;
  nats.cleanup(() => system.stop());
});

describe("deeply nested JSON (item 6)", () => {
  test(`a body nested ${MAX_JSON_DEPTH} levels is accepted; one level more is a 400 naming the limit`, async () => {
    expect((await post(nested("depth-ok", MAX_JSON_DEPTH))).status).toBe(202);
    const refused = await post(nested("depth-over", MAX_JSON_DEPTH + 1));
    expect(refused.status).toBe(400);
    expect((await json(refused)).error).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
  });

  test("8 bodies nested 100,000 deep at once are refused fast, and /healthz stays responsive meanwhile", async () => {
    const started = performance.now();
    const attacks = Array.from({ length: 8 }, (_, i) => post(nested(`deep-${i}`, 100_000)));
    const health = fetch(`${url}/healthz`).then((r) => ({ status: r.status, ms: performance.now() - started }));
    const answers = await Promise.all(attacks);
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(400));
    for (const answer of answers) expect((await json(answer)).error).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
    expect((await health).status).toBe(200);
    expect((await health).ms).toBeLessThan(1_000);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
