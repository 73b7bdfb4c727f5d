import { type Static, Type as t } from "@sinclair/typebox";
import { ApprovalView } from "../approvals/schemas.ts";

/** Nodes (events plus runs) one chain answer holds at most; past it the answer says `cut`. */
export const CHAIN_NODE_LIMIT = 500;

const Time = t.String({ description: "ISO 8601" });
const MaybeTime = t.Union([Time, t.Null()]);

const ChainEvent = t.Object({
  id: t.String(),
  type: t.String(),
  source: t.Union([t.String(), t.Null()]),
  acceptedAt: Time,
  level: t.Integer({
    description: "0 for the event asked about, 1 for the events its runs' `next` started, and so on",
  }),
  chainDepth: t.Integer({
    description: "The event's depth in its whole chain (the system's chain-depth limit counts this)",
  }),
  parentRunId: t.Union([t.String(), t.Null()], { description: "The run whose FLOW_RESULT `next` started it" }),
  generation: t.Integer({ description: "Replays so far (0 as accepted)" }),
  matchedCount: t.Union([t.Integer(), t.Null()], {
    description: "Steps its latest match decision matched; null before the matcher decided",
  }),
});

const ChainAttempt = t.Object({
  attempt: t.Integer({ description: "1-based" }),
  host: t.String(),
  status: t.String(),
  startedAt: Time,
  completedAt: MaybeTime,
  durationMs: t.Union([t.Integer(), t.Null()]),
});

const ChainRun = t.Object({
  id: t.String(),
  eventId: t.String(),
  generation: t.Integer({ description: "The event generation that started the run" }),
  flowName: t.String(),
  stepName: t.String(),
  queue: t.String(),
  status: t.String({
    description: "The run's status (queued, running, completed, failed, canceled, timed_out, superseded, …)",
  }),
  resultStatus: t.Union([t.String(), t.Null()], { description: "The FLOW_RESULT status the step gave, if any" }),
  createdAt: Time,
  completedAt: MaybeTime,
  heldReason: t.Union([t.String(), t.Null()], {
    description: "Why a queued run does not wait on its queue yet (its flow or step paused, or debounced)",
  }),
  retryAt: MaybeTime,
  supersededBy: t.Union([t.String(), t.Null()], { description: "The event that superseded this debounced run" }),
  approval: t.Optional(ApprovalView),
  next: t.Array(t.String(), { description: "Ids of the events its FLOW_RESULT `next` started" }),
  attempts: t.Array(ChainAttempt, {
    description: "Oldest first; the wait in queue is createdAt to the first attempt's startedAt",
  }),
});

export const ChainView = t.Object({
  eventId: t.String(),
  now: Time,
  nodeLimit: t.Integer({ description: `Events plus runs an answer holds at most (${CHAIN_NODE_LIMIT})` }),
  cut: t.Boolean({
    description: "True when the chain has more than nodeLimit events and runs: the deepest are left out",
  }),
  events: t.Array(ChainEvent, { description: "Level by level, each level oldest first" }),
  runs: t.Array(ChainRun, { description: "Every run of the events listed, oldest first per event" }),
  missing: t.Array(t.String(), {
    description:
      "Ids a run's `next` names that the read model does not hold (not projected yet, or deleted by retention)",
  }),
});
export type ChainView = Static<typeof ChainView>;
export type ChainRun = Static<typeof ChainRun>;
export type ChainEvent = Static<typeof ChainEvent>;
