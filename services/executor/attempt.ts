import type { JsMsg } from "@nats-io/jetstream";
import { runBudget } from "../../lib/flows/chain.ts";
import { type Disposition, HAND_BACK_DELAY_MS, redeliveryDelayMs } from "../../lib/nats/consume.ts";
import { lastMessage } from "../../lib/nats/last-message.ts";
import { fenceAfterMs, holdLease, type Lease } from "../../lib/nats/lease.ts";
import { type Publish, publisher, retrying } from "../../lib/nats/publish.ts";
import type { RunFinished, RunStep } from "../../lib/protocol/messages.ts";
import { executeStep } from "../../lib/runners/index.ts";
import type { StepOutcome } from "../../lib/runners/types.ts";
import { annotate, inSpan, SpanKind } from "../../lib/tracing/tracing.ts";
import type { AttemptDeps } from "./attempt-deps.ts";
import { type AbortReason, decideAttempt } from "./decide.ts";
import { encodeFinished } from "./fit.ts";
import { LocalWriteError, localWriteReason } from "./local-write.ts";
import { liveOutput } from "./output.ts";
import { type Finish, noRun, recordOutcome, stoppedByFence } from "./record.ts";
import { runEventFor } from "./run-events.ts";
import { attemptAttributes, finishedAttributes, recordQueueWait, stepTraceEnv } from "./trace.ts";

export type { AttemptDeps } from "./attempt-deps.ts";
export type { AbortReason } from "./decide.ts";

/**
 * Handles one delivery of a run command: skips it when the run already ended or was
 * canceled after the command was queued, gives up when too many attempts in a row ended
 * without a result (their executors died), otherwise runs the step, publishes what it
 * started (`next` events), then the attempt's record, and only then acks, or naks with
 * the backoff delay when the step will be retried. The lease is renewed all along; when
 * renewals go unanswered the attempt fences itself (kills the step at once, records
 * `fenced` once it can publish) and leaves the delivery to the host that gets it next.
 * A step that ran to its end before it was fenced is not run again: its record is
 * published (retried until it is) and a redelivery finds it. A delivery of a run this
 * executor still handles (its lease passed while it was frozen or cut off) is handed
 * back, never run beside it.
 */
export async function handleCommand(deps: AttemptDeps, command: RunStep, message: JsMsg): Promise<Disposition> {
  const { hostId, log } = deps;
  const base = command.attemptBase ?? 0;
  const attempt = base + message.info.deliveryCount;
  if (deps.inflight.has(command.runId)) {
    log.warn("a delivery of a run this executor still handles: handed back", { runId: command.runId, attempt });
    return { nak: HAND_BACK_DELAY_MS };
  }
  const controller = new AbortController();
  // Fencing kills the step at once (no grace, every runner) and does not cancel it: the outcome says whether it was stopped.
  const fence = new AbortController();
  const lease = holdLease(deps.nc, message, deps.ackWaitMs, (silentMs) => {
    log.warn("no lease renewal answered: fencing the step so that another host can take it", {
      runId: command.runId,
      attempt,
      silentMs,
    });
    fence.abort();
  });
  // The attempt's records must reach the log: the lease is kept and the publish retried until they do.
  const publish = retrying(publisher(deps), {
    tries: 60,
    onRetry: (error, tries, message) => {
      log.warn("publish failed; retrying", { kind: message.kind, runId: command.runId, tries, error });
      lease.renewNow();
    },
  });
  // Unless told what the result's `next` left, the run started nothing and leaves its whole share.
  const finish = async (
    fields: Omit<RunFinished, "v" | "kind" | "runId" | "host" | "attempt">,
    unspent = runBudget(command, deps.chainLimits),
  ) => {
    const finished: RunFinished = {
      v: 1,
      kind: "run.finished",
      runId: command.runId,
      attempt,
      host: hostId,
      ...fields,
    };
    annotate(() => finishedAttributes(fields));
    // The run event goes first: once the record is written, a redelivery would not emit it.
    const runEvent = runEventFor(command, finished, new Date().toISOString(), unspent);
    if (runEvent) await publish(runEvent);
    // Sized before publishing: a record over max_payload would be refused on every attempt.
    const body = encodeFinished(finished, deps.payloadLimit());
    await publish(finished, { body });
  };

  // Registered before anything is awaited, so a cancel that arrives from here on reaches this attempt.
  deps.inflight.set(command.runId, controller);
  try {
    recordQueueWait(command, message.info.deliveryCount);
    const spanned = {
      kind: SpanKind.CONSUMER,
      attributes: () => attemptAttributes(command, attempt, hostId, message.subject),
    };
    const disposition = await inSpan("attempt", spanned, () =>
      attemptRun(deps, message, command, attempt, { controller, fence: fence.signal, lease }, finish, publish),
    );
    // A delivery whose lease was given up is someone else's now: acking or naking it would touch theirs.
    return lease.fenced() ? { abandon: `fenced on ${hostId}` } : disposition;
  } catch (error) {
    if (lease.fenced()) return { abandon: `fenced on ${hostId}: ${String(error)}` };
    throw error;
  } finally {
    lease.release();
    deps.inflight.delete(command.runId);
  }
}

/** What may end an attempt early: a cancel or shutdown (`controller`), or its lease given up (`fence` aborts). */
type Stops = { controller: AbortController; fence: AbortSignal; lease: Lease };

