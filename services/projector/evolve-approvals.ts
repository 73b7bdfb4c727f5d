import type { RunApprovalDecided, RunApprovalRequested } from "../../lib/protocol/messages.ts";
import type { RunStatus } from "../../lib/protocol/status.ts";
import type { RunsTable } from "../../lib/read-model/database.ts";
import { queuedRun, type ReadState, type Write } from "./writes.ts";

/**
 * The read model of approvals: a run's `approval_json` (its latest gate: the request and,
 * once decided, the decision) and the status it gives the run. Pure, idempotent: a
 * request or decision applied again finds itself recorded and writes nothing.
 */

/** A run's gate as the read model keeps it (GET /runs/:id answers it as `approval`). */
export type ApprovalRecord = {
  gate: RunApprovalRequested["gate"];
  attempt: number;
  approvers: string[];
  reason?: string;
  requestedAt: string;
  expiresAt: string;
  onTimeout: RunApprovalRequested["onTimeout"];
  decision?: RunApprovalDecided["decision"];
  by?: string;
  comment?: string;
  decidedAt?: string;
  expired?: boolean;
};

/** The gate recorded on a run row, if any. */
export function approvalOf(run: Pick<RunsTable, "approval_json">): ApprovalRecord | undefined {
  return run.approval_json ? (JSON.parse(run.approval_json) as ApprovalRecord) : undefined;
}

export function approvalRequested(state: ReadState, message: RunApprovalRequested, seq: number): Write[] {
  const run = state.run(message.runId);
  const record: ApprovalRecord = {
    gate: message.gate,
    attempt: message.attempt,
    approvers: message.approvers,
    ...(message.reason ? { reason: message.reason } : {}),
    requestedAt: message.requestedAt,
    expiresAt: message.expiresAt,
    onTimeout: message.onTimeout,
  };
  const approval_json = JSON.stringify(record);
  const awaiting = { status: "awaiting_approval" as const, approval_json, updated_at: message.requestedAt, seq };
  if (message.gate === "step") {
    if (!message.command) return [];
    if (!run) return [{ table: "runs", row: { ...queuedRun(message.command, seq, null), ...awaiting } }];
    return run.status === "queued" && run.attempt === 0 && !run.approval_json
      ? [{ table: "runs", row: { ...run, ...awaiting } }]
      : [];
  }
  const known = run && approvalOf(run);
  if (!run || (known && known.attempt >= message.attempt) || run.attempt > message.attempt) return [];
  // A cancel that came first wins: the held events are never released (the approver checks it too).
  if (run.cancel_requested_at !== null) return [{ table: "runs", row: { ...run, approval_json, seq } }];
  // While it waits (and once rejected) the run shows that, not the step's verdict; an approval brings the verdict back.
  return [{ table: "runs", row: { ...run, ...awaiting, result_status: null } }];
}

export function approvalDecided(state: ReadState, message: RunApprovalDecided, seq: number): Write[] {
  const run = state.run(message.runId);
  const known = run && approvalOf(run);
  if (!run || !known || known.attempt !== message.attempt || known.decision) return [];
  const record: ApprovalRecord = {
    ...known,
    decision: message.decision,
    by: message.by,
    ...(message.comment ? { comment: message.comment } : {}),
    decidedAt: message.decidedAt,
    expired: message.expired,
  };
  const row = { ...run, approval_json: JSON.stringify(record), updated_at: message.decidedAt, seq };
  if (run.status !== "awaiting_approval") return [{ table: "runs", row }];
  if (message.decision === "reject") {
    const who = message.expired ? "the timeout" : message.by;
    const error = `rejected by ${who}${message.comment ? `: ${message.comment}` : ""}`;
    return [{ table: "runs", row: { ...row, status: "rejected", error, completed_at: message.decidedAt } }];
  }
  // An approved step gate waits on its queue; an approved result gate shows how its attempt ended.
  if (known.gate === "step") return [{ table: "runs", row: { ...row, status: "queued" } }];
  const verdict = run.result_json
    ? (JSON.parse(run.result_json) as { status?: RunsTable["result_status"] }).status
    : null;
  return [{ table: "runs", row: { ...row, status: "completed", result_status: verdict ?? null } }];
}

/**
 * The status a run's finished attempt shows when its result opened a gate (the request
 * is published before the attempt's record): awaiting approval until decided, rejected
 * after a refusal; anything else as the process ended.
 */
export function gatedStatus(run: RunsTable, attempt: number, status: RunStatus): RunStatus {
  const known = approvalOf(run);
  if (known?.gate !== "result" || known.attempt !== attempt || status !== "completed") return status;
  if (!known.decision) return "awaiting_approval";
  return known.decision === "reject" ? "rejected" : status;
}
