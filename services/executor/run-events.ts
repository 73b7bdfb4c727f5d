import { chainAfter } from "../../lib/flows/chain.ts";
import { SYSTEM_TYPE_NAMESPACE } from "../../lib/protocol/event.ts";
import type { EventAccepted, RunFinished, RunStep } from "../../lib/protocol/messages.ts";

/** The event type prefix of run events; steps triggered by one emit none (no notification loops). */
export const RUN_EVENT_PREFIX = `${SYSTEM_TYPE_NAMESPACE}.run.`;
/** Run outcomes that emit a run event: the process status, or the step's own FLOW_RESULT status. */
export const NOTIFY_STATUSES: ReadonlySet<string> = new Set(["failed", "timed_out", "needs_intervention", "blocked"]);

/**
 * The `codex-flows.run.<status>` event for a run that ended failed, timed out, needing
 * intervention or blocked, or undefined (it ended otherwise, it will be retried, or it is
 * itself a run of a step triggered by a run event). Its id names the run, attempt and
 * status, so a repeat publish is a duplicate. It carries the part of the run's chain
 * budget the run left unspent (`budget`), so a chain's budget stays one through its
 * run events too. Pure: host and time arrive as inputs.
 */
export function runEventFor(
  command: RunStep,
  finished: Omit<RunFinished, "v" | "kind">,
  now: string,
  budget: number,
): EventAccepted | undefined {
  if (finished.retryInMs !== undefined || command.event.type.startsWith(RUN_EVENT_PREFIX)) return undefined;
  const status = finished.status === "completed" ? finished.result?.status : finished.status;
  if (!status || !NOTIFY_STATUSES.has(status)) return undefined;
  const message = finished.result?.message ?? finished.error ?? null;
  return {
    v: 1,
    kind: "event.accepted",
    event: {
      id: `${RUN_EVENT_PREFIX}${status}:${command.runId}:${finished.attempt}`,
      type: `${RUN_EVENT_PREFIX}${status}`,
      source: `codex-flows:run/${command.flow}/${command.step}`,
      occurredAt: finished.finishedAt,
      receivedAt: now,
      payload: {
        runId: command.runId,
        flow: command.flow,
        step: command.step,
        eventId: command.eventId,
        eventType: command.event.type,
        status,
        message: message === null ? null : message.slice(0, 2_000),
        host: finished.host,
        attempt: finished.attempt,
        link: `/runs/${command.runId}`,
      },
    },
    acceptedAt: now,
    chain: chainAfter(command, budget),
  };
}
