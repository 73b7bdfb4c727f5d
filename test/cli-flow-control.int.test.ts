import { beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { useProcesses } from "./support/processes.ts";
import { tableRows } from "./support/table.ts";
import { tempDir } from "./support/temp.ts";

const nats = useNatsServer();
const cli = useProcesses();
const DONE = 'console.log("FLOW_RESULT " + JSON.stringify({ status: "completed" }));\n';

/** The `deploy` flow: a step on deploy.requested (optionally with a schema on payload.env), plus an hourly schedule. */
function writeDeployFlow(cwd: string, steps: { name: string; envMustBe?: string; type?: string }[]): void {
  const root = join(cwd, "flows", "deploy");
  mkdirSync(join(root, "exec"), { recursive: true });
  mkdirSync(join(root, "schemas"), { recursive: true });
  const toml = [
    'name = "deploy"',
    "",
    "[[schedules]]",
    'name = "hourly"',
    'cron = "0 * * * *"',
    'timezone = "Europe/Berlin"',
    'event = { type = "deploy.requested", payload = { env = "staging" } }',
    "",
  ];
  for (const step of steps) {
    writeFileSync(join(root, "exec", `${step.name}.ts`), DONE);
    toml.push(
      "[[steps]]",
      `name = "${step.name}"`,
      'runner = "bun"',
      `script = "exec/${step.name}.ts"`,
      "",
      "[steps.trigger]",
      `type = "${step.type ?? "deploy.requested"}"`,
    );
    if (step.envMustBe) {
      writeFileSync(
        join(root, "schemas", `${step.name}.json`),
        JSON.stringify({ type: "object", required: ["env"], properties: { env: { const: step.envMustBe } } }),
      );
      toml.push(`schema = "schemas/${step.name}.json"`);
    }
    toml.push("");
  }
  writeFileSync(join(root, "flow.toml"), toml.join("\n"));
}

const cwd = tempDir("codex-flows-cli-features-");
writeDeployFlow(cwd, [{ name: "ship" }, { name: "announce", envMustBe: "prod" }]);
// Two flows on one event type: a release that pushes, and release notes (issue 18, item 26).
writeFlows(
  {
    release: [{ name: "push", type: "tag.created", source: DONE }],
    notes: [{ name: "write", type: "tag.created", source: DONE }],
  },
  cwd,
);
let system: RunningSystem;
let env: Record<string, string>;

beforeAll(async () => {
  system = await startSystem(testConfig({ cwd }), nats.url, ["ingress", "matcher", "executor", "projector"]);
  nats.cleanup(() => system.stop());
  env = { CODEX_FLOW_URL: system.ingressUrl!, CODEX_FLOW_BACKEND_CWD: cwd };
});

describe("flow schedules, pause, resume", () => {
  test("flow schedules lists each schedule with its cron, zone, event type and next tick", async () => {
    const { code, stdout } = await cli.run(["schedules"], { env });
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^SCHEDULE +CRON +ZONE +EVENT TYPE +NEXT +LAST\ndeploy\/hourly +0 \* \* \* \* +Europe\/Berlin +deploy\.requested +\d{4}-\d\d-\d\dT\d\d:00:00Z +never ticked$/m,
    );
    const asJson = (await cli.run(["schedules", "--json"], { env })).stdout.split("\n").map((line) => JSON.parse(line));
    expect(asJson).toEqual([
      expect.objectContaining({ flow: "deploy", name: "hourly", catchUp: "latest", overlap: "skip", lastTick: null }),
    ]);
  });

  test("flow pause marks the flow in flow list; pausing twice is an error; flow resume clears it", async () => {
    const paused = await cli.run(["pause", "deploy", "--reason", "freeze"], { env });
    expect(paused).toMatchObject({ code: 0 });
    expect(paused.stdout).toContain("flow deploy paused");
    const again = await cli.run(["pause", "deploy"], { env });
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("error 409: flow deploy is already paused");
    // flow list's PAUSED column (and its SCHEDULE column: the hourly schedule emits what both steps take).
    const listed = async () =>
      tableRows((await cli.run(["list"], { env })).stdout)
        .filter((row) => row.FLOW === "deploy")
        .map((row) => [row.STEP, row.SCHEDULE, row.PAUSED]);
    const hourly = 'hourly "0 * * * *" Europe/Berlin';
    expect(await listed()).toEqual([
      ["ship", hourly, "yes (flow)"],
      ["announce", hourly, "yes (flow)"],
    ]);
    expect((await cli.run(["pause", "deploy", "--step", "ship"], { env })).code).toBe(0);
    expect((await cli.run(["resume", "deploy"], { env })).stdout).toContain("flow deploy resumed");
    expect(await listed()).toEqual([
      ["ship", hourly, "yes"],
      ["announce", hourly, "no"],
    ]);
    expect((await cli.run(["resume", "deploy", "--step", "ship"], { env })).code).toBe(0);
    expect(await listed()).toEqual([
      ["ship", hourly, "no"],
      ["announce", hourly, "no"],
    ]);
    expect((await cli.run(["pause"], { env })).code).toBe(2);
  });
});

