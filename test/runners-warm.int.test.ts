// Warm steps (lib/runners/warm/): real Bun workers serving a module-style step, each
// guarantee of a spawned step checked on them. Every test uses a step name of its own,
// so a pool of its own.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WarmOptions } from "../lib/flows/warm.ts";
import { executeStep, type StepOutcome, type StepRunRequest, stopWarmPools } from "../lib/runners/index.ts";
import { EVENT, isRunning, stepRequest, waitUntilGone } from "./fixtures/request.ts";

const WORKDIR = realpathSync(mkdtempSync(join(tmpdir(), "warm-steps-")));
afterAll(async () => {
  await stopWarmPools();
  rmSync(WORKDIR, { recursive: true, force: true });
});

type Probe = {
  imported: number;
  runs: number;
  pid: number;
  runId: string;
  shell: string;
  cwd: string;
  token: string | null;
  replay: string | null;
  child?: number;
};
type Payload = { action?: string; ms?: number; mb?: number; file?: string };

function warmRequest(
  step: string,
  runId: string,
  payload: Payload = {},
  options: Partial<StepRunRequest> & { warm?: Partial<WarmOptions>; timeoutMs?: number; script?: string } = {},
): StepRunRequest {
  const { warm, timeoutMs, script = "warm-probe.ts", ...rest } = options;
  const request = stepRequest(script, {
    workingDirectory: WORKDIR,
    runId,
    event: { ...EVENT, id: `evt-${runId}`, payload },
    ...(timeoutMs ? { timeoutMs } : {}),
    ...rest,
  });
  request.step.name = step;
  request.step.warm = { workers: 2, maxRuns: 1000, maxRssMb: 512, ...warm };
  return request;
}

const probe = (outcome: StepOutcome) => (outcome.result as { artifacts: Probe }).artifacts;

