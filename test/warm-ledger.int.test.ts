// A warm worker under the executor's process ledger and guard (services/executor/ledger.ts):
// a worker serving a run is recorded like a spawned step, so the guard of a frozen
// executor kills it; an idle worker ends with its executor.
import { expect, test } from "bun:test";
import { resolve } from "node:path";
import { logger } from "../lib/log.ts";
import { processLedger } from "../services/executor/ledger.ts";
import { isRunning, waitUntilGone } from "./fixtures/request.ts";
import { tempDir } from "./support/temp.ts";

const module = (path: string) => JSON.stringify(resolve(import.meta.dir, path));

/** A stand-in executor: with its guard, runs the warm probe step (`action`), recording the worker for the run as the executor does; prints the worker's pid. */
async function executorWithWarmRun(
  dataDir: string,
  action: "hang" | "echo",
): Promise<{ executor: Bun.Subprocess<"ignore", "pipe", "inherit">; worker: number }> {
  const executor = Bun.spawn(
    [
      process.execPath,
      "-e",
      `const { processLedger } = await import(${module("../services/executor/ledger.ts")});
       const { logger } = await import(${module("../lib/log.ts")});
       const { executeStep } = await import(${module("../lib/runners/index.ts")});
       const { stepRequest, EVENT } = await import(${module("fixtures/request.ts")});
       const ledger = processLedger(${JSON.stringify(dataDir)}, "host-a", logger("test"));
       ledger.guard(1_500);
       const request = stepRequest("warm-probe.ts", { workingDirectory: ${JSON.stringify(dataDir)}, event: { ...EVENT, payload: { action: ${JSON.stringify(action)} } } });
       request.step.warm = { workers: 1, maxRuns: 100, maxRssMb: 512 };
       let worker = 0;
       const outcome = executeStep({ ...request, onLaunch: (pid) => { worker = pid; ledger.record(pid, "run-1", 3); console.log(pid); } });
       if (${JSON.stringify(action)} === "echo") { await outcome; ledger.forget(worker); console.log("done"); }
       await Bun.sleep(300_000);`,
    ],
    { stdout: "pipe", stderr: "inherit" },
  );
  const reader = executor.stdout.getReader();
  let text = "";
  while (!text.includes(action === "echo" ? "done" : "\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stand-in executor exited: ${text}`);
    text += new TextDecoder().decode(value);
  }
  return { executor, worker: Number(text.split("\n")[0]) };
}

test("given a guarded executor frozen while a warm worker serves its run, then the guard kills the worker and notes it", async () => {
  const dataDir = tempDir("warm-ledger-");
  const { executor, worker } = await executorWithWarmRun(dataDir, "hang");
  expect(isRunning(worker)).toBe(true);
  executor.kill("SIGSTOP");
  try {
    expect(await waitUntilGone(worker, 10_000)).toBe(true);
    expect(processLedger(dataDir, "host-a", logger("test")).guardFenced(worker)).toBeGreaterThanOrEqual(1_000);
  } finally {
    executor.kill("SIGCONT");
    executor.kill("SIGKILL");
    await executor.exited;
  }
});

test("given an executor killed with SIGKILL while its warm worker is idle, then the worker ends with it", async () => {
  const dataDir = tempDir("warm-ledger-");
  const { executor, worker } = await executorWithWarmRun(dataDir, "echo");
  await Bun.sleep(200);
  expect(isRunning(worker)).toBe(true);
  executor.kill("SIGKILL");
  await executor.exited;
  expect(await waitUntilGone(worker, 3_000)).toBe(true);
});
