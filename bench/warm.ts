/**
 * The warm row (`bun run bench --only warm`; alone: `bun bench/warm.ts`): the trivial
 * module step bench/fixtures/trivial-module.ts run through the bun runner directly (no
 * NATS, no executor), warm (lib/runners/warm/) and spawned per run: single runs one at a
 * time (p50), and a burst of BURST runs CONCURRENCY at a time (runs/s). Targets (issue 21):
 * warm burst >= 1,500 runs/s, warm p50 <= 4 ms. Then the same step through `flow serve all`,
 * warm and spawned (bench/warm-system.ts), for comparison.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Flow, FlowStep } from "../lib/flows/manifest.ts";
import { DEFAULT_STEP_POLICY } from "../lib/flows/step-policy.ts";
import { executeStep, type StepRunRequest, stopWarmPools } from "../lib/runners/index.ts";
import { round, type Summary, summarize } from "./stats.ts";
import { measureSystem, type SystemMode } from "./warm-system.ts";

const SCRIPT = join(import.meta.dir, "fixtures", "trivial-module.ts");
const BURST = 2000;
/** Runs in flight during a burst: the executor's default concurrency. */
const CONCURRENCY = 4;
const WORKERS = 2;
const SINGLE = { warm: 300, spawned: 50 };

export type WarmMode = {
  single: Summary;
  burst: { count: number; concurrency: number; ms: number; perSecond: number; failed: number };
};
export type WarmFigures = {
  workers: number;
  warm: WarmMode;
  spawned: WarmMode;
  system: { warm: SystemMode; spawned: SystemMode };
  targets: { burstPerSecond: number; p50Ms: number };
  met: { burst: boolean; p50: boolean };
};

export async function measureWarm(log: (line: string) => void = () => {}): Promise<WarmFigures> {
  const cwd = mkdtempSync(join(tmpdir(), "bench-warm-"));
  try {
    log(`warm: ${SINGLE.warm} single runs, then ${BURST} runs ${CONCURRENCY} at a time on ${WORKERS} workers`);
    const warm = await measureMode(cwd, true, SINGLE.warm);
    await stopWarmPools();
    log(`spawned: ${SINGLE.spawned} single runs, then ${BURST} runs ${CONCURRENCY} at a time`);
    const spawned = await measureMode(cwd, false, SINGLE.spawned);
    const system = {
      warm: await measureSystem("warm-system", true, log),
      spawned: await measureSystem("spawned-system", false, log),
    };
    const targets = { burstPerSecond: 1500, p50Ms: 4 };
    const verdict = (met: boolean) => (met ? "met" : "MISSED");
    log(
      `warm: p50 ${round(warm.single.p50)} ms (target <= ${targets.p50Ms}: ${verdict(warm.single.p50 <= targets.p50Ms)}), burst ${warm.burst.perSecond} runs/s (target >= ${targets.burstPerSecond}: ${verdict(warm.burst.perSecond >= targets.burstPerSecond)})`,
    );
    log(
      `spawned: p50 ${round(spawned.single.p50)} ms, burst ${spawned.burst.perSecond} runs/s; warm/spawned: ${round(warm.burst.perSecond / spawned.burst.perSecond)}x the rate`,
    );
    for (const [mode, figures] of Object.entries(system))
      log(`flow serve all, ${mode}: p50 ${round(figures.single.p50)} ms, burst ${figures.burst.perSecond} events/s`);
    return {
      workers: WORKERS,
      warm,
      spawned,
      system,
      targets,
      met: { burst: warm.burst.perSecond >= targets.burstPerSecond, p50: warm.single.p50 <= targets.p50Ms },
    };
  } finally {
    await stopWarmPools();
    rmSync(cwd, { recursive: true, force: true });
  }
}

async function measureMode(cwd: string, warm: boolean, singles: number): Promise<WarmMode> {
  let n = 0;
  const request = (): StepRunRequest => {
    const step: FlowStep = {
      name: "trivial",
      runner: "bun",
      script: "trivial-module.ts",
      scriptPath: SCRIPT,
      timeoutMs: 30_000,
      workingDirectory: cwd,
      trigger: { type: "bench.run" },
      policy: DEFAULT_STEP_POLICY,
    };
    if (warm) step.warm = { workers: WORKERS, maxRuns: 1_000_000, maxRssMb: 512 };
    const flow: Flow = {
      name: "bench-warm",
      version: 1,
      config: {},
      steps: [step],
      root: join(import.meta.dir, "fixtures"),
      manifestPath: join(import.meta.dir, "fixtures", "flow.toml"),
    };
    const id = `run-${++n}`;
    return {
      flow,
      step,
      event: { id: `evt-${id}`, type: "bench.run", receivedAt: new Date().toISOString(), payload: {} },
      runId: id,
      attempt: 1,
    };
  };
  const once = async () => {
    const started = performance.now();
    const outcome = await executeStep(request());
    if (outcome.status !== "completed")
      throw new Error(
        `the trivial step did not complete (${warm ? "warm" : "spawned"}): ${outcome.status} ${outcome.error ?? ""}`,
      );
    return performance.now() - started;
  };
  // Warm-up: the workers start and import the module (warm), Bun's caches fill (both).
  await Promise.all(Array.from({ length: WORKERS }, once));
  for (let i = 0; i < 5; i++) await once();
  const samples: number[] = [];
  for (let i = 0; i < singles; i++) samples.push(await once());
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < BURST) {
        next++;
        const outcome = await executeStep(request());
        if (outcome.status !== "completed") failed++;
      }
    }),
  );
  const ms = performance.now() - started;
  return {
    single: summarize(samples),
    burst: { count: BURST, concurrency: CONCURRENCY, ms: round(ms), perSecond: round((BURST / ms) * 1000), failed },
  };
}

if (import.meta.main) {
  const figures = await measureWarm((line) => console.error(`bench: ${line}`));
  console.log(JSON.stringify(figures, null, 2));
}
