import { type Static, Type } from "@sinclair/typebox";
import { Time, V1 } from "./common.ts";
import { RunStep } from "./runs.ts";

/** Runs that wait (held by a pause, deferred by a debounce), the pauses themselves, and schedule ticks. */

/** A matched run waits, unqueued, because its flow (or step) is paused; a resume releases it in order. */
export const RunHeld = Type.Object({
  v: V1,
  kind: Type.Literal("run.held"),
  runId: Type.String(),
  command: RunStep,
  /** The pause it waits for (`<flow>` or `<flow>/<step>`) and that pause's stream sequence. */
  pause: Type.String(),
  pausedSeq: Type.Integer({ minimum: 1 }),
  reason: Type.String(),
  heldAt: Time,
  /** The stream sequence of the event that matched: a resume queues held runs in this order. */
  eventSeq: Type.Optional(Type.Integer({ minimum: 1 })),
});

/** A debounced run waits until `dueAt`; a newer event with the same key before then supersedes it. */
export const RunDeferred = Type.Object({
  v: V1,
  kind: Type.Literal("run.deferred"),
  runId: Type.String(),
  command: RunStep,
  key: Type.String(),
  debounceMs: Type.Integer({ minimum: 1 }),
  arrivedAt: Time,
  dueAt: Time,
  /** The stream sequence of the event: the debouncer orders a key's runs by it (absent on messages of older versions). */
  eventSeq: Type.Optional(Type.Integer({ minimum: 1 })),
});

/** A debounced run will not start: a newer event with the same key came within the debounce time. */
export const RunSuperseded = Type.Object({
  v: V1,
  kind: Type.Literal("run.superseded"),
  runId: Type.String(),
  supersededBy: Type.String({ description: "The id of the event that superseded this run's event." }),
  at: Time,
});

/** An operator paused a flow (or one step of it): its matched runs are held until it is resumed. */
export const FlowPaused = Type.Object({
  v: V1,
  kind: Type.Literal("flow.paused"),
  flow: Type.String(),
  step: Type.Optional(Type.String()),
  at: Time,
  reason: Type.Optional(Type.String()),
});

/** An operator resumed a paused flow (or step): the runs held since `pausedSeq` are queued in order. */
export const FlowResumed = Type.Object({
  v: V1,
  kind: Type.Literal("flow.resumed"),
  flow: Type.String(),
  step: Type.Optional(Type.String()),
  at: Time,
  pausedSeq: Type.Integer({ minimum: 1 }),
});

/** A scheduler handled one tick of a schedule: it emitted the tick's event, or skipped it and why. */
export const ScheduleTicked = Type.Object({
  v: V1,
  kind: Type.Literal("schedule.ticked"),
  flow: Type.String(),
  schedule: Type.String(),
  tick: Time,
  outcome: Type.Union([Type.Literal("emitted"), Type.Literal("skipped")]),
  eventId: Type.String(),
  /** The event of the newest tick emitted so far (this one's when emitted): the overlap check looks at its runs. */
  lastEmittedEventId: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  at: Time,
});

export type RunHeld = Static<typeof RunHeld>;
export type RunDeferred = Static<typeof RunDeferred>;
export type RunSuperseded = Static<typeof RunSuperseded>;
export type FlowPaused = Static<typeof FlowPaused>;
export type FlowResumed = Static<typeof FlowResumed>;
export type ScheduleTicked = Static<typeof ScheduleTicked>;
