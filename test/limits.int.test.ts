// Issue 9, items 5, 6 and 11: what one request or one result may cost is bounded.
import { beforeAll, describe, expect, test } from "bun:test";
import { MAX_JSON_DEPTH } from "../lib/json-depth.ts";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { echoStep, writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";

const nats = useNatsServer();
const FAN_OUT = `const { flow } = JSON.parse(await Bun.stdin.text());
const next = Array.from({ length: flow.event.payload.n }, (_, i) => ({ type: "fan.leaf", payload: { i } }));
console.log("FLOW_RESULT " + JSON.stringify({ status: "completed", next }));
`;
// Every node asks for two more: without a chain budget, depth 8 alone lets one event become 511.
const SPLIT = `console.log("FLOW_RESULT " + JSON.stringify({ status: "completed", next: [{ type: "tree.node" }, { type: "tree.node" }] }));`;
const BULK = `console.log("FLOW_RESULT " + JSON.stringify({ status: "completed", message: "r".repeat(500_000) }));`;
const BUDGET = 2 * 1024 * 1024;
let system: RunningSystem;
let url: string;

const post = (body: string, query = "") =>
  fetch(`${url}/events${query}`, { method: "POST", headers: { "content-type": "application/json" }, body });
const nested = (id: string, depth: number) =>
  `{"id":"${id}","type":"note.posted","payload":${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`;

beforeAll(async () => {
  const cwd = writeFlows({
    notes: [{ name: "write", type: "note.posted", source: echoStep() }],
    fan: [{ name: "out", type: "fan.out", source: FAN_OUT }],
    tree: [{ name: "split", type: "tree.node", source: SPLIT }],
    bulk: [{ name: "make", type: "bulk.make", source: BULK }],
  });
  system = await startSystem(
    testConfig({ cwd, maxNextEvents: 5, maxChainEvents: 6, responseBudgetBytes: BUDGET }),
    nats.url,
    ["ingress", "matcher", "executor", "projector"],
  );
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

describe("fan-out limits (item 5)", () => {
  test("one result asking for 8 next events starts 5 (CODEX_FLOW_MAX_NEXT_EVENTS=5) and the run says why", async () => {
    const answer = await json(post(JSON.stringify({ id: "fan-1", type: "fan.out", payload: { n: 8 } }), "?wait=true"));
    const [run] = answer.runs;
    expect(run.status).toBe("completed");
    expect(run.nextEventIds).toHaveLength(5);
    expect(run.error).toBe(
      "next events cut: the result asked for 8, 5 started, 3 not started: one result may start at most 5 (CODEX_FLOW_MAX_NEXT_EVENTS)",
    );
    expect(run.needsAttention).toBe(true);
  });

  test("a chain that doubles at every step starts 6 events in all (CODEX_FLOW_MAX_CHAIN_EVENTS=6), and its last runs say why", async () => {
    expect((await post(JSON.stringify({ id: "tree-root", type: "tree.node" }))).status).toBe(202);
    const runs = await eventually(
      async () => {
        const page = await json(fetch(`${url}/runs?step=split&limit=100`));
        const done = page.runs.filter((r: { status: string }) => r.status === "completed");
        return done.length >= 7 && page.runs.length === done.length && page.runs;
      },
      30_000,
      "the tree's runs",
    );
    const events = await json(fetch(`${url}/events?type=tree.node&limit=100`));
    expect(events.events).toHaveLength(7);
    expect(runs).toHaveLength(7);
    const cut = runs.filter((r: { error: string | null }) => r.error?.includes("CODEX_FLOW_MAX_CHAIN_EVENTS"));
    expect(cut).toHaveLength(4);
    expect(cut[0].error).toBe(
      "next events cut: the result asked for 2, 0 started, 2 not started: this run may start only 0 more of its chain's 6 events (CODEX_FLOW_MAX_CHAIN_EVENTS)",
    );
  });
});

describe("response budget (item 11)", () => {
  test("12 runs with 500 KB results: GET /runs stays within the budget, elides the rest with a link, and GET /runs/:id gives the whole result", async () => {
    for (let i = 0; i < 12; i++)
      expect((await post(JSON.stringify({ id: `bulk-${i}`, type: "bulk.make" }), "?wait=true")).status).toBe(202);
    const text = await (await fetch(`${url}/runs?step=make&limit=100`)).text();
    expect(text.length).toBeLessThan(BUDGET + 256 * 1024);
    const { runs } = JSON.parse(text);
    expect(runs).toHaveLength(12);
    expect(runs[0].resultJson).toBeUndefined();
    const whole = runs.filter((r: { elided?: unknown }) => r.elided === undefined);
    const elided = runs.filter((r: { elided?: unknown }) => r.elided !== undefined);
    // Each run's result and tails cost the same: as many fit as the budget holds, the newest first.
    expect(elided.length).toBeGreaterThan(0);
    expect(whole.length).toBe(Math.floor(BUDGET / elided[0].elided.bytes));
    expect(runs.slice(0, whole.length)).toEqual(whole);
    expect(whole[0].result.message).toHaveLength(500_000);
    expect(elided[0]).toMatchObject({
      result: null,
      stdout: "",
      effectiveStatus: "completed",
      elided: { fields: ["result", "stdout", "stderr"], href: `/runs/${elided[0].id}` },
    });
    expect(elided[0].elided.bytes).toBeGreaterThan(500_000);

    const { run } = await json(fetch(`${url}${elided[0].elided.href}`));
    expect(run.result.message).toHaveLength(500_000);
    expect(run.resultJson).toBeUndefined();
  });
});
