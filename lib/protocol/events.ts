import { type Static, Type } from "@sinclair/typebox";
import { Time, V1 } from "./common.ts";
import { FlowEvent } from "./event.ts";

/** Events: a FlowEvent accepted into the log, and the matcher's decision for it. */

export const Replay = Type.Object({
  generation: Type.Integer({ minimum: 1, description: "1 for the first replay, 2 for the next, ..." }),
  requestedAt: Time,
  /** Only this flow's steps run (`flow replay --flow F`); the other flows' matches are recorded as not replayed. */
  flow: Type.Optional(Type.String()),
});

export const Chain = Type.Object({
  depth: Type.Integer({ minimum: 1 }),
  runId: Type.String(),
  flow: Type.String(),
  step: Type.String(),
  /** How many more events this event's chain may start (CODEX_FLOW_MAX_CHAIN_EVENTS, split at each fan-out). */
  budget: Type.Optional(Type.Integer({ minimum: 0 })),
});

/** A FlowEvent was accepted into the log (ingress, a replay, or a step's `next`). */
export const EventAccepted = Type.Object({
  v: V1,
  kind: Type.Literal("event.accepted"),
  event: FlowEvent,
  acceptedAt: Time,
  replay: Type.Optional(Replay),
  chain: Type.Optional(Chain),
});

export const StepDecision = Type.Object({
  flow: Type.String(),
  flowVersion: Type.Integer(),
  step: Type.String(),
  runner: Type.String(),
  matched: Type.Boolean(),
  runId: Type.Optional(Type.String()),
  queue: Type.Optional(Type.String()),
  reasons: Type.Array(Type.String()),
});

/** The matcher's decision for one event: every step that matched and every one that did not, with why. */
export const EventMatched = Type.Object({
  v: V1,
  kind: Type.Literal("event.matched"),
  eventId: Type.String(),
  generation: Type.Integer({ minimum: 0 }),
  matchedAt: Time,
  decisions: Type.Array(StepDecision),
});

export type Replay = Static<typeof Replay>;
export type Chain = Static<typeof Chain>;
export type EventAccepted = Static<typeof EventAccepted>;
export type StepDecision = Static<typeof StepDecision>;
export type EventMatched = Static<typeof EventMatched>;
