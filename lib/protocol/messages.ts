import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { FlowEvent } from "./event.ts";
import { FlowResult } from "./flow-result.ts";
import { OperatorActed } from "./operator.ts";
import { PROCESS_STATUSES } from "./status.ts";

/**
 * Every message in the stream. Each carries `v` (schema version) and `kind` (the union
 * tag). Events are named in the past tense, commands in the imperative.
 */
const V1 = Type.Literal(1);
const Time = Type.String({ description: "ISO-8601 timestamp" });

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

/** Run this step for this event. */
export const RunStep = Type.Object({
  v: V1,
  kind: Type.Literal("run.step"),
  runId: Type.String(),
  eventId: Type.String(),
  generation: Type.Integer({ minimum: 0 }),
  flow: Type.String(),
  flowVersion: Type.Integer(),
  step: Type.String(),
  runner: Type.String(),
  queue: Type.String(),
  event: FlowEvent,
  createdAt: Time,
  chainDepth: Type.Optional(Type.Integer({ minimum: 0 })),
  /** The chain's remaining budget of events (from the event's `chain.budget`). */
  chainBudget: Type.Optional(Type.Integer({ minimum: 0 })),
  /** How many runs of the event share that budget (the steps it matched; absent: 1). A run spends its even share. */
  chainShares: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Attempts before this command (a retry starts a new command at a higher attempt). */
  attemptBase: Type.Optional(Type.Integer({ minimum: 0 })),
});

/** An executor began an attempt. */
export const RunStarted = Type.Object({
  v: V1,
  kind: Type.Literal("run.started"),
  runId: Type.String(),
  attempt: Type.Integer({ minimum: 1 }),
  host: Type.String(),
  startedAt: Time,
  /** How the host runs steps: `direct` or `systemd-run`. */
  executor: Type.Optional(Type.String()),
  pid: Type.Optional(Type.Integer()),
});

export const ProcessStatus = Type.Union(PROCESS_STATUSES.map((status) => Type.Literal(status)));

/** An attempt ended: how the process ended, the step's FLOW_RESULT, and the tails of its output. */
export const RunFinished = Type.Object({
  v: V1,
  kind: Type.Literal("run.finished"),
  runId: Type.String(),
  attempt: Type.Integer({ minimum: 1 }),
  host: Type.String(),
  status: ProcessStatus,
  exitCode: Type.Union([Type.Integer(), Type.Null()]),
  signal: Type.Union([Type.String(), Type.Null()]),
  result: Type.Optional(FlowResult),
  error: Type.Optional(Type.String()),
  stdout: Type.String(),
  stderr: Type.String(),
  stdoutTruncated: Type.Boolean(),
  stderrTruncated: Type.Boolean(),
  startedAt: Time,
  finishedAt: Time,
  durationMs: Type.Number(),
  /** Set when the executor will try again: the delay before the next attempt. */
  retryInMs: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Retryable failures of this run's current command so far, this attempt included (the retry budget's count). */
  failures: Type.Optional(Type.Integer({ minimum: 0 })),
  /** Ids of the events the step's FLOW_RESULT `next` started. */
  next: Type.Optional(Type.Array(Type.String())),
  /** The transient systemd unit the attempt ran in (CODEX_FLOW_BACKEND_EXECUTOR=systemd-run). */
  unit: Type.Optional(Type.String()),
});

/** An operator asked to cancel a run (API, CLI or the nats CLI). */
export const RunCancelRequested = Type.Object({
  v: V1,
  kind: Type.Literal("run.cancel"),
  runId: Type.String(),
  requestedAt: Time,
  reason: Type.Optional(Type.String()),
});

/**
 * An executor gave an attempt back unfinished: it is shutting down, or (`fenced`) it
 * could not renew the lease and stopped the step so that another host can take the run.
 */
export const RunReleased = Type.Object({
  v: V1,
  kind: Type.Literal("run.released"),
  runId: Type.String(),
  attempt: Type.Integer({ minimum: 1 }),
  host: Type.String(),
  releasedAt: Time,
  reason: Type.String(),
  /** The executor was cut off from NATS and killed the step itself (absent on older messages: a shutdown). */
  fenced: Type.Optional(Type.Boolean()),
});

/** A piece of a running step's output, published as it is written (bounded per attempt). */
export const RunOutput = Type.Object({
  v: V1,
  kind: Type.Literal("run.output"),
  runId: Type.String(),
  attempt: Type.Integer({ minimum: 1 }),
  /** 0-based, in the order written within the attempt. */
  chunk: Type.Integer({ minimum: 0 }),
  stream: Type.Union([Type.Literal("stdout"), Type.Literal("stderr")]),
  text: Type.String(),
  at: Time,
});

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

