import { type Static, Type } from "@sinclair/typebox";
import { Time, V1 } from "./common.ts";
import { FlowEvent } from "./event.ts";
import { FlowResult } from "./flow-result.ts";
import { PROCESS_STATUSES } from "./status.ts";

/** A run's command and the records of its attempts. */

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

export type RunStep = Static<typeof RunStep>;
export type RunStarted = Static<typeof RunStarted>;
export type RunFinished = Static<typeof RunFinished>;
export type RunCancelRequested = Static<typeof RunCancelRequested>;
export type RunReleased = Static<typeof RunReleased>;
export type RunOutput = Static<typeof RunOutput>;
