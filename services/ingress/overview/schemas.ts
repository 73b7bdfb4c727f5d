import { type Static, Type as t } from "@sinclair/typebox";

export type OverviewWindow = "hour" | "day" | "week";

const Counts = t.Record(t.String(), t.Integer(), {
  description: "Runs by effective status (the step's FLOW_RESULT status when it gave one, else the run's status)",
});
const MaybeMs = t.Union([t.Integer(), t.Null()]);

export const OverviewQuery = t.Object(
  {
    window: t.Optional(
      t.Union([t.Literal(""), t.Literal("hour"), t.Literal("day"), t.Literal("week")], {
        error: "expected hour, day or week",
      }),
    ),
  },
  { additionalProperties: true },
);

export const OverviewView = t.Object({
  window: t.Union([t.Literal("hour"), t.Literal("day"), t.Literal("week")]),
  since: t.String({ description: "Runs created at or after this time are counted (GET /runs?since=)" }),
  until: t.String({ description: "…and before this one (GET /runs?until=): the time of the answer" }),
  bucketMs: t.Integer({ description: "The width of each bucket: 5 min for an hour, 1 h for a day, 6 h for a week" }),
  buckets: t.Array(t.Object({ start: t.String(), counts: Counts }), {
    description: "Runs created in each bucket, oldest first",
  }),
  totals: Counts,
  flows: t.Array(
    t.Object({
      flow: t.String(),
      runs: t.Integer({ description: "Runs created in the window" }),
      finished: t.Integer({
        description:
          "Of those, runs whose step ended on its own: completed, failed or timed out (not canceled, superseded, queued or running)",
      }),
      failed: t.Integer({ description: "Of the finished, those whose effective status is failed or timed_out" }),
      failureRate: t.Union([t.Number(), t.Null()], { description: "failed / finished; null when none finished" }),
      p50Ms: MaybeMs,
      p95Ms: MaybeMs,
    }),
    { description: "Per flow, by name; durations are the latest attempt's (nearest-rank percentiles)" },
  ),
  queues: t.Array(
    t.Object({
      queue: t.String(),
      queued: t.Integer({ description: "Runs queued now (whenever created)" }),
      held: t.Integer({ description: "Of those, held by a pause or a debounce" }),
      oldestQueuedAt: t.Union([t.String(), t.Null()]),
    }),
  ),
  hosts: t.Array(t.Object({ host: t.String(), running: t.Integer({ description: "Runs running on the host now" }) })),
});
export type OverviewView = Static<typeof OverviewView>;