describe("flow replay --type --since --dry-run", () => {
  test("given events that ran under yesterday's flows, when the flows changed, then the dry run shows new, no longer matching (with why) and same; without --dry-run it replays them with progress", async () => {
    const since = new Date(Date.now() - 1_000).toISOString();
    const url = system.ingressUrl!;
    for (const [id, target] of [
      ["d-1", "prod"],
      ["d-2", "staging"],
    ] as const) {
      await fetch(`${url}/events?wait=true`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id, type: "deploy.requested", payload: { env: target } }),
      });
    }
    // The flows change: `ship` stays, `announce` now wants staging, `audit` is new.
    writeDeployFlow(cwd, [
      { name: "ship" },
      { name: "announce", envMustBe: "staging" },
      { name: "audit" },
      { name: "probe", type: "deploy.probe" },
    ]);
    await eventually(
      async () => (await json(fetch(`${url}/flows`))).flows[0].steps.some((s: { name: string }) => s.name === "audit"),
      10_000,
      "the ingress to see the new flows",
    );
    // Each service reloads flows on its own; a probe only the new flows run proves the matcher and executor have them.
    let probes = 0;
    await eventually(
      async () => {
        const answer = await json(
          fetch(`${url}/events?wait=true`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ id: `probe-${++probes}`, type: "deploy.probe" }),
          }),
        );
        return answer.runs?.[0]?.status === "completed";
      },
      15_000,
      "the matcher and executor to run the new flows",
    );

    const dry = await cli.run(["replay", "--type", "deploy.requested", "--since", since, "--dry-run"], { env });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(
      /^d-1 .*\n {2}new: {2}deploy\/audit\n {2}no longer: deploy\/announce: schema: \/env must be equal to constant\n {2}same: deploy\/ship$/m,
    );
    expect(dry.stdout).toMatch(/^d-2 .*\n {2}new: {2}deploy\/announce, deploy\/audit\n {2}same: deploy\/ship$/m);
    expect(dry.stdout).toContain("2 event(s)");
    const plan = (
      await cli.run(["replay", "--type", "deploy.requested", "--since", since, "--dry-run", "--json"], { env })
    ).stdout
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(plan.map((e: { eventId: string }) => e.eventId)).toEqual(["d-1", "d-2"]);
    expect((await json(fetch(`${url}/runs?eventId=d-1`))).runs).toHaveLength(2);

    const real = await cli.run(["replay", "--type", "deploy.requested", "--since", since, "--concurrency", "2"], {
      env,
    });
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/\[1\/2\] d-\d replayed as generation 1/);
    expect(real.stdout).toMatch(/\[2\/2\] d-\d replayed as generation 1/);
    const replayed = await eventually(
      async () => {
        const runs = (await json(fetch(`${url}/runs?eventId=d-2`))).runs.filter(
          (r: { generation: number }) => r.generation === 1,
        );
        return runs.length === 3 && runs.every((r: { status: string }) => r.status === "completed") ? runs : undefined;
      },
      20_000,
      "the replay's runs",
    );
    expect(replayed.map((r: { stepName: string }) => r.stepName).sort()).toEqual(["announce", "audit", "ship"]);

    // The API replays too (the same single replay path), at most `concurrency` at a time.
    const viaApi = await json(
      fetch(`${url}/replays`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "deploy.requested", since, flow: "deploy", dryRun: false, concurrency: 2 }),
      }),
    );
    expect(viaApi).toMatchObject({ dryRun: false, count: 2, truncated: false });
    expect(viaApi.replayed.map((r: { eventId: string; generation: number }) => [r.eventId, r.generation])).toEqual([
      ["d-1", 2],
      ["d-2", 2],
    ]);
    const tooMany = await fetch(`${url}/replays`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "deploy.requested", since, concurrency: 100 }),
    });
    expect(tooMany.status).toBe(400);

    const bad = await cli.run(["replay", "--type", "deploy.requested", "--since", "yesterday", "--dry-run"], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("since: expected an ISO-8601 time");
    expect((await cli.run(["replay", "--dry-run"], { env })).code).toBe(2);
  }, 60_000);
});