async function attemptRun(
  deps: AttemptDeps,
  message: JsMsg,
  command: RunStep,
  attempt: number,
  stops: Stops,
  finish: Finish,
  publish: Publish,
): Promise<Disposition> {
  const { subjects, hostId, log } = deps;
  const { controller, fence, lease } = stops;
  const [finished, cancel] = await Promise.all([
    lastMessage(deps, subjects.run(command.runId, "finished")),
    lastMessage(deps, subjects.run(command.runId, "cancel")),
  ]);
  const decision = decideAttempt({
    command,
    attempt,
    seq: message.seq,
    finished,
    cancel,
    aborted: controller.signal.reason as AbortReason | undefined,
    fenced: fence.aborted,
    found: deps.catalog.find(command.flow, command.step),
    hostId,
    maxLostAttempts: deps.maxLostAttempts,
  });
  if (decision.kind === "handBack") return { nak: HAND_BACK_DELAY_MS };
  if (decision.kind === "abandon") return { abandon: decision.reason };
  if (decision.kind !== "run") {
    // A skip only acks; a cancel or a give-up records the attempt first.
    if (decision.kind !== "skip")
      await finish(noRun(decision.kind === "cancel" ? "canceled" : "failed", decision.error));
    return "ack";
  }
  const { found, lastFinished } = decision;

  // A local write that fails (a full disk) is no result of the step's: recorded as itself, retried with backoff, never a lost attempt.
  let localError: LocalWriteError | undefined;
  const retryLocally = async (error: LocalWriteError): Promise<Disposition> => {
    const retryInMs = redeliveryDelayMs(message.info.deliveryCount);
    log.error("a local write failed before the step started; retrying", {
      runId: command.runId,
      attempt,
      retryInMs,
      error: error.message,
    });
    await finish({
      ...noRun("failed", localWriteReason(error, hostId, retryInMs)),
      failures: lastFinished?.failures ?? 0,
      retryInMs,
    });
    return { nak: retryInMs };
  };
  try {
    deps.ledger?.probe(command.runId, attempt);
  } catch (error) {
    if (error instanceof LocalWriteError) return await retryLocally(error);
    throw error;
  }

  let ran: StepOutcome;
  const started = {
    v: 1 as const,
    kind: "run.started" as const,
    runId: command.runId,
    attempt,
    host: hostId,
    startedAt: new Date().toISOString(),
    executor: deps.executorKind,
  };
  await publish(started);
  const recordFenced = async (what: string) => {
    const fenced = {
      v: 1 as const,
      kind: "run.released" as const,
      runId: command.runId,
      attempt,
      host: hostId,
      releasedAt: new Date().toISOString(),
      reason: `fenced on ${hostId}: ${what}`,
      fenced: true,
    };
    await publish(fenced);
    return { abandon: "fenced" } satisfies Disposition;
  };
  const cutOff = `no lease renewal answered for ${fenceAfterMs(deps.ackWaitMs)} ms (cut off from NATS)`;
  // Fenced while the started record was being written (retried through an outage): the step never starts.
  if (fence.aborted) return await recordFenced(`${cutOff}; the step was not started`);
  const env = { CODEX_FLOW_REPLAY: command.generation > 0 ? "1" : undefined, ...stepTraceEnv() };
  let launchedPid: number | undefined;
  // How long the executor was silent when this host's guard killed the step (it was frozen).
  let guardFencedMs: number | undefined;
  // Kills the step at once when its ledger entry cannot be written (as the fence does).
  const unrecorded = new AbortController();
  const live = liveOutput(publisher(deps), command.runId, attempt, deps.liveOutputBytes, log);
  try {
    ran = await executeStep({
      ...found,
      event: command.event,
      runId: command.runId,
      attempt,
      env,
      signal: controller.signal,
      kill: AbortSignal.any([fence, unrecorded.signal]),
      killGraceMs: deps.killGraceMs,
      outputCapBytes: deps.outputCapBytes,
      onOutput: live.write,
      executor: deps.executorKind,
      ...(deps.forwardEnv ? { forwardEnv: deps.forwardEnv } : {}),
      envDeny: deps.stepEnvDeny,
      onLaunch: (pid, unit) => {
        launchedPid = pid;
        try {
          deps.ledger?.record(pid, command.runId, attempt, unit);
        } catch (error) {
          // Unrecorded, no guard could end it if we died: it goes at once (the disk filled since the probe).
          localError = error as LocalWriteError;
          unrecorded.abort();
        }
      },
    });
  } finally {
    if (launchedPid !== undefined) {
      guardFencedMs = deps.ledger?.guardFenced(launchedPid);
      deps.ledger?.forget(launchedPid);
    }
    await live.close();
  }
  // The guard fenced while this executor was frozen: the lease may be another host's already.
  if (guardFencedMs !== undefined) lease.giveUp();
  const fencedMidStep = fence.aborted;

  if (localError) return await retryLocally(localError);
  if (controller.signal.reason === "shutdown") {
    const released = {
      v: 1 as const,
      kind: "run.released" as const,
      runId: command.runId,
      attempt,
      host: hostId,
      releasedAt: new Date().toISOString(),
      reason: `executor on ${hostId} shut down before the step finished; handed back`,
    };
    await publish(released);
    return { nak: HAND_BACK_DELAY_MS };
  }
  // Stopped by the fence, or ran to its end (then its record below says how it ended, and a redelivery finds it).
  if (fencedMidStep && stoppedByFence(ran, guardFencedMs !== undefined)) {
    return await recordFenced(
      guardFencedMs !== undefined
        ? `the executor did not run for ${guardFencedMs} ms (frozen: no heartbeat reached its guard), so its guard killed the step before its lease could pass to another host`
        : `${cutOff}; the step was killed before its lease could pass to another host`,
    );
  }

  return await recordOutcome(
    deps,
    command,
    attempt,
    ran,
    { policy: found.step.policy, approval: found.step.approval, lastFinished },
    publish,
    finish,
  );
}
