import { FINAL_STATUSES } from "../../lib/protocol/status.ts";
import type { RunsTable } from "../../lib/read-model/database.ts";
import type { EventAccepted, EventMatched, FlowMessage, RunCancelRequested, RunFinished, RunReleased, RunStarted, RunStep } from "../../lib/protocol/messages.ts";
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
      row: { event_id: message.eventId, generation: message.generation, matched_at: message.matchedAt, decisions_json: JSON.stringify(message.decisions) },
    },
  ];
  const event = state.event(message.eventId);
  if (event && (event.matched_generation === null || message.generation >= event.matched_generation)) {
    const matched_count = message.decisions.filter((d) => d.matched).length;
    writes.push({ table: "events", row: { ...event, matched_generation: message.generation, matched_at: message.matchedAt, matched_count } });
  }
  return writes;
}

function queueRun(state: ReadState, command: RunStep, seq: number): Write[] {
  const existing = state.run(command.runId);
  const base = command.attemptBase ?? 0;
  // A held or debounced run reaches its queue now: it no longer says why it waits.
  if (existing?.held_reason && existing.status === "queued") return [{ table: "runs", row: { ...existing, held_reason: null, seq } }];
  if (existing && !(FINAL_STATUSES.has(existing.status) && base >= existing.attempt && base > 0)) return [];
  // A retried run waits again: the verdict of its last attempt (kept on that attempt) no longer asks for attention.
  if (existing) return [{ table: "runs", row: { ...existing, status: "queued", result_status: null, cancel_requested_at: null, retry_at: null, updated_at: command.createdAt, seq } }];
  return [{ table: "runs", row: queuedRun(command, seq, null) }];
}


function runStarted(state: ReadState, message: RunStarted, seq: number): Write[] {
  const run = state.run(message.runId);
  if (!run || message.attempt < run.attempt || state.attempt(message.runId, message.attempt)) return [];
  const writes: Write[] = lostBefore(state, run, message.attempt);
  writes.push({
    table: "attempts",
    row: {
      run_id: message.runId,
      attempt: message.attempt,
      host: message.host,
      status: "running",
      started_at: message.startedAt,
      completed_at: null,
      exit_code: null,
      signal: null,
      error: null,
      result_status: null,
      duration_ms: null,
      unit: null,
    },
  });
  writes.push({
    table: "runs",
    row: { ...run, status: "running", result_status: null, retry_at: null, attempt: message.attempt, host: message.host, executor: message.executor ?? run.executor, started_at: message.startedAt, completed_at: null, updated_at: message.startedAt, seq },
  });
  return writes;
}

function runFinished(state: ReadState, message: RunFinished, seq: number): Write[] {
  const run = state.run(message.runId);
  const attempt = state.attempt(message.runId, message.attempt);
  if (!run || (attempt && attempt.completed_at !== null)) return [];
  // An executor that finds a run already canceled before it started reports it; the run said so already.
  if (!attempt && message.status === "canceled" && FINAL_STATUSES.has(run.status)) return [];
  const resultStatus = message.result?.status ?? null;
  const writes: Write[] = [
    ...lostBefore(state, run, message.attempt),
    {
      table: "attempts",
      row: {
        run_id: message.runId,
        attempt: message.attempt,
        host: message.host,
        status: message.status,
        started_at: attempt?.started_at ?? message.startedAt,
        completed_at: message.finishedAt,
        exit_code: message.exitCode,
        signal: message.signal,
        error: message.error ?? null,
        result_status: resultStatus,
        duration_ms: message.durationMs,
        unit: message.unit ?? attempt?.unit ?? null,
      },
    },
  ];
  // A late finish of an older attempt is history; the run shows its newest attempt.
  if (message.attempt < run.attempt) return writes;
  writes.push({
    table: "runs",
    row: {
      ...run,
      // A failed attempt that will be retried leaves the run waiting on its queue.
      status: message.retryInMs === undefined ? message.status : "queued",
      retry_at: message.retryInMs === undefined ? null : new Date(Date.parse(message.finishedAt) + message.retryInMs).toISOString(),
      next_json: message.next ? JSON.stringify(message.next) : run.next_json,
      unit: message.unit ?? run.unit,
      attempt: message.attempt,
      host: message.host,
      started_at: run.started_at ?? message.startedAt,
      completed_at: message.finishedAt,
      updated_at: message.finishedAt,
      exit_code: message.exitCode,
      signal: message.signal,
      error: message.error ?? null,
      result_json: message.result ? JSON.stringify(message.result) : null,
      result_status: resultStatus,
      stdout: message.stdout,
      stderr: message.stderr,
      stdout_truncated: message.stdoutTruncated ? 1 : 0,
      stderr_truncated: message.stderrTruncated ? 1 : 0,
      duration_ms: message.durationMs,
      seq,
    },
  });
  return writes;
}

function runCancel(state: ReadState, message: RunCancelRequested, seq: number): Write[] {
  const run = state.run(message.runId);
  if (!run || FINAL_STATUSES.has(run.status) || run.cancel_requested_at !== null) return [];
  // A run nobody has started yet is canceled now: any executor that takes it later finds the cancel and skips it.
  if (run.status === "queued") {
    const error = run.attempt === 0 ? "canceled before it started" : "canceled while waiting for a retry";
    return [{ table: "runs", row: { ...run, status: "canceled", error, completed_at: message.requestedAt, updated_at: message.requestedAt, cancel_requested_at: message.requestedAt, retry_at: null, seq } }];
  }
  return [{ table: "runs", row: { ...run, cancel_requested_at: message.requestedAt, updated_at: message.requestedAt, seq } }];
}

function runReleased(state: ReadState, message: RunReleased, seq: number): Write[] {
  const run = state.run(message.runId);
  const attempt = state.attempt(message.runId, message.attempt);
  // A fenced attempt's record can arrive after the next attempt began (and marked this one lost): it says why.
  const open = attempt?.status === "running" || (message.fenced === true && attempt?.status === "lost");
  if (!run || !attempt || !open) return [];
  const status = message.fenced ? "fenced" : "released";
  const writes: Write[] = [{ table: "attempts", row: { ...attempt, status, completed_at: message.releasedAt, error: message.reason } }];
  if (run.attempt === message.attempt && run.status === "running") {
    writes.push({ table: "runs", row: { ...run, status: "queued", updated_at: message.releasedAt, seq } });
  }
  return writes;
}

/** A newer attempt began while the run's current one never finished: that one's executor was lost. */
function lostBefore(state: ReadState, run: RunsTable, attempt: number): Write[] {
  if (attempt <= run.attempt) return [];
  const previous = state.attempt(run.id, run.attempt);
  if (!previous || previous.status !== "running") return [];
  return [{ table: "attempts", row: { ...previous, status: "lost", error: `executor on ${previous.host} stopped before the attempt finished` } }];
}
