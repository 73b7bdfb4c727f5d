import { Type as t } from "@sinclair/typebox";

// lib/protocol/approvals.ts's APPROVAL_DECISIONS, as literals (a mapped union loses its static type here).
const Decision = t.Union([t.Literal("approve"), t.Literal("reject")]);

/** A run's approval gate (docs/approvals.md): the request and, once decided, the decision. */
export const ApprovalView = t.Object(
  {
    gate: t.Union([t.Literal("step"), t.Literal("result")], {
      description: "step: the run waits before it starts; result: its FLOW_RESULT's next events wait",
    }),
    attempt: t.Integer({ description: "The attempt whose result asked (0 for a step gate)" }),
    approvers: t.Array(t.String(), { description: "Token names that may decide; empty: any operate token" }),
    reason: t.Optional(t.String()),
    requestedAt: t.String({ description: "ISO-8601 time" }),
    expiresAt: t.String({ description: "ISO-8601 time" }),
    onTimeout: Decision,
    decision: t.Optional(Decision),
    by: t.Optional(t.String({ description: "The deciding token's name, or timeout" })),
    comment: t.Optional(t.String()),
    decidedAt: t.Optional(t.String({ description: "ISO-8601 time" })),
    expired: t.Optional(t.Boolean()),
  },
  { $id: "Approval" },
);
