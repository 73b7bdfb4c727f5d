import type { WarmOptions } from "../../flows/warm.ts";
import { NO_OUTPUT, StepOutput } from "../output.ts";
import { stopReasonOf } from "../stops.ts";
import { DEFAULT_KILL_GRACE_MS, type StepOutcome, type StepRunRequest, type StopReason } from "../types.ts";
import { acquireWorker } from "./pool.ts";
import type { Served } from "./worker.ts";

type Finish = (fields: Omit<StepOutcome, "startedAt" | "finishedAt" | "durationMs">) => StepOutcome;
type Ended = { exitCode: number | null; signal: string | null; stoppedBy: StopReason | undefined };
export type Verdict = (
  ended: Ended,
  out: { stdout: string; stderr: string },
  parsed: ReturnType<StepOutput["parseResult"]>,
  request: StepRunRequest,
) => Pick<StepOutcome, "status" | "result" | "error">;

/**
 * Runs one attempt of a warm step (`warm` in flow.toml) on a worker of its pool: the same
 * context, environment and working directory a spawned module-style step gets, its
 * output captured for this run alone, its FLOW_RESULT read the same way (`verdict`, the
 * bun runner's). The timeout, a cancel or shutdown (`signal`) and a fence (`kill`) stop
 * the run as they stop a spawned step, by ending its worker's process group, and the pool
 * starts another for the next run; so does a crash, which fails only this run.
 * `onLaunch` gets the worker's pid for each run, so the executor's ledger covers it.
 */
export async function runWarmStep(
  request: StepRunRequest,
  options: WarmOptions,
  run: { context: unknown; env: Record<string, string>; moduleStyle: boolean },
  finish: Finish,
  verdict: Verdict,
): Promise<StepOutcome> {
  const { step } = request;
  if (!run.moduleStyle)
    return finish({
      status: "failed",
      exitCode: null,
      signal: null,
      error: `warm steps are module-style: ${step.scriptPath} has no default export (docs/runners.md "Warm steps")`,
      ...NO_OUTPUT,
    });
  // The timeout counts from the request, the wait for a free worker included.
  let stop: ((reason: StopReason) => void) | undefined;
  let stopped: StopReason | undefined;
  const waiting = new AbortController();
  const stopFor = (reason: StopReason) => {
    stopped ??= reason;
    if (reason === "fenced") stopped = reason;
    if (stop) stop(reason);
    else waiting.abort();
  };
  const timer = setTimeout(() => stopFor("timeout"), step.timeoutMs);
  const onCancel = () => stopFor(stopReasonOf(request.signal!));
  const onFence = () => stopFor("fenced");
  request.signal?.addEventListener("abort", onCancel, { once: true });
  request.kill?.addEventListener("abort", onFence, { once: true });
  if (request.signal?.aborted) onCancel();
  if (request.kill?.aborted) onFence();
  // Stopped before it had a worker: no process ran.
  const notStarted = (reason: StopReason) => {
    const { status, error } =
      reason === "fenced"
        ? { status: "failed" as const, error: "fenced before a warm worker was free" }
        : verdict({ exitCode: null, signal: null, stoppedBy: reason }, NO_OUTPUT, { ok: false, error: "" }, request);
    return finish({
      status,
      exitCode: null,
      signal: null,
      ...(error ? { error } : {}),
      stoppedBy: reason,
      ...NO_OUTPUT,
    });
  };
  try {
    if (stopped !== undefined) return notStarted(stopped);
    const acquired = await acquireWorker(request, options, run.env, waiting.signal);
    if ("error" in acquired)
      return stopped !== undefined
        ? notStarted(stopped)
        : finish({ status: "failed", exitCode: null, signal: null, error: acquired.error, ...NO_OUTPUT });
    const { worker } = acquired;
    const stops = worker.stops(request.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
    stop = stops.stop;
    if (stopped !== undefined) stops.stop(stopped);
    request.onLaunch?.(worker.pid);
    const output = new StepOutput(request);
    let served: Served;
    try {
      served = await worker.serve({ context: run.context, env: run.env, cwd: step.workingDirectory }, output);
    } finally {
      stop = undefined; // a stop from here on finds the run over
      acquired.release();
    }
    const ended: Ended =
      served.kind === "marked"
        ? { exitCode: served.code, signal: null, stoppedBy: undefined }
        : { exitCode: served.exitCode, signal: served.signal, stoppedBy: stops.stoppedBy };
    const tails = output.tails();
    const { status, result, error } = verdict(ended, tails, output.parseResult(), request);
    return finish({
      status,
      exitCode: ended.exitCode,
      signal: ended.signal,
      ...(result ? { result } : {}),
      ...(error ? { error } : {}),
      pid: worker.pid,
      ...(ended.stoppedBy !== undefined ? { stoppedBy: ended.stoppedBy } : {}),
      ...tails,
    });
  } finally {
    clearTimeout(timer);
    request.signal?.removeEventListener("abort", onCancel);
    request.kill?.removeEventListener("abort", onFence);
  }
}
