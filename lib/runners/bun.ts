import { existsSync } from "node:fs";
import { parseFlowResult } from "../flow-result.ts";
import { TailBuffer } from "./capture.ts";
import { DEFAULT_KILL_GRACE_MS, DEFAULT_OUTPUT_CAP_BYTES, type StepOutcome, type StepRunRequest } from "./types.ts";

/** After the leader exits and its group is killed, pipes close at once unless an escaped process holds them. */
const DRAIN_AFTER_EXIT_MS = 2000;
const STDERR_LINE_MAX = 500;
const NO_OUTPUT = { stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false };

type Stream = "stdout" | "stderr";
/** Structural, because Bun's pipes are typed with node:stream/web's reader rather than the global one. */
type ChunkReader = { read(): Promise<{ done: boolean; value?: Uint8Array }> };
type Ended = { exitCode: number | null; signal: string | null; stopReason: "timed_out" | "canceled" | undefined };

/**
 * Runs one attempt of a `runner = "bun"` step: the running Bun executes the script with
 * the seed's JSON on stdin, in its own process group so a timeout or cancel reaches
 * every process the step started. Every failure of the step is an outcome, not a throw.
 */
export async function runBunStep(request: StepRunRequest): Promise<StepOutcome> {
  const { flow, step, event } = request;
  const started = new Date();
  const finish = (fields: Omit<StepOutcome, "startedAt" | "finishedAt" | "durationMs">): StepOutcome => {
    const finished = new Date();
    return {
      ...fields,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
    };
  };

  if (request.signal?.aborted) return finish({ status: "canceled", exitCode: null, signal: null, error: "canceled", ...NO_OUTPUT });
  // One stat, because Bun's own "Module not found" arrives as exit code 1 and reads like a step failure.
  if (!existsSync(step.scriptPath)) return finish({ status: "failed", exitCode: null, signal: null, error: `script not found: ${step.scriptPath}`, ...NO_OUTPUT });

  const env: Record<string, string | undefined> = {
    ...process.env,
    ...request.env,
    CODEX_FLOW_EVENT_ID: event.id,
    CODEX_FLOW_RUN_ID: request.runId,
    CODEX_FLOW_ATTEMPT: String(request.attempt),
  };
  for (const key in env) if (env[key] === undefined) delete env[key];
  const input = JSON.stringify({ flow: { name: flow.name, version: flow.version, root: flow.root, step: step.name, config: flow.config, event } });

  let child: Bun.Subprocess<Uint8Array, "pipe", "pipe">;
  try {
    // Bun.spawn with `detached` calls setsid(), like node:child_process, at less cost per spawn.
    // A buffer as stdin is written by Bun and the pipe closed after it; EPIPE from a step that never reads is absorbed.
    child = Bun.spawn([process.execPath, step.scriptPath], {
      cwd: step.workingDirectory,
      env: env as Record<string, string>,
      stdin: Buffer.from(input),
      stdout: "pipe",
      stderr: "pipe",
      detached: true,
    });
  } catch (error) {
    const reason = existsSync(step.workingDirectory) ? (error as Error).message : `working directory not found: ${step.workingDirectory}`;
    return finish({ status: "failed", exitCode: null, signal: null, error: `could not start ${step.scriptPath}: ${reason}`, ...NO_OUTPUT });
  }

  const out = { stdout: new TailBuffer(request.outputCapBytes ?? DEFAULT_OUTPUT_CAP_BYTES), stderr: new TailBuffer(request.outputCapBytes ?? DEFAULT_OUTPUT_CAP_BYTES) };
  const readers = { stdout: child.stdout.getReader(), stderr: child.stderr.getReader() };
  const drained = Promise.all([pump(readers.stdout, out.stdout, "stdout", request), pump(readers.stderr, out.stderr, "stderr", request)]);
  const ended = await waitForExit(child, request);

  // Wait for the pipes to empty; give up on a process that escaped the group and still holds them.
  let drainTimer: Timer | undefined;
  const readErrors = await Promise.race([drained, new Promise<undefined>((resolve) => (drainTimer = setTimeout(resolve, DRAIN_AFTER_EXIT_MS)))]);
  clearTimeout(drainTimer);
  const gaveUp = readErrors === undefined;
  if (gaveUp) await Promise.all([readers.stdout.cancel(), readers.stderr.cancel()]);

  const text = { stdout: out.stdout.text(), stderr: out.stderr.text() };
  const { status, result, error } = verdict(ended, text, request);
  const drainProblem = gaveUp ? `output still open ${DRAIN_AFTER_EXIT_MS} ms after exit (held by a process outside the step's group); capture cut short` : undefined;
  const problems = [error, drainProblem, ...(readErrors ?? [])].filter((p): p is string => p !== undefined);
  return finish({
    status,
    exitCode: ended.exitCode,
    signal: ended.signal,
    ...(result ? { result } : {}),
    ...(problems.length > 0 ? { error: problems.join("; ") } : {}),
    pid: child.pid,
    ...text,
    stdoutTruncated: out.stdout.truncated,
    stderrTruncated: out.stderr.truncated,
  });
}

