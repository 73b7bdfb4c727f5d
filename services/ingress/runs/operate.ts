import type { RunCancelRequested, RunStep } from "../../../lib/protocol/messages.ts";
import { FINAL_STATUSES } from "../../../lib/protocol/status.ts";
import type { EventsTable, RunsTable } from "../../../lib/read-model/tables.ts";
import { operatorAction } from "../audit/record.ts";
import { checkScope } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { eventFromRow } from "../events/present.ts";
import { waitForSeq } from "../read-your-writes.ts";
import type { RunView } from "./present.ts";
import { runsById } from "./queries.ts";

/** How long a cancel waits for a running step to be stopped before answering (the executor has 2 s). */
const CANCEL_SETTLE_MS = 5_000;

/** Who asks, and why (the audit log records both). */
export type Asked = { request: Request; reason?: string };

/** The run as the API shows it, or 404. */
export async function currentRun(deps: IngressDeps, runId: string): Promise<RunView> {
  const [run] = await runsById(deps.db, [runId]);
  if (!run) throw new HttpError(404, `no run with id ${JSON.stringify(runId)}`);
  return run;
}

/**
 * Cancels a run that has not ended: a queued run (or one awaiting approval) never starts, a running one has its
 * process tree ended by whichever executor runs it. Answers with the run once the
 * cancel is in the read model (and, for a running run, once it stopped or a bound passed).
 */
export async function cancelRun(deps: IngressDeps, runId: string, asked: Asked): Promise<RunView> {
  const run = await currentRun(deps, runId);
  checkScope(asked.request, run.flowName, `run ${runId}`);
  if (FINAL_STATUSES.has(run.status))
    throw new HttpError(409, `run ${runId} already ended (${run.status}); there is nothing to cancel`);
  if (run.cancelRequestedAt)
    throw new HttpError(409, `run ${runId} is already being canceled (requested at ${run.cancelRequestedAt})`);
  const request: RunCancelRequested = {
    v: 1,
    kind: "run.cancel",
    runId,
    requestedAt: new Date().toISOString(),
    reason: asked.reason ?? "requested through the API",
  };
  const action = operatorAction(deps, asked.request, {
    action: "cancel",
    target: { runId, eventId: run.eventId, flow: run.flowName, step: run.stepName },
    summary: `POST /runs/${runId}/cancel`,
    reason: asked.reason,
  });
  const { seq } = await action.publish(request, { after: run.attempt });
  await action.record();
  await waitForSeq(deps.db, seq, deps.waitTimeoutMs, deps.changes);
  const deadline = Date.now() + CANCEL_SETTLE_MS;
  for (;;) {
    const now = await currentRun(deps, runId);
    if (FINAL_STATUSES.has(now.status) || Date.now() > deadline) return now;
    await deps.changes.next(200, run.eventId);
  }
}

/** What a retry of a run needs of it. */
export type RetriedRun = Pick<
  RunsTable,
  "id" | "event_id" | "generation" | "flow_name" | "flow_version" | "step_name" | "runner" | "queue" | "attempt"
>;

/** The command that starts a new attempt of `run`, numbered after its last, with the step's whole retry budget again. */
export function retryCommand(run: RetriedRun, event: EventsTable): RunStep {
  return {
    v: 1,
    kind: "run.step",
    runId: run.id,
    eventId: run.event_id,
    generation: run.generation,
    flow: run.flow_name,
    flowVersion: run.flow_version,
    step: run.step_name,
    runner: run.runner,
    queue: run.queue,
    event: eventFromRow(event),
    createdAt: new Date().toISOString(),
    chainDepth: event.chain_depth,
    attemptBase: run.attempt,
  };
}

/**
 * Starts a new attempt of a run that ended: a new command on the run's queue, numbered
 * after its last attempt, with the step's whole retry budget again.
 */
export async function retryRun(deps: IngressDeps, runId: string, asked: Asked): Promise<RunView> {
  const run = await currentRun(deps, runId);
  checkScope(asked.request, run.flowName, `run ${runId}`);
  if (!FINAL_STATUSES.has(run.status))
    throw new HttpError(409, `run ${runId} is ${run.status}; only a run that ended can be retried`);
  const event = await deps.db.selectFrom("events").selectAll().where("id", "=", run.eventId).executeTakeFirst();
  if (!event)
    throw new HttpError(409, `run ${runId}'s event ${run.eventId} is not in the read model; it cannot be retried`);
  const command = retryCommand(
    {
      id: runId,
      event_id: run.eventId,
      generation: run.generation,
      flow_name: run.flowName,
      flow_version: run.flowVersion,
      step_name: run.stepName,
      runner: run.runner,
      queue: run.queue,
      attempt: run.attempt,
    },
    event,
  );
  const action = operatorAction(deps, asked.request, {
    action: "retry",
    target: { runId, eventId: run.eventId, flow: run.flowName, step: run.stepName },
    summary: `POST /runs/${runId}/retry (attempt ${run.attempt + 1})`,
    reason: asked.reason,
  });
  const { seq } = await action.publish(command);
  await action.record();
  await waitForSeq(deps.db, seq, deps.waitTimeoutMs, deps.changes);
  return await currentRun(deps, runId);
}
