import { statSync } from "node:fs";
import type { WarmOptions } from "../../flows/warm.ts";
import type { StepRunRequest } from "../types.ts";
import { WarmWorker } from "./worker.ts";

/** How long a retired idle worker gets to exit after its stdin closes, before SIGKILL. */
const RETIRE_GRACE_MS = 5000;
/** A worker idle this long is ended (its step may have left the flows); the next run starts one. */
export const WARM_IDLE_MS = 300_000;

type Waiter = { take(worker: WarmWorker | Error): void };

/**
 * The warm workers of one step of one flow version: at most `workers` of them, started
 * when a run finds none idle, each recycled after `maxRuns` runs or once it holds more
 * than `maxRssMb`. A run beyond `workers` waits for one to be free.
 */
class WarmPool {
  readonly idle: WarmWorker[] = [];
  readonly waiting: Waiter[] = [];
  /** Workers started and not yet ended (idle or serving). */
  size = 0;
  retired = false;

  constructor(
    readonly version: string,
    readonly options: WarmOptions,
    readonly start: () => WarmWorker,
  ) {}

  /** Starts a worker for the first waiter when there is room (a worker ended, or one may be added). */
  serveWaiter(): void {
    while (this.waiting.length > 0 && this.size < this.options.workers) {
      const waiter = this.waiting.shift()!;
      this.size++;
      try {
        waiter.take(this.start());
      } catch (error) {
        this.size--;
        waiter.take(error as Error);
      }
    }
  }
}

/** The pools of this process, by flow folder, flow and step: one version each, the last one run. */
const pools = new Map<string, WarmPool>();

/** A worker of the pool a run's step has: its flow version's (the old version's pool is retired), or why none could start. */
export async function acquireWorker(
  request: StepRunRequest,
  options: WarmOptions,
  env: Record<string, string>,
  signal: AbortSignal,
): Promise<{ worker: WarmWorker; release(): void } | { error: string }> {
  const { flow, step } = request;
  const key = `${flow.root}\0${flow.name}\0${step.name}`;
  const version = versionOf(request, options);
  let pool = pools.get(key);
  if (pool?.version !== version) {
    if (pool) retire(pool);
    pool = new WarmPool(version, options, () => new WarmWorker(step.scriptPath, env, step.workingDirectory));
    pools.set(key, pool);
  }
  const owner = pool;
  const release = (worker: WarmWorker) => () => releaseWorker(owner, worker);
  for (let worker = pool.idle.pop(); worker !== undefined; worker = pool.idle.pop()) {
    clearTimeout(worker.idleTimer);
    if (worker.alive) return { worker, release: release(worker) };
    pool.size--; // died while idle
  }
  const got = await new Promise<WarmWorker | Error | undefined>((resolve) => {
    const waiter: Waiter = { take: resolve };
    const abandon = () => {
      const index = owner.waiting.indexOf(waiter);
      if (index !== -1) owner.waiting.splice(index, 1);
      resolve(undefined);
    };
    if (signal.aborted) return abandon();
    signal.addEventListener("abort", abandon, { once: true });
    owner.waiting.push(waiter);
    owner.serveWaiter();
  });
  if (got === undefined) return { error: "stopped while waiting for a warm worker" };
  if (got instanceof Error) return { error: `could not start a warm worker: ${got.message}` };
  return { worker: got, release: release(got) };
}

/** Ends every pool's idle workers and forgets the pools (the executor stops); a worker still serving a run is ended by that run's stop. */
export async function stopWarmPools(): Promise<void> {
  const ending = [...pools.values()].flatMap((pool) => retire(pool));
  pools.clear();
  await Promise.all(ending);
}

/** Back from a run: kept for the next run (its leftovers ended), or ended when it died, ran `maxRuns` runs, outgrew `maxRssMb` or its pool was retired. */
function releaseWorker(pool: WarmPool, worker: WarmWorker): void {
  if (worker.alive) worker.endLeftovers();
  const { maxRuns, maxRssMb } = pool.options;
  const keep = worker.alive && worker.runs < maxRuns && worker.rssMb() <= maxRssMb;
  // A waiter of a retired pool was sent with that version's flow: its runs are still the old workers'.
  const waiter = keep ? pool.waiting.shift() : undefined;
  if (waiter) {
    waiter.take(worker);
    return;
  }
  if (keep && !pool.retired) {
    pool.idle.push(worker);
    worker.idleTimer = setTimeout(() => endIdle(pool, worker), WARM_IDLE_MS);
    worker.idleTimer.unref();
    return;
  }
  pool.size--;
  if (worker.alive) void worker.retire(RETIRE_GRACE_MS);
  pool.serveWaiter();
}

function retire(pool: WarmPool): Promise<void>[] {
  pool.retired = true;
  const idle = pool.idle.splice(0);
  pool.size -= idle.length;
  return idle.map((worker) => {
    clearTimeout(worker.idleTimer);
    return worker.retire(RETIRE_GRACE_MS);
  });
}

function endIdle(pool: WarmPool, worker: WarmWorker): void {
  const index = pool.idle.indexOf(worker);
  if (index === -1) return;
  pool.idle.splice(index, 1);
  pool.size--;
  void worker.retire(RETIRE_GRACE_MS);
}

/** What a pool's workers were started with: a change (the flow's version, the script, its folder, the options, the variables the flow may see) makes a new pool. */
function versionOf(request: StepRunRequest, options: WarmOptions): string {
  const { flow, step } = request;
  let script = "";
  try {
    const stat = statSync(step.scriptPath);
    script = `${stat.size}:${stat.mtimeMs}`;
  } catch {
    // Missing: the runner reports it before a worker is asked for.
  }
  return JSON.stringify([
    flow.version,
    step.scriptPath,
    script,
    step.workingDirectory,
    options,
    flow.env?.secrets ?? [],
    request.envDeny ?? [],
    request.forwardEnv ?? [],
  ]);
}