/** Waits for the leader to exit, applying the timeout and the abort signal, then kills what is left of its group. */
async function waitForExit(child: Bun.Subprocess, request: StepRunRequest): Promise<Ended> {
  let stopReason: Ended["stopReason"];
  let killTimer: Timer | undefined;
  const stop = (reason: NonNullable<Ended["stopReason"]>) => {
    if (stopReason !== undefined || child.exitCode !== null || child.signalCode !== null) return;
    stopReason = reason;
    signalGroup(child.pid, "SIGTERM");
    killTimer = setTimeout(() => signalGroup(child.pid, "SIGKILL"), request.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  };
  const timeoutTimer = setTimeout(() => stop("timed_out"), request.step.timeoutMs);
  const onAbort = () => stop("canceled");
  request.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await child.exited;
  } finally {
    clearTimeout(timeoutTimer);
    clearTimeout(killTimer);
    request.signal?.removeEventListener("abort", onAbort);
  }
  // Grandchildren outlive their parent unless told otherwise; the group is the step's, so nothing in it may stay.
  signalGroup(child.pid, "SIGKILL");
  return { exitCode: child.exitCode, signal: child.signalCode === null ? null : String(child.signalCode), stopReason };
}

function verdict(ended: Ended, out: { stdout: string; stderr: string }, request: StepRunRequest): Pick<StepOutcome, "status" | "result" | "error"> {
  if (ended.stopReason === "timed_out") return { status: "timed_out", error: `step timed out after ${request.step.timeoutMs} ms` };
  if (ended.stopReason === "canceled") return { status: "canceled", error: "canceled" };
  if (ended.signal !== null) return { status: "failed", error: `killed by ${ended.signal}` };
  const parsed = parseFlowResult(out.stdout);
  if (ended.exitCode === 0) return parsed.ok ? { status: "completed", result: parsed.result } : { status: "failed", error: parsed.error };
  const lastLine = lastNonEmptyLine(out.stderr);
  const error = `exited with code ${ended.exitCode}${lastLine ? `: ${lastLine}` : ""}`;
  return parsed.ok ? { status: "failed", error, result: parsed.result } : { status: "failed", error };
}

/** Copies one stream into its tail buffer, forwarding decoded text to `onOutput`; resolves to a read error, if any. */
async function pump(reader: ChunkReader, tail: TailBuffer, stream: Stream, request: StepRunRequest): Promise<string | undefined> {
  let onOutput = request.onOutput;
  // A streaming decoder per stream, so a character split across two reads is not mangled.
  const decoder = onOutput ? new TextDecoder() : undefined;
  const emit = (text: string) => {
    if (!onOutput || text === "") return;
    try {
      onOutput({ stream, text });
    } catch (error) {
      // A broken listener must not lose the capture or the process; report it once and stop calling it.
      console.error(`onOutput threw for ${stream} of step "${request.step.name}"; live output stopped:`, error);
      onOutput = undefined;
    }
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || value === undefined) break;
      tail.push(value);
      if (decoder) emit(decoder.decode(value, { stream: true }));
    }
  } catch (error) {
    return `reading ${stream} failed: ${(error as Error).message}`;
  }
  if (decoder) emit(decoder.decode());
  return undefined;
}

/** Signals the whole process group led by `pid`; a group that is already gone is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/** Scans backwards so a megabyte of stderr is not split into an array of lines. */
function lastNonEmptyLine(text: string): string {
  let end = text.length;
  while (end > 0) {
    const start = text.lastIndexOf("\n", end - 1) + 1;
    const line = text.slice(start, end).trim();
    if (line !== "") return line.length > STDERR_LINE_MAX ? `${line.slice(0, STDERR_LINE_MAX)}…` : line;
    end = start - 1;
  }
  return "";
}
