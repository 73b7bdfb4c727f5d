import type { FlowResultParse } from "../protocol/flow-result.ts";
import { hasDefaultExport, MODULE_ENTRY } from "./bun-module.ts";
import { stepEnvironment } from "./environment.ts";
import { type Launched, launchStep } from "./launch.ts";
import { cannotStart, crashSummary, NO_OUTPUT, outcomeTimer, StepOutput } from "./output.ts";
import type { StepOutcome, StepRunRequest, StopReason } from "./types.ts";
import { runWarmStep } from "./warm/run.ts";

/** After the leader exits and its group is killed, pipes close at once unless an escaped process holds them. */
const DRAIN_AFTER_EXIT_MS = 2000;
/** How long the pipes may stay open after the step's exit before escaped processes are looked for again. */
const RESCAN_AFTER_MS = 100;

/** What `promise` gives within `ms`, or undefined. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: Timer | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

type Ended = { exitCode: number | null; signal: string | null; stoppedBy: StopReason | undefined };

/**
 * Runs one attempt of a `runner = "bun"` step: the running Bun executes the script with
 * the original backend's JSON on stdin (seed/flows.md), in its own process group (or systemd unit) so a timeout or
 * cancel reaches every process the step started. A script whose default export is a
 * function (module style) is run through lib/runners/bun-module-entry.ts, which calls it
 * with the same JSON and prints its FLOW_RESULT. Every failure of the step is an
 * outcome, not a throw.
 */
export async function runBunStep(request: StepRunRequest): Promise<StepOutcome> {
  const { flow, step, event } = request;
  const finish = outcomeTimer(new Date());

  const early = cannotStart(request, finish);
  if (early) return early;

  const { env, stepEnv } = stepEnvironment(request);
  const context = {
    flow: { name: flow.name, version: flow.version, root: flow.root, step: step.name, config: flow.config, event },
  };
  const moduleStyle = await hasDefaultExport(step.scriptPath);
  // A warm step runs on a worker of its pool; under systemd-run every step is spawned into its own unit.
  if (step.warm && request.executor !== "systemd-run")
    return runWarmStep(request, step.warm, { context, env, moduleStyle }, finish, verdict);
  const input = JSON.stringify(context);
  const argv = moduleStyle ? [process.execPath, MODULE_ENTRY, step.scriptPath] : [process.execPath, step.scriptPath];
  // A buffer as stdin is written by Bun and the pipe closed after it; EPIPE from a step that never reads is absorbed.
  const launch = launchStep(request, { argv, env, stepEnv, stdin: Buffer.from(input) });
  if (!launch.ok) return finish({ status: "failed", exitCode: null, signal: null, error: launch.error, ...NO_OUTPUT });
  const { launched } = launch;
  const { child } = launched;
  const unit = launched.unit === undefined ? {} : { unit: launched.unit };

  const output = new StepOutput(request);
  const readers = { stdout: child.stdout.getReader(), stderr: child.stderr.getReader() };
  const drained = Promise.all([output.pump(readers.stdout, "stdout"), output.pump(readers.stderr, "stderr")]);
  const ended = await waitForExit(launched, request);

  // Wait for the pipes to empty; give up on a process that escaped the group and still holds them.
  let readErrors = await within(drained, RESCAN_AFTER_MS);
  // Still held: look for escaped processes once more (one caught mid-exec by the first look showed no environment yet).
  if (readErrors === undefined) {
    await launched.reap();
    readErrors = await within(drained, DRAIN_AFTER_EXIT_MS - RESCAN_AFTER_MS);
  }
  const gaveUp = readErrors === undefined;
  if (gaveUp) await Promise.all([readers.stdout.cancel(), readers.stderr.cancel()]);

  const tails = output.tails();
  const { status, result, error } = verdict(ended, tails, output.parseResult(), request);
  const drainProblem = gaveUp
    ? `output still open ${DRAIN_AFTER_EXIT_MS} ms after exit (held by a process outside the step's group); capture cut short`
    : undefined;
  const problems = [error, drainProblem, ...(readErrors ?? []), ...launched.problems].filter(
    (p): p is string => p !== undefined,
  );
  return finish({
    status,
    exitCode: ended.exitCode,
    signal: ended.signal,
    ...(result ? { result } : {}),
    ...(problems.length > 0 ? { error: problems.join("; ") } : {}),
    pid: child.pid,
    ...unit,
    ...(ended.stoppedBy !== undefined ? { stoppedBy: ended.stoppedBy } : {}),
    ...tails,
  });
}

/** Waits for the leader to exit, stopping it at the step's timeout (the request's signals stop it too: launchStep), then reaps what is left of its group. */
async function waitForExit(launched: Launched<Uint8Array>, request: StepRunRequest): Promise<Ended> {
  const { child } = launched;
  const timeoutTimer = setTimeout(() => launched.stop("timeout"), request.step.timeoutMs);
  try {
    await child.exited;
  } finally {
    clearTimeout(timeoutTimer);
  }
  await launched.reap();
  return {
    exitCode: child.exitCode,
    signal: child.signalCode === null ? null : String(child.signalCode),
    stoppedBy: launched.stoppedBy,
  };
}

function verdict(
  ended: Ended,
  out: { stdout: string; stderr: string },
  parsed: FlowResultParse,
  request: StepRunRequest,
): Pick<StepOutcome, "status" | "result" | "error"> {
  if (ended.stoppedBy === "timeout")
    return { status: "timed_out", error: `step timed out after ${request.step.timeoutMs} ms` };
  if (ended.stoppedBy === "cancel" || ended.stoppedBy === "shutdown") return { status: "canceled", error: "canceled" };
  // Fenced: the outcome reads as the kill left it.
  if (ended.signal !== null) return { status: "failed", error: `killed by ${ended.signal}` };
  if (ended.exitCode === 0)
    return parsed.ok ? { status: "completed", result: parsed.result } : { status: "failed", error: parsed.error };
  const lastLine = crashSummary(out.stderr);
  const error = `exited with code ${ended.exitCode}${lastLine ? `: ${lastLine}` : ""}`;
  return parsed.ok ? { status: "failed", error, result: parsed.result } : { status: "failed", error };
}
