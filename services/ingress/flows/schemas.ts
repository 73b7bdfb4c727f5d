import { type Static, Type as t } from "@sinclair/typebox";

const Nullable = <T extends ReturnType<typeof t.String>>(schema: T) => t.Union([schema, t.Null()]);

export const StepView = t.Object({
  name: t.String(),
  runner: t.String(),
  script: t.String(),
  timeoutMs: t.Integer(),
  trigger: t.Object({
    type: t.String(),
    schema: Nullable(t.String({ description: "The schema file, relative to the flow" })),
  }),
  schema: t.Unknown({ description: "The trigger schema's JSON, null when the step has none or it cannot be read" }),
  schemaError: Nullable(t.String()),
  policy: t.Object({
    retries: t.Integer(),
    backoff: t.Unknown({ description: '{kind: "exponential", baseMs, maxMs} or {kind: "list", delaysMs}' }),
    runsOn: Nullable(t.String()),
    concurrency: Nullable(t.String()),
  }),
  queue: t.String({ description: "The queue its runs wait on" }),
  debounce: t.Union([t.Object({ ms: t.Integer(), key: t.String() }), t.Null()]),
  paused: t.Boolean(),
});
export type StepView = Static<typeof StepView>;

export const FlowsView = t.Object({
  flows: t.Array(
    t.Object({
      name: t.String(),
      version: t.Integer(),
      description: Nullable(t.String()),
      manifestPath: t.String(),
      paused: t.Boolean(),
      pausedAt: Nullable(t.String()),
      pauseReason: Nullable(t.String()),
      steps: t.Array(StepView),
      schedules: t.Array(t.String()),
    }),
  ),
  problems: t.Array(t.Object({ path: t.String(), message: t.String() }), {
    description: "Flows that failed to load and unusable schemas",
  }),
  shadowed: t.Array(t.Object({ name: t.String(), path: t.String(), shadowedBy: t.String() })),
});

export const PauseBody = t.Object(
  {
    step: t.Optional(t.String({ minLength: 1, description: "Pause or resume only this step" })),
    reason: t.Optional(
      t.String({
        maxLength: 500,
        description: "Shown with the held runs and in GET /flows (a pause's), and recorded in the audit log",
      }),
    ),
  },
  { additionalProperties: false },
);

export const PauseAnswer = t.Object({
  flow: t.String(),
  step: t.Optional(t.String()),
  paused: t.Boolean(),
  seq: t.Integer(),
  at: t.String(),
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
      lastTick: t.Union([
        t.Object({ tick: t.String(), outcome: t.String(), eventId: t.String(), reason: Nullable(t.String()) }),
        t.Null(),
      ]),
    }),
  ),
});
