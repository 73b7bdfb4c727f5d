import { AppServerClient } from "../codex/client.ts";
import {
  APP_SERVER_ARGS,
  agentMessageText,
  CODE_MODE_EXECUTE,
  codeModeSource,
  isUnknownMethod,
  missingCodeModeError,
} from "../codex/code-mode.ts";
import { ConnectionClosedError } from "../codex/jsonrpc.ts";
import type { Turn } from "../codex/protocol.ts";
import { parseFlowResult } from "../protocol/flow-result.ts";
import { stepEnvironment } from "./environment.ts";
import { launchStep } from "./launch.ts";
import { cannotStart, lastNonEmptyLine, NO_OUTPUT, outcomeTimer, StepOutput } from "./output.ts";
import type { StepOutcome, StepRunRequest } from "./types.ts";

const ENABLED_VALUES = new Set(["1", "true", "yes", "on"]);
/** How codex-flows introduces itself in `initialize` (it becomes the server's userAgent prefix). */
const CLIENT = { name: "codex-flows", version: "0.1.0" };
const DRAIN_MS = 2000;
/** After the server's output closes, how long its exit may take before the failure is not blamed on a crash. */
const EXIT_AFTER_CLOSE_MS = 1000;

type Verdict = Pick<StepOutcome, "status" | "result" | "error">;
type Settled =
  | { kind: "done"; verdict: Verdict }
  | { kind: "threw"; error: unknown }
  | { kind: "timed_out" }
  | { kind: "canceled" };

/** True when CODEX_FLOWS_ENABLE_CODE_MODE is 1, true, yes or on (any case): Code Mode is opt-in (seed: flows.md). */
export function codeModeEnabled(env: Record<string, string | undefined> = process.env): boolean {
  return ENABLED_VALUES.has((env.CODEX_FLOWS_ENABLE_CODE_MODE ?? "").trim().toLowerCase());
}

/**
 * Runs one attempt of a `runner = "code-mode"` step: starts `codex app-server` (the
 * command in CODEX_APP_SERVER_CODEX_COMMAND, default `codex`), starts a thread in the
 * step's working directory, sends the step's source to the fork-only
 * `thread/codeMode/execute` behind a prelude defining `flow` and `result()`, streams the
 * output deltas, waits for the thread's `turn/completed` within timeout_ms and parses
 * FLOW_RESULT from the thread's agent messages. The app-server is always ended.
 */
