import { type Static, Type as t } from "@sinclair/typebox";

const Nullable = <T extends ReturnType<typeof t.String>>(schema: T) => t.Union([schema, t.Null()]);

export const StepView = t.Object({
  name: t.String(),
  runner: t.String(),
  script: t.String(),
  timeoutMs: t.Integer(),
  trigger: t.Object({ type: t.String(), schema: Nullable(t.String({ description: "The schema file, relative to the flow" })) }),
  schema: t.Unknown({ description: "The trigger schema's JSON, null when the step has none or it cannot be read" }),
  schemaError: Nullable(t.String()),
  policy: t.Object({
    retries: t.Integer(),
    backoff: t.Unknown({ description: '{kind: "exponential", baseMs, maxMs} or {kind: "list", delaysMs}' }),
    runsOn: Nullable(t.String()),
    concurrency: Nullable(t.String()),
  }),
  queue: t.String({ description: "The queue its runs wait on" }),
});
export type StepView = Static<typeof StepView>;

export const FlowsView = t.Object({
  flows: t.Array(t.Object({ name: t.String(), version: t.Integer(), description: Nullable(t.String()), manifestPath: t.String(), steps: t.Array(StepView) })),
  problems: t.Array(t.Object({ path: t.String(), message: t.String() }), { description: "Flows that failed to load and unusable schemas" }),
  shadowed: t.Array(t.Object({ name: t.String(), path: t.String(), shadowedBy: t.String() })),
});
