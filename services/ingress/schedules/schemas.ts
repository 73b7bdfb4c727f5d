import { Type } from "@sinclair/typebox";

/** GET /schedules/ticks: the ticks handled, and how many by outcome. */
export const ScheduleTicksView = Type.Object({
  ticks: Type.Array(
    Type.Object({
      flow: Type.String(),
      schedule: Type.String(),
      tick: Type.String({ description: "The time the cron named" }),
      outcome: Type.Union([Type.Literal("emitted"), Type.Literal("skipped")]),
      eventId: Type.String(),
      reason: Type.Union([Type.String(), Type.Null()], { description: "Why a skipped tick was skipped" }),
      at: Type.String({ description: "When the scheduler handled it" }),
    }),
    { description: "Newest tick first" },
  ),
  counts: Type.Object(
    { emitted: Type.Integer(), skipped: Type.Integer() },
    { description: "Every tick recorded for these filters, by outcome" },
  ),
});