export async function runCodeModeStep(request: StepRunRequest): Promise<StepOutcome> {
  const { flow, step, event } = request;
  const finish = outcomeTimer(new Date());
  const failed = (error: string) => finish({ status: "failed", exitCode: null, signal: null, error, ...NO_OUTPUT });
  const { env, stepEnv } = stepEnvironment(request);
  if (!codeModeEnabled(env))
    return failed(
      `code-mode runner is disabled: set CODEX_FLOWS_ENABLE_CODE_MODE=1 to run step "${step.name}" of flow "${flow.name}"`,
    );
  const early = cannotStart(request, finish);
  if (early) return early;

  const body = await Bun.file(step.scriptPath).text();
  const source = codeModeSource(
    { name: flow.name, version: flow.version, root: flow.root, step: step.name, config: flow.config, event },
    body,
  );
  const command = env.CODEX_APP_SERVER_CODEX_COMMAND?.trim() || "codex";
  const launch = launchStep(request, { argv: [command, ...APP_SERVER_ARGS], env, stepEnv, stdin: "pipe" });
  if (!launch.ok)
    return failed(
      `${launch.error} (the Codex CLI comes from the npm package @openai/codex; CODEX_APP_SERVER_CODEX_COMMAND picks the build)`,
    );
  const { launched } = launch;
  const { child } = launched;

  const output = new StepOutput(request);
  const stderr = child.stderr.getReader();
  const stderrDone = output.pump(stderr, "stderr");
  const client = new AppServerClient({ stdin: child.stdin, stdout: child.stdout });
  const session: { threadId?: string } = {};
  const settled = await settle(request, drive(client, request, source, command, session, output));

  // A crash shows as a closed connection; wait briefly for the exit that explains it.
  const crashed =
    settled.kind === "threw" &&
    settled.error instanceof ConnectionClosedError &&
    (await exitsWithin(child, EXIT_AFTER_CLOSE_MS));
  // Always end the app-server: its turn is over, or it must not go on without us (a cancel or a fence stopped it already: launchStep).
  if (settled.kind === "timed_out") launched.stop("timeout");
  launched.end();
  await child.exited;
  await launched.reap();
  const drainProblem = await drain(stderrDone, () => stderr.cancel());

  const tails = output.tails();
  const verdict = verdictOf(settled, crashed, child, tails.stderr, request);
  const problems = [
    verdict.error,
    drainProblem,
    ...launched.problems,
    ...(verdict.status === "completed" ? [] : client.problems.slice(0, 3)),
  ].filter((p): p is string => p !== undefined);
  return finish({
    status: verdict.status,
    exitCode: crashed ? child.exitCode : null,
    signal: crashed && child.signalCode !== null ? String(child.signalCode) : null,
    ...(verdict.result ? { result: verdict.result } : {}),
    ...(problems.length > 0 ? { error: problems.join("; ") } : {}),
    pid: child.pid,
    ...(launched.unit !== undefined ? { unit: launched.unit } : {}),
    ...(launched.stoppedBy !== undefined ? { stoppedBy: launched.stoppedBy } : {}),
    ...(session.threadId !== undefined ? { codexThreadId: session.threadId } : {}),
    ...tails,
  });
}

/** The JSON-RPC conversation of one attempt, from `initialize` to the parsed FLOW_RESULT. */
async function drive(
  client: AppServerClient,
  request: StepRunRequest,
  source: string,
  command: string,
  session: { threadId?: string },
  output: StepOutput,
): Promise<Verdict> {
  let threadId: string | undefined;
  const turnDone = Promise.withResolvers<Turn>();
  turnDone.promise.catch(() => {}); // awaited only once the source is running
  const agentItems: string[] = [];
  const agentDeltas: string[] = [];
  client.on("turn/completed", (params) => params.threadId === threadId && turnDone.resolve(params.turn));
  client.on("item/agentMessage/delta", (params) => {
    if (params.threadId !== threadId) return;
    agentDeltas.push(params.delta);
    output.write("stdout", params.delta);
  });
  client.on(
    "item/commandExecution/outputDelta",
    (params) => params.threadId === threadId && output.write("stdout", params.delta),
  );
  client.on(
    "item/completed",
    ({ threadId: id, item }) =>
      id === threadId && item.type === "agentMessage" && item.text !== undefined && agentItems.push(item.text),
  );
  // The turn is not a request, so a server that dies mid-turn must end this wait too.
  void client.done.then(() =>
    turnDone.reject(new ConnectionClosedError("turn/completed", "the server closed its output")),
  );

  const init = await client.initialize(CLIENT.name, CLIENT.version);
  const started = await client.request("thread/start", {
    cwd: request.step.workingDirectory,
    approvalPolicy: "never",
    sandbox: "danger-full-access",
    ephemeral: false,
  });
  threadId = session.threadId = started.thread.id;
  try {
    await client.request(CODE_MODE_EXECUTE, { threadId, source });
  } catch (error) {
    if (isUnknownMethod(error, CODE_MODE_EXECUTE))
      return { status: "failed", error: missingCodeModeError(command, init.userAgent) };
    throw error;
  }
  const turn = await turnDone.promise;

  // The thread is the record; the notifications are the fallback for a server whose thread/read cannot list turns.
  let readProblem: string | undefined;
  let text = "";
  try {
    const read = await client.request("thread/read", { threadId, includeTurns: true });
    text = agentMessageText(read.thread.turns ?? [], turn.id);
  } catch (error) {
    readProblem = (error as Error).message;
  }
  text ||= agentItems.join("\n") || agentDeltas.join("");
  return turnVerdict(turn, text, readProblem);
}

