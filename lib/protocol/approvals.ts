import { type Static, Type } from "@sinclair/typebox";
import { Time, V1 } from "./common.ts";
import { EventAccepted } from "./events.ts";
import { RunStep } from "./runs.ts";

/**
 * Approvals: a run that waits for a person. A step with `[steps.approval]` is gated
 * before it starts (`gate: "step"`, the held command); a FLOW_RESULT with `approval`
 * holds the run's `next` events (`gate: "result"`). One request and at most one decision
 * per gate, both on the run's `approval` subject (the last message there is the state).
 */

export const APPROVAL_GATES = ["step", "result"] as const;
export const APPROVAL_DECISIONS = ["approve", "reject"] as const;
export type ApprovalDecision = (typeof APPROVAL_DECISIONS)[number];
const Decision = Type.Union(APPROVAL_DECISIONS.map((decision) => Type.Literal(decision)));

/** A run waits for approval: who may decide, until when, what happens then, and what it holds. */
export const RunApprovalRequested = Type.Object({
  v: V1,
  kind: Type.Literal("run.approval_requested"),
  runId: Type.String(),
  flow: Type.String(),
  step: Type.String(),
  gate: Type.Union(APPROVAL_GATES.map((gate) => Type.Literal(gate))),
  /** The attempt whose result asked (0 for a step gate, before any attempt): a decision names it. */
  attempt: Type.Integer({ minimum: 0 }),
  /** Token names that may decide; empty: any token with the operate role on the flow. */
  approvers: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 100 }),
  requestedAt: Time,
  expiresAt: Time,
  onTimeout: Decision,
  reason: Type.Optional(Type.String({ maxLength: 2000 })),
  /** A step gate's command, queued once approved. */
  command: Type.Optional(RunStep),
  /** A result gate's `next` events, published once approved. */
  next: Type.Optional(Type.Array(EventAccepted, { maxItems: 1000 })),
});

/** A person (or the timeout) decided a run's approval; the first decision is the one. */
export const RunApprovalDecided = Type.Object({
  v: V1,
  kind: Type.Literal("run.approval_decided"),
  runId: Type.String(),
  attempt: Type.Integer({ minimum: 0 }),
  decision: Decision,
  /** The deciding token's name, or `timeout` when the approval expired. */
  by: Type.String({ minLength: 1, maxLength: 64 }),
  comment: Type.Optional(Type.String({ maxLength: 2000 })),
  decidedAt: Time,
  expired: Type.Boolean(),
});

export type RunApprovalRequested = Static<typeof RunApprovalRequested>;
export type RunApprovalDecided = Static<typeof RunApprovalDecided>;
