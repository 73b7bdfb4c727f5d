import { type Static, Type } from "@sinclair/typebox";
import { Time, V1 } from "./common.ts";

/** The operator actions the audit log records (the API's writes other than POST /events). */
export const OPERATOR_ACTIONS = [
  "cancel",
  "retry",
  "replay",
  "bulk-replay",
  "pause",
  "resume",
  "purge",
  "approve",
  "reject",
] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

/**
 * An operator acted through the API: who (a token's name, never the token), when, what
 * (the action, its target, a summary of the request and the stream messages it wrote)
 * and why (the request's optional reason). Read by the projector into the audit table.
 */
export const OperatorActed = Type.Object({
  v: V1,
  kind: Type.Literal("operator.acted"),
  /** The action's own identity: the message ids it wrote, hashed, so a retried identical request is a duplicate as its action is. */
  actionId: Type.String({ minLength: 1, maxLength: 200 }),
  action: Type.Union(OPERATOR_ACTIONS.map((action) => Type.Literal(action))),
  actor: Type.String({ minLength: 1, maxLength: 64 }),
  at: Time,
  target: Type.Object({
    runId: Type.Optional(Type.String()),
    eventId: Type.Optional(Type.String()),
    flow: Type.Optional(Type.String()),
    step: Type.Optional(Type.String()),
  }),
  /** What was asked, in a line: `POST /runs/X/cancel`, a bulk replay's type and range. */
  summary: Type.String({ maxLength: 2000 }),
  reason: Type.Optional(Type.String({ maxLength: 2000 })),
  /** The stream sequence of the first message the action wrote. */
  seq: Type.Optional(Type.Integer({ minimum: 1 })),
});

export type OperatorActed = Static<typeof OperatorActed>;
