import { Type as t } from "@sinclair/typebox";

const TIME = "expected an ISO-8601 time such as 2026-12-01T00:00:00Z";

export const ReplayBody = t.Object(
  {
    type: t.String({ minLength: 1, description: "The event type to replay" }),
    since: t.String({ format: "date-time", error: TIME, description: "Accepted at or after this ISO-8601 time" }),
    until: t.Optional(
      t.String({ format: "date-time", error: TIME, description: "Accepted before this ISO-8601 time" }),
    ),
    flow: t.Optional(t.String({ description: "Only the steps of this flow" })),
    dryRun: t.Optional(t.Boolean({ description: "Only say what a replay would do (default true)" })),
    concurrency: t.Optional(
      t.Integer({ minimum: 1, maximum: 16, description: "Replays in flight at once (default 4)" }),
    ),
    reason: t.Optional(t.String({ maxLength: 2000, description: "Why: recorded in the audit log (GET /audit)" })),
  },
  { additionalProperties: false },
);

const StepRef = t.Object({ flow: t.String(), step: t.String() });

export const ReplayPlanEntry = t.Object({
  eventId: t.String(),
  type: t.String(),
  acceptedAt: t.String(),
  generation: t.Integer(),
  matchedBefore: t.Boolean(),
  newMatches: t.Array(StepRef),
  noLongerMatching: t.Array(t.Object({ flow: t.String(), step: t.String(), reasons: t.Array(t.String()) })),
  same: t.Array(StepRef),
});

export const ReplayAnswer = t.Object({
  dryRun: t.Boolean(),
  count: t.Integer(),
  truncated: t.Boolean(),
  events: t.Array(ReplayPlanEntry),
  replayed: t.Optional(t.Array(t.Object({ eventId: t.String(), generation: t.Integer(), seq: t.Integer() }))),
});
