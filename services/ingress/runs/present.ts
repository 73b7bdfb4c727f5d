import { nextWasCut } from "../../../lib/protocol/flow-result.ts";
import { ATTENTION } from "../../../lib/protocol/status.ts";
import type { AttemptsTable, RunsTable } from "../../../lib/read-model/database.ts";
import { traceFields } from "../../../lib/tracing/links.ts";
import { approvalField } from "../approvals/present.ts";
import type { ResponseBudget } from "../budget.ts";
import type { RunView } from "../schemas.ts";

// Effective statuses that ask a person to look: lib/read-model (retention keeps them apart too).

/**
 * A run as the API shows it: the original backend's fields (seed/flows.md) (id, eventId, flowName, stepName, status,
 * executor, times, stdout, stderr, error, result) plus what the existing HTTP client
 * reads (runId, attempts, attemptCount, finishedAt, effectiveStatus, needsAttention)
 * and what this backend adds (host, queue, exit code, duration). The result is sent
 * once, as `result` (the client reads `result` or `resultJson`). In a list, `budget`
 * decides whether the result and the output tails fit; when they do not they are left
 * out and `elided` says so and links the run.
 */
export function presentRun(row: RunsTable, attempts: AttemptsTable[] = [], budget?: ResponseBudget): RunView {
  const effectiveStatus = row.result_status ?? row.status;
  const heavy = (row.result_json?.length ?? 0) + row.stdout.length + row.stderr.length;
  const whole = budget === undefined || budget.take(heavy);
  return {
    id: row.id,
    runId: row.id,
    eventId: row.event_id,
    flowName: row.flow_name,
    flowVersion: row.flow_version,
    stepName: row.step_name,
    runner: row.runner,
    backend: "jetstream" as const,
    executor: row.executor,
    queue: row.queue,
    host: row.host,
    status: row.status,
    resultStatus: row.result_status,
    effectiveStatus,
    needsAttention: ATTENTION.has(effectiveStatus) || nextWasCut(row.error),
    attempt: row.attempt,
    attemptCount: row.attempt,
    generation: row.generation,
    createdAt: row.created_at,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    finishedAt: row.completed_at,
    updatedAt: row.updated_at,
    exitCode: row.exit_code,
    signal: row.signal,
    durationMs: row.duration_ms,
    cancelRequestedAt: row.cancel_requested_at,
    retryAt: row.retry_at,
    nextEventIds: row.next_json ? (JSON.parse(row.next_json) as string[]) : [],
    unit: row.unit,
    error: row.error,
    result: whole && row.result_json ? (JSON.parse(row.result_json) as Record<string, unknown>) : null,
    stdout: whole ? row.stdout : "",
    stderr: whole ? row.stderr : "",
    stdoutTruncated: row.stdout_truncated === 1,
    stderrTruncated: row.stderr_truncated === 1,
    outputCut: row.output_cut === 1,
    heldReason: row.held_reason,
    supersededBy: row.superseded_by,
    ...approvalField(row),
    attempts: attempts.map(presentAttempt),
    ...traceFields(row.trace_id),
    ...(whole
      ? {}
      : {
          elided: { fields: ["result", "stdout", "stderr"], bytes: heavy, href: `/runs/${encodeURIComponent(row.id)}` },
        }),
  };
}

export type { RunView };

function presentAttempt(row: AttemptsTable) {
  return {
    id: `${row.run_id}:${row.attempt}`,
    attemptNumber: row.attempt,
    status: row.status,
    workerId: row.host,
    host: row.host,
    leaseExpiresAt: null,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    exitCode: row.exit_code,
    signal: row.signal,
    resultStatus: row.result_status,
    durationMs: row.duration_ms,
    unit: row.unit,
    error: row.error,
  };
}