describe("warm steps", () => {
  test("runs return their FLOW_RESULT, and the module is imported once across runs on one worker", async () => {
    const outcomes: StepOutcome[] = [];
    for (let i = 0; i < 5; i++) outcomes.push(await executeStep(warmRequest("once", `once-${i}`)));
    expect(outcomes.map((o) => o.status)).toEqual(Array(5).fill("completed"));
    expect(outcomes.map((o) => probe(o).runs)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(outcomes.map((o) => probe(o).imported)).size).toBe(1);
    expect(new Set(outcomes.map((o) => o.pid)).size).toBe(1);
    expect(outcomes[0]!.pid).toBe(probe(outcomes[0]!).pid);
  });

  test("each run gets its own environment, secrets still withheld, and the step's working directory", async () => {
    process.env.WARM_TEST_TOKEN = "do-not-leak";
    try {
      // The first run also changes the worker's directory: the next run is in the step's again.
      const first = await executeStep(
        warmRequest("env", "env-1", { action: "chdir" }, { env: { CODEX_FLOW_REPLAY: "1" } }),
      );
      const second = await executeStep(warmRequest("env", "env-2"));
      expect(first.pid).toBe(second.pid);
      expect(probe(first)).toMatchObject({ runId: "env-1", shell: "env-1", token: null, replay: "1", cwd: "/" });
      // What the last run had is gone: the environment is the run's, not the worker's.
      expect(probe(second)).toMatchObject({ runId: "env-2", shell: "env-2", token: null, replay: null, cwd: WORKDIR });
      expect(first.stdout + first.stderr + second.stdout + second.stderr).not.toContain("do-not-leak");
    } finally {
      delete process.env.WARM_TEST_TOKEN;
    }
  });

  test("output is captured per run: two runs at once on two workers keep their own", async () => {
    const [slow, fast] = await Promise.all([
      executeStep(warmRequest("output", "slow", { ms: 300 })),
      executeStep(warmRequest("output", "fast", { ms: 50 })),
    ]);
    expect(slow.pid).not.toBe(fast.pid);
    expect(slow.stdout).toBe(`out slow begins\nout slow ends\nFLOW_RESULT ${JSON.stringify(slow.result)}\n`);
    expect(slow.stderr).toBe("err slow begins\nerr slow ends\n");
    expect(fast.stdout).toBe(`out fast begins\nout fast ends\nFLOW_RESULT ${JSON.stringify(fast.result)}\n`);
    expect(fast.stderr).toBe("err fast begins\nerr fast ends\n");
  });

  test("a timeout kills the worker, and the next run gets a new one that works", async () => {
    const hung = await executeStep(
      warmRequest("timeout", "hang", { action: "hang" }, { timeoutMs: 300, killGraceMs: 500 }),
    );
    expect(hung).toMatchObject({ status: "timed_out", stoppedBy: "timeout", error: "step timed out after 300 ms" });
    expect(hung.stdout).toBe("out hang begins\n");
    expect(await waitUntilGone(hung.pid!)).toBe(true);
    const next = await executeStep(warmRequest("timeout", "after-hang", {}, { timeoutMs: 10_000 }));
    expect(next.status).toBe("completed");
    expect(next.pid).not.toBe(hung.pid);
  });

  test("a cancel kills the worker, and the next run works", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const canceled = await executeStep(
      warmRequest("cancel", "cancel-1", { action: "hang" }, { signal: controller.signal, killGraceMs: 500 }),
    );
    expect(canceled).toMatchObject({ status: "canceled", stoppedBy: "cancel" });
    expect(await waitUntilGone(canceled.pid!)).toBe(true);
    expect((await executeStep(warmRequest("cancel", "cancel-2"))).status).toBe("completed");
  });

  test("a fence kills the worker at once (SIGKILL, no grace)", async () => {
    const fence = new AbortController();
    let pid = 0;
    setTimeout(() => fence.abort(), 300);
    const started = Date.now();
    const fenced = await executeStep(
      warmRequest(
        "fence",
        "fence-1",
        { action: "hang" },
        { kill: fence.signal, killGraceMs: 30_000, onLaunch: (p) => (pid = p) },
      ),
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(fenced).toMatchObject({ stoppedBy: "fenced", signal: "SIGKILL", status: "failed", pid });
    expect(isRunning(pid)).toBe(false);
    expect((await executeStep(warmRequest("fence", "fence-2"))).status).toBe("completed");
  });

  test("a crash (process.exit in the handler) fails only its run; a throw fails its run and keeps the worker", async () => {
    const [crashed, beside] = await Promise.all([
      executeStep(warmRequest("crash", "crash-1", { action: "exit", ms: 100 })),
      executeStep(warmRequest("crash", "beside", { ms: 300 })),
    ]);
    expect(crashed).toMatchObject({ status: "failed", exitCode: 3, error: "exited with code 3: err crash-1 begins" });
    expect(beside.status).toBe("completed");
    expect(await waitUntilGone(crashed.pid!)).toBe(true);
    const threw = await executeStep(warmRequest("crash", "throw-1", { action: "throw" }));
    expect(threw).toMatchObject({ status: "failed", exitCode: 1 });
    expect(threw.error).toEndWith("warm-probe.ts: the step threw: no network");
    const after = await executeStep(warmRequest("crash", "after-throw"));
    expect(after.status).toBe("completed");
    expect(after.pid).toBe(threw.pid);
  });

  test("a worker is replaced after max_runs runs", async () => {
    const pids: number[] = [];
    for (let i = 0; i < 5; i++)
      pids.push(
        (await executeStep(warmRequest("recycle", `recycle-${i}`, {}, { warm: { maxRuns: 2, workers: 1 } }))).pid!,
      );
    expect(pids[0]).toBe(pids[1]);
    expect(pids[2]).toBe(pids[3]);
    expect(new Set(pids).size).toBe(3);
    expect(await waitUntilGone(pids[0]!)).toBe(true);
  });

  test("a worker is replaced once it holds more than max_rss_mb", async () => {
    const small = await executeStep(warmRequest("rss", "rss-1", {}, { warm: { maxRssMb: 150, workers: 1 } }));
    const grown = await executeStep(
      warmRequest("rss", "rss-2", { action: "grow", mb: 200 }, { warm: { maxRssMb: 150, workers: 1 } }),
    );
    expect(grown.pid).toBe(small.pid);
    expect(grown.status).toBe("completed");
    const next = await executeStep(warmRequest("rss", "rss-3", {}, { warm: { maxRssMb: 150, workers: 1 } }));
    expect(next.pid).not.toBe(grown.pid);
    expect(probe(next).runs).toBe(1);
    expect(await waitUntilGone(grown.pid!)).toBe(true);
  });

  test("a process a run started is ended when the run ends; the worker stays", async () => {
    const file = join(WORKDIR, "child-pid");
    const outcome = await executeStep(warmRequest("leftovers", "spawn-1", { action: "spawn", file }));
    expect(outcome.status).toBe("completed");
    const child = Number(readFileSync(file, "utf8"));
    expect(await waitUntilGone(child)).toBe(true);
    expect(isRunning(outcome.pid!)).toBe(true);
  });

  test("a new flow version gets new workers and the old ones end", async () => {
    const old = await executeStep(warmRequest("version", "v-1"));
    const request = warmRequest("version", "v-2");
    request.flow = { ...request.flow, version: 3 };
    const updated = await executeStep(request);
    expect(updated.pid).not.toBe(old.pid);
    expect(probe(updated).runs).toBe(1);
    expect(await waitUntilGone(old.pid!)).toBe(true);
  });

  test("a raw stdin script cannot be warm: the run fails saying so", async () => {
    const outcome = await executeStep(warmRequest("raw", "raw-1", {}, { script: "echo.ts" }));
    expect(outcome.status).toBe("failed");
    expect(outcome.error).toContain("warm steps are module-style");
  });
});
