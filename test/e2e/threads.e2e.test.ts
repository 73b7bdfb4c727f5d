import { expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isRunning } from "../fixtures/request.ts";
import { writeFlows } from "../support/flows.ts";
import { json } from "../support/http.ts";
import { useNatsServer } from "../support/nats.ts";
import { ingressUrlOf, serviceEnv, useProcesses } from "../support/processes.ts";
import { tempDir } from "../support/temp.ts";

// `flow serve all` runs the projector, matcher and executor on a worker thread beside
// the ingress (services/runtime/threads.ts): these check what that must keep.
setDefaultTimeout(60_000);
const nats = useNatsServer();
const cli = useProcesses();

/** A step that writes its pid to DIR/<event id>.pid, sleeps `ms`, then completes. */
function sleeper(dir: string, ms: number): string {
  return `import { writeFileSync } from "node:fs";\nconst input = JSON.parse(await Bun.stdin.text());\nwriteFileSync(${JSON.stringify(dir)} + "/" + input.flow.event.id + ".pid", String(process.pid));\nawait Bun.sleep(${ms});\nconsole.log('FLOW_RESULT {"status":"completed"}');`;
}

/** Posts the event and waits until its one run is running and its step wrote DIR/<id>.pid; its run id. */
async function runningRun(url: string, id: string, type: string, dir: string): Promise<string> {
  const { runIds } = await json(
    fetch(`${url}/events?wait=matched`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id, type }),
    }),
  );
  for (let i = 0; i < 200; i++) {
    const { run } = await json(fetch(`${url}/runs/${runIds[0]}`));
    if (run.status === "running" && existsSync(join(dir, `${id}.pid`))) return runIds[0];
    await Bun.sleep(50);
  }
  throw new Error(`run ${runIds[0]} never ran`);
}

test("given serve all with threads, when an event is posted with wait=true, then the answer shows the completed run (the projector's commits reach the ingress across threads)", async () => {
  const cwd = writeFlows({
    quick: [{ name: "a", type: "t.quick", source: 'console.log(\'FLOW_RESULT {"status":"completed"}\');' }],
  });
  const env = await serviceEnv(nats.url, { CODEX_FLOW_BACKEND_CWD: cwd, CODEX_FLOW_THREADS: "on" });
  const all = cli.start(["serve", "all"], { env });
  const url = await ingressUrlOf(all);
  const started = Date.now();
  const answer = await json(
    fetch(`${url}/events?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "quick-1", type: "t.quick" }),
    }),
  );
  expect(answer.runs.map((r: { status: string }) => r.status)).toEqual(["completed"]);
  // Woken by the relayed commit, not by a 1 s poll or the wait bound.
  expect(Date.now() - started).toBeLessThan(5_000);
  all.signal("SIGTERM");
  expect(await all.exit(30_000)).toBe(0);
});

test("given serve all with threads and a running step, when SIGTERM arrives, then the step finishes within the grace, the process exits 0 and leaves no process behind", async () => {
  const pids = tempDir("codex-flows-pids-");
  const cwd = writeFlows({ slow: [{ name: "a", type: "t.slow", source: sleeper(pids, 1_500) }] });
  const env = await serviceEnv(nats.url, {
    CODEX_FLOW_BACKEND_CWD: cwd,
    CODEX_FLOW_THREADS: "on",
    CODEX_FLOW_SHUTDOWN_GRACE_MS: "10000",
  });
  const all = cli.start(["serve", "all"], { env });
  const url = await ingressUrlOf(all);
  const runId = await runningRun(url, "slow-1", "t.slow", pids);
  all.signal("SIGTERM");
  expect(await all.exit(30_000)).toBe(0);
  const pid = Number(readFileSync(join(pids, "slow-1.pid"), "utf8"));
  expect(isRunning(pid)).toBe(false);

  const again = cli.start(["serve", "all"], { env });
  const url2 = await ingressUrlOf(again);
  const { run } = await json(fetch(`${url2}/runs/${runId}`));
  expect(run.status).toBe("completed");
  again.signal("SIGTERM");
  expect(await again.exit(30_000)).toBe(0);
});

test("given serve all with threads and a step longer than the grace, when SIGTERM arrives, then the step is stopped and released, and the process exits 0", async () => {
  const pids = tempDir("codex-flows-pids-");
  const cwd = writeFlows({ long: [{ name: "a", type: "t.long", source: sleeper(pids, 60_000) }] });
  const env = await serviceEnv(nats.url, {
    CODEX_FLOW_BACKEND_CWD: cwd,
    CODEX_FLOW_THREADS: "on",
    CODEX_FLOW_SHUTDOWN_GRACE_MS: "300",
  });
  const all = cli.start(["serve", "all"], { env });
  const url = await ingressUrlOf(all);
  const runId = await runningRun(url, "long-1", "t.long", pids);
  all.signal("SIGTERM");
  expect(await all.exit(20_000)).toBe(0);
  const pid = Number(readFileSync(join(pids, "long-1.pid"), "utf8"));
  expect(isRunning(pid)).toBe(false);

  // Read the record the stopping executor wrote, without starting an executor that would run it again.
  const projector = cli.start(["serve", "projector"], { env });
  const front = cli.start(["serve", "ingress"], { env });
  const url2 = await ingressUrlOf(front);
  // serve all's own projector usually applied the released record already, so the ingress can
  // show it before this projector has even loaded its modules; a SIGTERM then kills it by the
  // default action (exit 143, seen under load). Signal it only once it is up.
  await projector.waitForLine("projecting ");
  let attempts: { status: string }[] = [];
  for (let i = 0; i < 100 && !attempts.some((a) => a.status === "released"); i++) {
    attempts = (await json(fetch(`${url2}/runs/${runId}`))).run.attempts;
    await Bun.sleep(100);
  }
  expect(attempts.map((a) => a.status)).toContain("released");
  projector.signal("SIGTERM");
  front.signal("SIGTERM");
  expect(await projector.exit(20_000)).toBe(0);
  expect(await front.exit(20_000)).toBe(0);
});
