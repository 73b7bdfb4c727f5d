import type {
  FlowPaused,
  FlowResumed,
  OperatorActed,
  RunDeferred,
  RunHeld,
  RunSuperseded,
  ScheduleTicked,
} from "../../lib/protocol/messages.ts";
import { queuedRun, type ReadState, type Write } from "./writes.ts";

/**
 * The read model of what makes runs wait before their queue (a paused flow, a debounce)
 * and of schedules: evolve's cases for those messages. Pure, idempotent.
 */

/** A held run is a queued run that says which pause it waits for. */
export function runHeld(state: ReadState, message: RunHeld, seq: number): Write[] {
  const existing = state.run(message.runId);
  if (existing)
    return existing.status === "queued" && existing.attempt === 0
      ? [{ table: "runs", row: { ...existing, held_reason: message.reason, seq } }]
      : [];
  return [{ table: "runs", row: queuedRun(message.command, seq, message.reason) }];
}

/** A debounced run is queued and says until when it waits for a newer event with its key. */
export function runDeferred(state: ReadState, message: RunDeferred, seq: number): Write[] {
  if (state.run(message.runId)) return [];
  const reason = `debounced: starts at ${message.dueAt} unless another event with key ${JSON.stringify(message.key)} arrives within ${message.debounceMs} ms`;
  return [{ table: "runs", row: queuedRun(message.command, seq, reason) }];
}

/** A superseded run ended without an attempt; it names the event that superseded it. */
export function runSuperseded(state: ReadState, message: RunSuperseded, seq: number): Write[] {
  const run = state.run(message.runId);
  if (run?.status !== "queued" || run.attempt > 0) return [];
  const error = `superseded by event ${message.supersededBy} (debounce)`;
  return [
    {
      table: "runs",
      row: {
        ...run,
        status: "superseded",
        superseded_by: message.supersededBy,
        held_reason: null,
        error,
        completed_at: message.at,
        updated_at: message.at,
        seq,
      },
    },
  ];
}

/** The last pause or resume of a flow or step is its state. */
export function flowControl(message: FlowPaused | FlowResumed, seq: number): Write[] {
  const reason = message.kind === "flow.paused" ? (message.reason ?? null) : null;
  return [
    {
      table: "flow_controls",
      row: {
        flow: message.flow,
        step: message.step ?? "",
        paused: message.kind === "flow.paused" ? 1 : 0,
        at: message.at,
        reason,
        seq,
      },
    },
  ];
}

export function scheduleTicked(message: ScheduleTicked, seq: number): Write[] {
  const { flow, schedule, tick, outcome, eventId, at } = message;
  return [
    {
      table: "schedule_ticks",
      row: { flow, schedule, tick, outcome, event_id: eventId, reason: message.reason ?? null, at, seq },
    },
  ];
}

/** An operator's action is one audit row, keyed by the action's id (a repeat writes the same row). */
export function operatorActed(message: OperatorActed, seq: number): Write[] {
  const { actionId, action, actor, at, target, summary } = message;
  const row = {
    action_id: actionId,
    seq,
    at,
    actor,
    action,
    run_id: target.runId ?? null,
    event_id: target.eventId ?? null,
    flow: target.flow ?? null,
    step: target.step ?? null,
    summary,
    reason: message.reason ?? null,
    action_seq: message.seq ?? null,
  };
  return [{ table: "audit", row }];
}