function turnVerdict(turn: Turn, text: string, readProblem: string | undefined): Verdict {
  const parsed = parseFlowResult(text);
  if (turn.status === "failed" || turn.status === "interrupted") {
    const error = `the Code Mode turn ${turn.status}${turn.error?.message ? `: ${turn.error.message}` : ""}`;
    return parsed.ok ? { status: "failed", error, result: parsed.result } : { status: "failed", error };
  }
  if (parsed.ok) return { status: "completed", result: parsed.result };
  if (!/^FLOW_RESULT /m.test(text)) {
    const read = readProblem ? ` (${readProblem})` : "";
    return {
      status: "failed",
      error: `the step ended without calling result(...): no FLOW_RESULT line in the thread's agent messages${read}`,
    };
  }
  return { status: "failed", error: parsed.error };
}

/** Races the conversation against the step's timeout and the abort signal (which stops the app-server itself: launchStep). */
async function settle(request: StepRunRequest, work: Promise<Verdict>): Promise<Settled> {
  let timer: Timer | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<Settled>((resolve) => {
    timer = setTimeout(() => resolve({ kind: "timed_out" }), request.step.timeoutMs);
    onAbort = () => resolve({ kind: "canceled" });
    request.signal?.addEventListener("abort", onAbort, { once: true });
    // A cancel that came while the app-server was being launched did not reach the listener.
    if (request.signal?.aborted) onAbort();
  });
  const done = work.then(
    (verdict): Settled => ({ kind: "done", verdict }),
    (error: unknown): Settled => ({ kind: "threw", error }),
  );
  try {
    return await Promise.race([done, stopped]);
  } finally {
    clearTimeout(timer);
    if (onAbort) request.signal?.removeEventListener("abort", onAbort);
  }
}

function verdictOf(
  settled: Settled,
  crashed: boolean,
  child: Bun.Subprocess,
  stderr: string,
  request: StepRunRequest,
): Verdict {
  switch (settled.kind) {
    case "done":
      return settled.verdict;
    case "timed_out":
      return { status: "timed_out", error: `step timed out after ${request.step.timeoutMs} ms` };
    case "canceled":
      return { status: "canceled", error: "canceled" };
    case "threw": {
      if (!crashed) return { status: "failed", error: `codex app-server: ${(settled.error as Error).message}` };
      const how =
        child.signalCode !== null ? `was killed by ${child.signalCode}` : `exited with code ${child.exitCode}`;
      const line = errorLine(stderr);
      return { status: "failed", error: `codex app-server ${how} before the step finished${line ? `: ${line}` : ""}` };
    }
    default: {
      const unknown: never = settled;
      throw new Error(`unknown settlement: ${JSON.stringify(unknown)}`);
    }
  }
}

/** Codex prints `Error: <why>` and then a backtrace of `<unknown>` frames: the error line is the one worth showing. */
function errorLine(stderr: string): string {
  const matches = stderr.match(/^Error: .*$/gm);
  return matches ? lastNonEmptyLine(matches[matches.length - 1]!) : lastNonEmptyLine(stderr);
}

async function exitsWithin(child: Bun.Subprocess, ms: number): Promise<boolean> {
  let timer: Timer | undefined;
  const exited = await Promise.race([
    child.exited.then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return exited;
}

async function drain(done: Promise<string | undefined>, cancel: () => Promise<void>): Promise<string | undefined> {
  let timer: Timer | undefined;
  const result = await Promise.race([
    done.then((problem) => ({ problem })),
    new Promise<undefined>((resolve) => (timer = setTimeout(resolve, DRAIN_MS))),
  ]);
  clearTimeout(timer);
  if (result !== undefined) return result.problem;
  await cancel();
  return `stderr still open ${DRAIN_MS} ms after the app-server exited (held by a process it started); capture cut short`;
}
