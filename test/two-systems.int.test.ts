// Item 2 of issue 18: two codex-flows systems on one host (staging and production, fed
// the same webhook) compute the same run id for the same event. The escaped-process scan
// of the first step to end must not take the other system's step for its own: the marker
// it matches is a nonce of one launch, not the run id and attempt.
import { afterAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type RunningSystem, startSystem } from "../services/runtime/system.ts";
import { writeFlows } from "./support/flows.ts";
import { json } from "./support/http.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { tempDir } from "./support/temp.ts";

const nats = useNatsServer();
const marks = tempDir("two-systems-");
const systems: RunningSystem[] = [];
afterAll(async () => {
  for (const system of systems.reverse()) await system.stop();
});

const waitFor = (path: string) => `while (!(await Bun.file(${JSON.stringify(path)}).exists())) await Bun.sleep(20);`;
const done = `console.log("FLOW_RESULT " + JSON.stringify({ status: "completed" }));`;

async function start(source: string): Promise<RunningSystem> {
  const system = await startSystem(
    testConfig({ cwd: writeFlows({ hook: [{ name: "deliver", type: "hook.delivered", source, timeoutMs: 60_000 }] }) }),
    nats.url,
    ["ingress", "matcher", "executor", "projector"],
  );
  systems.push(system);
  return system;
}

const post = (url: string, wait: string) =>
  json(
    fetch(`${url}/events?wait=${wait}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "webhook-delivery-7", type: "hook.delivered" }),
    }),
  );

test("two systems on one host run the same event id: the first step's end does not kill the other's step", async () => {
  // Staging's step ends once production's has started, so the two overlap.
  const staging = await start(
    `await Bun.write(${JSON.stringify(join(marks, "staging-started"))}, "1");\n${waitFor(join(marks, "production-started"))}\n${done}\n`,
  );
  // Production's step lives until staging has recorded its run's end, which comes after staging's scan for escaped processes.
  const stagingRun = `${staging.ingressUrl}/runs/\${process.env.CODEX_FLOW_RUN_ID}`;
  const production = await start(`await Bun.write(${JSON.stringify(join(marks, "production-started"))}, "1");
for (;;) {
  const { run } = await (await fetch(\`${stagingRun}\`)).json();
  if (run?.finishedAt) break;
  await Bun.sleep(20);
}
${done}
`);

  const first = await post(staging.ingressUrl!, "matched");
  await eventually(() => existsSync(join(marks, "staging-started")), 30_000, "staging's step to start");
  const second = await post(production.ingressUrl!, "true");
  expect(second.runIds).toEqual(first.runIds);
  expect(second.runs.map((run: { status: string; error?: string }) => [run.status, run.error])).toEqual([
    ["completed", null],
  ]);
  const { run } = await json(fetch(`${staging.ingressUrl}/runs/${second.runIds[0]}`));
  expect([run.status, run.error]).toEqual(["completed", null]);
}, 90_000);
