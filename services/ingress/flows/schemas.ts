import { Type as t } from "@sinclair/typebox";

const Nullable = <T extends ReturnType<typeof t.String>>(schema: T) => t.Union([schema, t.Null()]);

export const PauseBody = t.Object(
  {
    step: t.Optional(t.String({ minLength: 1, description: "Pause or resume only this step" })),
    reason: t.Optional(t.String({ maxLength: 500, description: "Shown with the held runs and in GET /flows" })),
  },
  { additionalProperties: false },
);

export const PauseAnswer = t.Object({ flow: t.String(), step: t.Optional(t.String()), paused: t.Boolean(), seq: t.Integer(), at: t.String() });

export const FlowsAnswer = t.Object({
  flows: t.Array(
    t.Object({
      name: t.String(),
      version: t.Integer(),
      description: Nullable(t.String()),
      paused: t.Boolean(),
      pausedAt: Nullable(t.String()),
      pauseReason: Nullable(t.String()),
      steps: t.Array(
        t.Object({
          name: t.String(),
          trigger: t.String(),
          debounce: t.Union([t.Object({ ms: t.Integer(), key: t.String() }), t.Null()]),
          paused: t.Boolean(),
        }),
      ),
      schedules: t.Array(t.String()),
    }),
  ),
});

export const SchedulesAnswer = t.Object({
  schedules: t.Array(
    t.Object({
      flow: t.String(),
      name: t.String(),
      cron: t.String(),
      timezone: t.String(),
      eventType: t.String(),
      catchUp: t.String(),
      overlap: t.String(),
      nextTick: Nullable(t.String()),
      lastTick: t.Union([t.Object({ tick: t.String(), outcome: t.String(), eventId: t.String(), reason: Nullable(t.String()) }), t.Null()]),
    }),
  ),
});