export const PurgeRule = Type.Object({
  flow: Type.Optional(Type.String()),
  except: Type.Optional(Type.Array(Type.String())),
  class: Type.Optional(Type.Union([Type.Literal("attention"), Type.Literal("other")])),
  /** Only runs whose effective status (the step's verdict, else the process status) is one of these. */
  statuses: Type.Optional(Type.Array(Type.String(), { maxItems: 20 })),
  before: Type.Optional(Time),
  keepRuns: Type.Optional(Type.Integer({ minimum: 1 })),
});

/**
 * Delete what is past retention (a tick) or what an operator purges: every projector
 * deletes the same final runs (with their events, attempts, output) at this message's
 * place in the stream, at most `limit` of them; a full round is followed by the next.
 */
export const PurgeRuns = Type.Object({
  v: V1,
  kind: Type.Literal("runs.purge"),
  purgeId: Type.String({ minLength: 1 }),
  round: Type.Integer({ minimum: 1 }),
  /** When it was asked for: deleted ids are tombstoned at this time. */
  at: Time,
  rules: Type.Array(PurgeRule, { maxItems: 10_000 }),
  /** Also events older than this that have no runs (a tick: the defaults' cut). */
  eventsBefore: Type.Optional(Time),
  limit: Type.Integer({ minimum: 1, maximum: 10_000 }),
  /** Tombstones older than this many days before `at` are dropped. */
  tombstoneDays: Type.Integer({ minimum: 1 }),
});

export const FlowMessage = Type.Union([
  EventAccepted,
  EventMatched,
  RunStep,
  RunStarted,
  RunFinished,
  RunCancelRequested,
  RunReleased,
  RunOutput,
  RunHeld,
  RunDeferred,
  RunSuperseded,
  FlowPaused,
  FlowResumed,
  ScheduleTicked,
  PurgeRuns,
  OperatorActed,
]);

export type EventAccepted = Static<typeof EventAccepted>;
export type EventMatched = Static<typeof EventMatched>;
export type StepDecision = Static<typeof StepDecision>;
export type RunStep = Static<typeof RunStep>;
export type RunStarted = Static<typeof RunStarted>;
export type RunFinished = Static<typeof RunFinished>;
export type RunCancelRequested = Static<typeof RunCancelRequested>;
export type RunReleased = Static<typeof RunReleased>;
export type RunOutput = Static<typeof RunOutput>;
export type RunHeld = Static<typeof RunHeld>;
export type RunDeferred = Static<typeof RunDeferred>;
export type RunSuperseded = Static<typeof RunSuperseded>;
export type FlowPaused = Static<typeof FlowPaused>;
export type FlowResumed = Static<typeof FlowResumed>;
export type ScheduleTicked = Static<typeof ScheduleTicked>;
export type PurgeRule = Static<typeof PurgeRule>;
export type PurgeRuns = Static<typeof PurgeRuns>;
export type FlowMessage = Static<typeof FlowMessage>;
export { OPERATOR_ACTIONS, OperatorActed, type OperatorAction } from "./operator.ts";

const utf8 = new TextDecoder();

export type Decoded = { ok: true; message: FlowMessage } | { ok: false; error: string };

const kindSchemas: Record<FlowMessage["kind"], TSchema> = {
  "event.accepted": EventAccepted,
  "event.matched": EventMatched,
  "run.step": RunStep,
  "run.started": RunStarted,
  "run.finished": RunFinished,
  "run.cancel": RunCancelRequested,
  "run.released": RunReleased,
  "run.output": RunOutput,
  "run.held": RunHeld,
  "run.deferred": RunDeferred,
  "run.superseded": RunSuperseded,
  "flow.paused": FlowPaused,
  "flow.resumed": FlowResumed,
  "schedule.ticked": ScheduleTicked,
  "runs.purge": PurgeRuns,
  "operator.acted": OperatorActed,
};
// One compiled check per kind, picked by the tag: checking the whole union tries every branch.
const checkers = new Map(Object.entries(kindSchemas).map(([kind, schema]) => [kind, TypeCompiler.Compile(schema)]));

/** Decodes and validates one stream message body. A bad body names the first field at fault. */
export function decodeMessage(data: Uint8Array | string): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(typeof data === "string" ? data : utf8.decode(data));
  } catch (error) {
    return { ok: false, error: `not JSON: ${(error as Error).message}` };
  }
  const kind = (value as { kind?: unknown } | null)?.kind;
  const checker = typeof kind === "string" ? checkers.get(kind) : undefined;
  if (!checker) return { ok: false, error: `invalid message: unknown kind ${JSON.stringify(kind)}` };
  if (checker.Check(value)) return { ok: true, message: value as FlowMessage };
  const first = checker.Errors(value).First();
  return { ok: false, error: `invalid ${kind} message: ${first ? `${first.path || "/"}: ${first.message}` : "does not match its schema"}` };
}

/** Encodes a message for publishing. */
export function encodeMessage(message: FlowMessage): string {
  return JSON.stringify(message);
}
