import type { RunCancelRequested, RunFinished, RunReleased, RunStarted } from "../../lib/protocol/messages.ts";
import { FINAL_STATUSES } from "../../lib/protocol/status.ts";
import type { RunsTable } from "../../lib/read-model/database.ts";
import { gatedStatus } from "./evolve-approvals.ts";
import type { ReadState, Write } from "./writes.ts";

/** The read model of a run's attempts: started, finished, canceled, released (and lost, when the next one starts first). */

export function runStarted(state: ReadState, message: RunStarted, seq: number): Write[] {
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
    row: {
      ...run,
      status: "running",
      result_status: null,
      retry_at: null,
      attempt: message.attempt,
      host: message.host,
      executor: message.executor ?? run.executor,
      started_at: message.startedAt,
      completed_at: null,
      updated_at: message.startedAt,
      seq,
    },
  });
  return writes;
}

export function runFinished(state: ReadState, message: RunFinished, seq: number): Write[] {
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
  // A result that asked for approval holds the run until a person decides (evolve-approvals.ts); its verdict shows once approved.
  const status = message.retryInMs === undefined ? gatedStatus(run, message.attempt, message.status) : "queued";
  const held = status === "awaiting_approval" || status === "rejected";
  writes.push({
    table: "runs",
    row: {
      ...run,
      // A failed attempt that will be retried leaves the run waiting on its queue.
      status,
      retry_at:
        message.retryInMs === undefined
          ? null
          : new Date(Date.parse(message.finishedAt) + message.retryInMs).toISOString(),
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
      result_status: held ? null : resultStatus,
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

export function runCancel(state: ReadState, message: RunCancelRequested, seq: number): Write[] {
  const run = state.run(message.runId);
  if (!run || FINAL_STATUSES.has(run.status) || run.cancel_requested_at !== null) return [];
  // A run nobody has started yet is canceled now: any executor that takes it later finds the cancel and skips it.
  if (run.status === "queued" || run.status === "awaiting_approval") {
    const error =
      run.status === "awaiting_approval"
        ? "canceled while awaiting approval"
        : run.attempt === 0
          ? "canceled before it started"
          : "canceled while waiting for a retry";
    return [
      {
        table: "runs",
        row: {
          ...run,
          status: "canceled",
          error,
          completed_at: message.requestedAt,
          updated_at: message.requestedAt,
          cancel_requested_at: message.requestedAt,
          retry_at: null,
          seq,
        },
      },
    ];
  }
  return [
    { table: "runs", row: { ...run, cancel_requested_at: message.requestedAt, updated_at: message.requestedAt, seq } },
  ];
}

export function runReleased(state: ReadState, message: RunReleased, seq: number): Write[] {
  const run = state.run(message.runId);
  const attempt = state.attempt(message.runId, message.attempt);
  // A fenced attempt's record can arrive after the next attempt began (and marked this one lost): it says why.
  const open = attempt?.status === "running" || (message.fenced === true && attempt?.status === "lost");
  if (!run || !attempt || !open) return [];
  const status = message.fenced ? "fenced" : "released";
  const writes: Write[] = [
    { table: "attempts", row: { ...attempt, status, completed_at: message.releasedAt, error: message.reason } },
  ];
  if (run.attempt === message.attempt && run.status === "running") {
    writes.push({ table: "runs", row: { ...run, status: "queued", updated_at: message.releasedAt, seq } });
  }
  return writes;
}

/** A newer attempt began while the run's current one never finished: that one's executor was lost. */
function lostBefore(state: ReadState, run: RunsTable, attempt: number): Write[] {
  if (attempt <= run.attempt) return [];
  const previous = state.attempt(run.id, run.attempt);
  if (previous?.status !== "running") return [];
  return [
    {
      table: "attempts",
      row: { ...previous, status: "lost", error: `executor on ${previous.host} stopped before the attempt finished` },
    },
  ];
}
