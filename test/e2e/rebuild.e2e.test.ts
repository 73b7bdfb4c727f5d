import { expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { signBody } from "../../lib/signature.ts";
import { echoStep, writeFlows } from "../support/flows.ts";
import { useNatsServer } from "../support/nats.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "../support/processes.ts";
import { indexesOf, snapshotOf } from "../support/snapshot.ts";

setDefaultTimeout(60_000);
const nats = useNatsServer();
const cli = useProcesses();

test("given a workload, when flow projector rebuild runs with the services stopped, then it reports progress and the swapped-in read model is identical", async () => {
  const cwd = writeFlows({
    tick: [
      { name: "a", type: "t.tick", source: echoStep() },
      { name: "b", type: "t.tick", source: echoStep("changed") },
    ],
  });
  const env = await serviceEnv(nats.url, { CODEX_FLOW_BACKEND_CWD: cwd, CODEX_FLOW_BACKEND_SECRET: "s" });
  const all = cli.start(["serve", "all"], { env });
  const url = await ingressUrlOf(all);
  for (let i = 0; i < 10; i++) {
    const body = JSON.stringify({ id: `tick-${i}`, type: "t.tick", payload: { i } });
    const response = await fetch(`${url}/events?wait=true`, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "x-flow-signature-256": signBody("s", body) },
    });
    expect(response.status).toBe(202);
  }
  all.signal("SIGTERM");
  expect(await all.exit(30_000)).toBe(0);
  const path = join(env.CODEX_FLOW_BACKEND_DATA_DIR!, "read-model.sqlite");
  const before = await snapshotOf(path);
  const indexes = indexesOf(path);
  expect(indexes.length).toBeGreaterThanOrEqual(6);

  const rebuild = await cli.run(["projector", "rebuild"], { env, timeoutMs: 30_000 });
  expect(rebuild.code).toBe(0);
  expect(rebuild.stderr).toMatch(/(\d+)\/\1 messages \(100%\)/);
  expect(rebuild.stderr).toMatch(/all \d+ messages applied in \d+\.\d s; building the indexes/);
  expect(rebuild.stdout).toContain(`rebuilt ${path} from`);
  expect(await snapshotOf(path)).toBe(before);
  // A rebuild builds the secondary indexes at the end: the file has every one the live file had.
  expect(indexesOf(path)).toEqual(indexes);
  // One self-contained file: no journal, WAL or half-built file beside it.
  expect(readdirSync(env.CODEX_FLOW_BACKEND_DATA_DIR!).filter((name) => name.startsWith("read-model"))).toEqual([
    "read-model.sqlite",
  ]);

  // The services open the rebuilt file as their live read model and go on from its checkpoint.
  const again = cli.start(["serve", "all"], { env });
  const againUrl = await ingressUrlOf(again);
  const body = JSON.stringify({ id: "tick-after", type: "t.tick", payload: {} });
  const response = await fetch(`${againUrl}/events?wait=true`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "x-flow-signature-256": signBody("s", body) },
  });
  expect(response.status).toBe(202);
  const runs = (await (await fetch(`${againUrl}/runs?limit=50`)).json()) as {
    runs: { eventId: string; status: string }[];
  };
  expect(runs.runs.filter((r) => r.eventId === "tick-after").map((r) => r.status)).toEqual(["completed", "completed"]);
  expect(runs.runs.length).toBe(22);
  again.signal("SIGTERM");
  expect(await again.exit(30_000)).toBe(0);
});

test("given --output, when flow projector rebuild runs, then it writes only that file", async () => {
  const env = await serviceEnv(nats.url, {
    CODEX_FLOW_BACKEND_CWD: writeFlows({ x: [{ name: "a", type: "t.x", source: echoStep() }] }),
  });
  const output = join(env.CODEX_FLOW_BACKEND_DATA_DIR!, "elsewhere.sqlite");
  const rebuild = await cli.run(["projector", "rebuild", "--output", output], { env, timeoutMs: 30_000 });
  expect(rebuild.code).toBe(0);
  expect(await Bun.file(output).exists()).toBe(true);
  expect(await Bun.file(join(env.CODEX_FLOW_BACKEND_DATA_DIR!, "read-model.sqlite")).exists()).toBe(false);
  const wrong = await cli.run(["projector", "nonsense"], { env });
  expect(wrong.code).toBe(2);
  expect(wrong.stderr).toContain("flow projector rebuild");
});

test("given a live projector, when flow projector rebuild runs without --output, then it is refused naming the projector's pid and the read model is untouched", async () => {
  const cwd = writeFlows({ tick: [{ name: "a", type: "t.tick", source: echoStep() }] });
  const env = await serviceEnv(nats.url, { CODEX_FLOW_BACKEND_CWD: cwd });
  const all = cli.start(["serve", "all"], { env });
  const url = await ingressUrlOf(all);
  const post = (id: string) =>
    fetch(`${url}/events?wait=true`, {
      method: "POST",
      body: JSON.stringify({ id, type: "t.tick", payload: {} }),
      headers: { "content-type": "application/json" },
    });
  expect((await post("before")).status).toBe(202);
  const dataDir = env.CODEX_FLOW_BACKEND_DATA_DIR!;
  const path = join(dataDir, "read-model.sqlite");
  const inode = statSync(path).ino;

  const rebuild = await cli.run(["projector", "rebuild"], { env, timeoutMs: 30_000 });
  expect(rebuild.code).toBe(1);
  expect(rebuild.stderr).toContain(`${dataDir} is in use by pid ${all.pid}`);
  expect(rebuild.stderr).toContain("stop this host's projector");
  // The live file is the same one, with nothing built beside it, and the projector goes on writing into it.
  expect(statSync(path).ino).toBe(inode);
  expect(readdirSync(dataDir).filter((name) => name.startsWith("read-model.sqlite.rebuild"))).toEqual([]);
  expect((await post("after")).status).toBe(202);
  const runs = (await (await fetch(`${url}/runs?eventId=after`)).json()) as { runs: { status: string }[] };
  expect(runs.runs.map((r) => r.status)).toEqual(["completed"]);
  all.signal("SIGTERM");
  expect(await all.exit(30_000)).toBe(0);
});
