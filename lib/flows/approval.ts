import type { ApprovalDecision, RunApprovalRequested } from "../protocol/approvals.ts";
import { SYSTEM_TYPE_NAMESPACE } from "../protocol/event.ts";
import type { EventAccepted, RunStep } from "../protocol/messages.ts";
import { chainAfter } from "./chain.ts";

/**
 * A step's `[steps.approval]`: who may decide (token names; empty: any token with the
 * operate role on the flow), how long the run waits, and what the timeout decides.
 * Without the table a step starts as it always did; a FLOW_RESULT's `approval` uses
 * the table's settings when there is one, the defaults otherwise.
 */
export type StepApproval = { approvers: string[]; timeoutMs: number; onTimeout: ApprovalDecision };

export const APPROVAL_KEYS = ["approvers", "timeout_ms", "on_timeout"];
export const DEFAULT_APPROVAL: StepApproval = { approvers: [], timeoutMs: 24 * 3600_000, onTimeout: "reject" };
export const MAX_APPROVAL_TIMEOUT_MS = 30 * 24 * 3600_000;
const TOKEN_NAME = /^[A-Za-z0-9._-]{1,64}$/;

type Fail = (field: string, message: string) => never;

/** Reads a step's `approval` (absent: no gate; `true`: the defaults; a table sets the keys); `fail` names the field. */
export function parseApproval(value: unknown, field: string, fail: Fail): StepApproval | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { ...DEFAULT_APPROVAL };
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date)
    return fail(field, `expected true, false or a table [steps.approval], got ${JSON.stringify(value)}`);
  const table = value as Record<string, unknown>;
  for (const key of Object.keys(table))
    if (!APPROVAL_KEYS.includes(key))
      fail(`${field}.${key}`, `unknown key "${key}" (expected one of ${APPROVAL_KEYS.join(", ")})`);
  const approvers = table.approvers ?? [];
  if (!Array.isArray(approvers) || approvers.length > 100 || !approvers.every((a) => TOKEN_NAME.test(String(a))))
    fail(
      `${field}.approvers`,
      `expected a list of token names (letters, digits, . _ -), got ${JSON.stringify(approvers)}`,
    );
  const timeoutMs = table.timeout_ms ?? DEFAULT_APPROVAL.timeoutMs;
  if (
    typeof timeoutMs !== "number" ||
    !Number.isInteger(timeoutMs) ||
    timeoutMs < 1 ||
    timeoutMs > MAX_APPROVAL_TIMEOUT_MS
  )
    fail(
      `${field}.timeout_ms`,
      `expected an integer of milliseconds from 1 to ${MAX_APPROVAL_TIMEOUT_MS} (30 days), got ${JSON.stringify(timeoutMs)}`,
    );
  const onTimeout = table.on_timeout ?? DEFAULT_APPROVAL.onTimeout;
  if (onTimeout !== "approve" && onTimeout !== "reject")
    fail(`${field}.on_timeout`, `expected "approve" or "reject", got ${JSON.stringify(onTimeout)}`);
  return { approvers: approvers as string[], timeoutMs: timeoutMs as number, onTimeout: onTimeout as ApprovalDecision };
}

/** What a gate holds: a step gate's command, or a result gate's `next` events and the attempt that asked. */
export type Held =
  | { gate: "step"; command: RunStep }
  | { gate: "result"; command: RunStep; attempt: number; next: EventAccepted[]; reason?: string };

/** The request that opens a gate. Pure: the time arrives as an input. */
export function approvalRequest(held: Held, approval: StepApproval, now: string): RunApprovalRequested {
  const { command } = held;
  const reason =
    held.gate === "result" ? held.reason : `step ${command.flow}/${command.step} requires approval before it starts`;
  return {
    v: 1,
    kind: "run.approval_requested",
    runId: command.runId,
    flow: command.flow,
    step: command.step,
    gate: held.gate,
    attempt: held.gate === "result" ? held.attempt : 0,
    approvers: approval.approvers,
    requestedAt: now,
    expiresAt: new Date(Date.parse(now) + approval.timeoutMs).toISOString(),
    onTimeout: approval.onTimeout,
    ...(reason ? { reason: reason.slice(0, 2000) } : {}),
    ...(held.gate === "step" ? { command } : { next: held.next }),
  };
}

/** Whether a token may decide a request: it is listed, or nobody is listed (its role and flow scope are checked apart). */
export function mayDecide(request: Pick<RunApprovalRequested, "approvers">, tokenName: string): boolean {
  return request.approvers.length === 0 || request.approvers.includes(tokenName);
}

/** The event type a gate emits so that a flow (notify-webhook) can ask a person. */
export const AWAITING_APPROVAL_TYPE = `${SYSTEM_TYPE_NAMESPACE}.run.awaiting_approval`;

/**
 * The `codex-flows.run.awaiting_approval` event of an opened gate, or undefined for a
 * run that a run event started (no notification loops). Its id names the run and the
 * gate's attempt, so a repeat publish is a duplicate. Pure.
 */
export function awaitingApprovalEvent(
  request: RunApprovalRequested,
  command: RunStep,
  now: string,
): EventAccepted | undefined {
  if (command.event.type.startsWith(`${SYSTEM_TYPE_NAMESPACE}.run.`)) return undefined;
  return {
    v: 1,
    kind: "event.accepted",
    event: {
      id: `${AWAITING_APPROVAL_TYPE}:${request.runId}:${request.attempt}`,
      type: AWAITING_APPROVAL_TYPE,
      source: `codex-flows:run/${request.flow}/${request.step}`,
      occurredAt: request.requestedAt,
      receivedAt: now,
      payload: {
        runId: request.runId,
        flow: request.flow,
        step: request.step,
        eventId: command.eventId,
        eventType: command.event.type,
        status: "awaiting_approval",
        gate: request.gate,
        message: request.reason ?? null,
        approvers: request.approvers,
        expiresAt: request.expiresAt,
        onTimeout: request.onTimeout,
        attempt: request.attempt,
        link: `/runs/${request.runId}`,
      },
    },
    acceptedAt: now,
    chain: chainAfter(command, command.chainBudget),
  };
}
