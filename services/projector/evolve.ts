import type { EventAccepted, EventMatched, FlowMessage, RunStep } from "../../lib/protocol/messages.ts";
import { FINAL_STATUSES } from "../../lib/protocol/status.ts";
import { approvalDecided, approvalRequested } from "./evolve-approvals.ts";
import { runCancel, runFinished, runReleased, runStarted } from "./evolve-attempts.ts";
import { flowControl, operatorActed, runDeferred, runHeld, runSuperseded, scheduleTicked } from "./evolve-waits.ts";
import { queuedRun, type ReadState, type Write } from "./writes.ts";

/**
 * The read model's whole logic: given the current rows and one stream message (with its
 * sequence), its writes: the rows to upsert, or a purge round. Pure: no clock, no I/O.
 * Idempotent for rows: a message that is applied again (a redelivery, a duplicate beyond
 * the dedup window) writes nothing new.
 */
export function evolve(state: ReadState, message: FlowMessage, seq: number): Write[] {
  switch (message.kind) {
    case "event.accepted":
      return eventAccepted(state, message, seq);
    case "event.matched":
      return eventMatched(state, message);
    case "run.step":
      return queueRun(state, message, seq);
    case "run.started":
      return runStarted(state, message, seq);
    case "run.finished":
      return runFinished(state, message, seq);
    case "run.cancel":
      return runCancel(state, message, seq);
    case "run.released":
      return runReleased(state, message, seq);
    case "run.output": {
      const { runId, attempt, chunk, stream, text, at } = message;
      const run = state.run(runId);
      if (!run || state.hasOutput(runId, attempt, chunk)) return [];
      return [
        { table: "output", row: { run_id: runId, attempt, chunk, stream, text, at, seq } },
        { table: "runs", row: { ...run, output_bytes: run.output_bytes + text.length } },
      ];
    }
    case "run.held":
      return runHeld(state, message, seq);
    case "run.deferred":
      return runDeferred(state, message, seq);
    case "run.superseded":
      return runSuperseded(state, message, seq);
    case "flow.paused":
    case "flow.resumed":
      return flowControl(message, seq);
    case "schedule.ticked":
      return scheduleTicked(message, seq);
    case "runs.purge":
      return [{ purge: message }];
    case "operator.acted":
      return operatorActed(message, seq);
    case "run.approval_requested":
      return approvalRequested(state, message, seq);
    case "run.approval_decided":
      return approvalDecided(state, message, seq);
    default: {
      const unknown: never = message;
      throw new Error(`unhandled message kind ${(unknown as { kind: string }).kind}`);
    }
  }
}

function eventAccepted(state: ReadState, message: EventAccepted, seq: number): Write[] {
  const { event } = message;
  const existing = state.event(event.id);
  const generation = message.replay?.generation ?? 0;
  // A deleted event's id accepted again is a duplicate: it never comes back as a new event.
  if (!existing && state.tombstoned(event.id)) return [];
  // The first acceptance is the event; a later one is a duplicate or a replay mark.
  if (existing) return generation > existing.generation ? [{ table: "events", row: { ...existing, generation } }] : [];
  return [
    {
      table: "events",
      row: {
        id: event.id,
        type: event.type,
        source: event.source ?? null,
        occurred_at: event.occurredAt ?? null,
        received_at: event.receivedAt,
        accepted_at: message.acceptedAt,
        payload_json: JSON.stringify(event.payload),
        seq,
        generation,
        matched_generation: null,
        matched_at: null,
        matched_count: null,
        chain_depth: message.chain?.depth ?? 0,
        parent_run_id: message.chain?.runId ?? null,
      },
    },
  ];
}

function eventMatched(state: ReadState, message: EventMatched): Write[] {
  const writes: Write[] = [
    {
      table: "matches",
      row: {
        event_id: message.eventId,
        generation: message.generation,
        matched_at: message.matchedAt,
        decisions_json: JSON.stringify(message.decisions),
      },
    },
  ];
  const event = state.event(message.eventId);
  if (event && (event.matched_generation === null || message.generation >= event.matched_generation)) {
    const matched_count = message.decisions.filter((d) => d.matched).length;
    writes.push({
      table: "events",
      row: { ...event, matched_generation: message.generation, matched_at: message.matchedAt, matched_count },
    });
  }
  return writes;
}

function queueRun(state: ReadState, command: RunStep, seq: number): Write[] {
  const existing = state.run(command.runId);
  const base = command.attemptBase ?? 0;
  // A held or debounced run reaches its queue now: it no longer says why it waits.
  if (existing?.held_reason && existing.status === "queued")
    return [{ table: "runs", row: { ...existing, held_reason: null, seq } }];
  if (existing && !(FINAL_STATUSES.has(existing.status) && base >= existing.attempt && base > 0)) return [];
  // A retried run waits again: the verdict of its last attempt (kept on that attempt) no longer asks for attention.
  if (existing)
    return [
      {
        table: "runs",
        row: {
          ...existing,
          status: "queued",
          result_status: null,
          cancel_requested_at: null,
          retry_at: null,
          updated_at: command.createdAt,
          seq,
        },
      },
    ];
  return [{ table: "runs", row: queuedRun(command, seq, null) }];
}
