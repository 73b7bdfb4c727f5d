import {
  approvalRequest,
  awaitingApprovalEvent,
  DEFAULT_APPROVAL,
  type StepApproval,
} from "../../lib/flows/approval.ts";
import { type ChainLimits, chainedEvents, runBudget } from "../../lib/flows/chain.ts";
import type { StepPolicy } from "../../lib/flows/step-policy.ts";
import type { Logger } from "../../lib/log.ts";
import type { Disposition } from "../../lib/nats/consume.ts";
import type { Publish } from "../../lib/nats/publish.ts";
import { NEXT_NOT_STARTED } from "../../lib/protocol/flow-result.ts";
import { type EventAccepted, encodeMessage, type RunFinished, type RunStep } from "../../lib/protocol/messages.ts";
import { tailOf } from "../../lib/runners/capture.ts";
import type { StepOutcome } from "../../lib/runners/types.ts";
import { inSpan, SpanKind } from "../../lib/tracing/tracing.ts";
import { eventsThatFit, withResultThatFits } from "./fit.ts";
import { isRetryable, retryAfter } from "./retry.ts";
import { chainedAttributes } from "./trace.ts";

/** Publishes an attempt's final record (and the run event before it); `unspent` is what the run leaves of its chain's budget. */
export type Finish = (
  fields: Omit<RunFinished, "v" | "kind" | "runId" | "host" | "attempt">,
  unspent?: number,
) => Promise<void>;

/**
 * Records how a step that ran ended: its result sized to fit, its retry (the step's
 * policy), the `next` events it started (published first, each fitted), then the attempt's
 * record with the output tails; acks, or naks with the retry's delay.
 */
/** What recording an outcome needs of the attempt's dependencies. */
type RecordDeps = { payloadLimit(): number; chainLimits: ChainLimits; outputTailBytes: number; log: Logger };

export async function recordOutcome(
  deps: RecordDeps,
  command: RunStep,
  attempt: number,
  ran: StepOutcome,
  known: { policy: StepPolicy; approval?: StepApproval; lastFinished: RunFinished | undefined },
  publish: Publish,
  finish: Finish,
): Promise<Disposition> {
  const { log } = deps;
  const { lastFinished } = known;
  const limit = deps.payloadLimit();
  const outcome = withResultThatFits(ran, limit);
  const failuresBefore = lastFinished?.failures ?? 0;
  const retryInMs = retryAfter(outcome, known.policy, failuresBefore);
  const proposed =
    outcome.status === "completed"
      ? chainedEvents(outcome.result, command, outcome.finishedAt, deps.chainLimits)
      : { events: [], problems: [], unspent: runBudget(command, deps.chainLimits) };
  const fitting = eventsThatFit(proposed.events, limit);
  const chained = { events: fitting.events, problems: [...proposed.problems, ...fitting.problems] };
  // A result that asks for approval holds its `next` events in the request (released by the approver once approved).
  const asks = outcome.status === "completed" && retryInMs === undefined ? outcome.result?.approval : undefined;
  if (asks) {
    const gated = await askApproval(command, attempt, chained.events, asks.reason ?? outcome.result?.message, {
      approval: known.approval ?? DEFAULT_APPROVAL,
      limit,
      publish,
    });
    if (gated) chained.problems.push(gated);
    chained.events = [];
  }
  for (const accepted of chained.events) {
    await inSpan("accept", { kind: SpanKind.PRODUCER, attributes: () => chainedAttributes(accepted) }, () =>
      publish(accepted),
    );
  }
  const stdout = tailOf(outcome.stdout, deps.outputTailBytes);
  const stderr = tailOf(outcome.stderr, deps.outputTailBytes);
  const error = [outcome.error, ...chained.problems].filter(Boolean).join("; ");
  await finish(
    {
      status: outcome.status,
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      ...(outcome.result ? { result: outcome.result } : {}),
      ...(error ? { error } : {}),
      stdout: stdout.text,
      stderr: stderr.text,
      stdoutTruncated: outcome.stdoutTruncated || stdout.truncated,
      stderrTruncated: outcome.stderrTruncated || stderr.truncated,
      startedAt: outcome.startedAt,
      finishedAt: outcome.finishedAt,
      durationMs: outcome.durationMs,
      failures: failuresBefore + (isRetryable(outcome) ? 1 : 0),
      ...(retryInMs !== undefined ? { retryInMs } : {}),
      ...(chained.events.length > 0 ? { next: chained.events.map((e) => e.event.id) } : {}),
      ...(outcome.unit ? { unit: outcome.unit } : {}),
    },
    proposed.unspent,
  );
  log.info("run finished", {
    runId: command.runId,
    flow: command.flow,
    step: command.step,
    attempt,
    status: outcome.status,
    ms: Math.round(outcome.durationMs),
    ...(retryInMs !== undefined ? { retryInMs } : {}),
  });
  return retryInMs === undefined ? "ack" : { nak: retryInMs };
}

/**
 * Opens a result gate: the request holding the `next` events, then the
 * `codex-flows.run.awaiting_approval` event. A request over max_payload holds no event
 * (the run's error says so, as for any cut `next`); returns that problem, if any.
 */
async function askApproval(
  command: RunStep,
  attempt: number,
  next: EventAccepted[],
  reason: string | undefined,
  how: { approval: StepApproval; limit: number; publish: Publish },
): Promise<string | undefined> {
  const now = new Date().toISOString();
  let request = approvalRequest({ gate: "result", command, attempt, next, reason }, how.approval, now);
  let problem: string | undefined;
  const bytes = Buffer.byteLength(encodeMessage(request));
  if (bytes > how.limit) {
    problem = `next events ${NEXT_NOT_STARTED} the approval request holding them is ${bytes} bytes, over the limit of ${how.limit}`;
    request = { ...request, next: [] };
  }
  await how.publish(request);
  const asked = awaitingApprovalEvent(request, command, now);
  if (asked) await how.publish(asked);
  return problem;
}

/**
 * Whether a fenced step was stopped by the fence rather than ending on its own, read from
 * its outcome whatever the runner and executor: its runner stopped it for the fence
 * (`stoppedBy`), or this host's guard killed it while the executor was frozen (`guardKilled`:
 * the guard's note), which the step, or its systemd-run client, died of (SIGKILL).
 */
export function stoppedByFence(ran: Pick<StepOutcome, "stoppedBy" | "signal">, guardKilled: boolean): boolean {
  return ran.stoppedBy === "fenced" || (guardKilled && ran.signal === "SIGKILL");
}

/** An attempt that ends before any step process starts. */
export function noRun(
  status: RunFinished["status"],
  error: string,
): Omit<RunFinished, "v" | "kind" | "runId" | "host" | "attempt"> {
  const now = new Date().toISOString();
  return {
    status,
    exitCode: null,
    signal: null,
    error,
    stdout: "",
    stderr: "",
    stdoutTruncated: false,
    stderrTruncated: false,
    startedAt: now,
    finishedAt: now,
    durationMs: 0,
  };
}