describe("flow replay --flow F", () => {
  /** The runs of one replay generation, once its match decision is in the read model (commands are stored before it). */
  const generationRuns = async (url: string, eventId: string, generation: number) =>
    await eventually(
      async () => {
        const { event } = await json(fetch(`${url}/events/${encodeURIComponent(eventId)}`));
        if ((event.matchedGeneration ?? -1) < generation) return undefined;
        const runs = (await json(fetch(`${url}/runs?eventId=${encodeURIComponent(eventId)}`))).runs.filter(
          (r: { generation: number }) => r.generation === generation,
        );
        return runs.length > 0 && runs.every((r: { status: string }) => r.status === "completed")
          ? { event, runs }
          : undefined;
      },
      20_000,
      `generation ${generation} of ${eventId} to be matched and run`,
    );
  const flowsOf = (runs: { flowName: string; stepName: string }[]) =>
    runs.map((r) => `${r.flowName}/${r.stepName}`).sort();

  test("given two flows on one type, when replayed with --flow notes (bulk, single, and POST /replays), then only notes' step runs; the release flow is recorded as not replayed", async () => {
    const url = system.ingressUrl!;
    const since = new Date(Date.now() - 1_000).toISOString();
    const first = await json(
      fetch(`${url}/events?wait=true`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "tag-1", type: "tag.created", payload: { tag: "v1" } }),
      }),
    );
    expect(flowsOf(first.runs)).toEqual(["notes/write", "release/push"]);

    const bulk = await cli.run(["replay", "--type", "tag.created", "--since", since, "--flow", "notes"], { env });
    expect(bulk.code).toBe(0);
    expect(bulk.stdout).toContain("[1/1] tag-1 replayed as generation 1");
    const one = await generationRuns(url, "tag-1", 1);
    expect(flowsOf(one.runs)).toEqual(["notes/write"]);
    const skipped = one.event.decisions.find(
      (d: { flowName: string; generation: number }) => d.flowName === "release" && d.generation === 1,
    );
    expect(skipped).toMatchObject({ stepName: "push", matched: false });
    expect(skipped.reasons.at(-1)).toBe('not replayed: this replay is limited to flow "notes"');

    const single = await cli.run(["replay", "tag-1", "--flow", "notes"], { env });
    expect(single.code).toBe(0);
    expect(flowsOf((await generationRuns(url, "tag-1", 2)).runs)).toEqual(["notes/write"]);

    const viaApi = await json(
      fetch(`${url}/replays`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "tag.created", since, flow: "notes", dryRun: false }),
      }),
    );
    expect(viaApi.replayed).toMatchObject([{ eventId: "tag-1", generation: 3 }]);
    expect(flowsOf((await generationRuns(url, "tag-1", 3)).runs)).toEqual(["notes/write"]);

    // Only ever a known flow: a typo would replay nothing and say nothing.
    const typo = await fetch(`${url}/events/tag-1/replay`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ flow: "note" }),
    });
    expect(typo.status).toBe(404);
    expect((await json(typo)).error).toBe('no flow named "note"');
    expect(
      (
        await fetch(`${url}/events/tag-1/replay`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ flow: 3 }),
        })
      ).status,
    ).toBe(400);
  }, 60_000);
});
