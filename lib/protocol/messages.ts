import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import { RunApprovalDecided, RunApprovalRequested } from "./approvals.ts";
import { EventAccepted, EventMatched } from "./events.ts";
import { OperatorActed } from "./operator.ts";
import { PurgeRuns } from "./purge.ts";
import { RunCancelRequested, RunFinished, RunOutput, RunReleased, RunStarted, RunStep } from "./runs.ts";
import { FlowPaused, FlowResumed, RunDeferred, RunHeld, RunSuperseded, ScheduleTicked } from "./waits.ts";

export * from "./approvals.ts";
export * from "./events.ts";
export { OPERATOR_ACTIONS, OperatorActed, type OperatorAction } from "./operator.ts";
export * from "./purge.ts";
export * from "./runs.ts";
export * from "./waits.ts";

/**
 * Every message in the stream (each kind's schema lives with its family: events.ts,
 * runs.ts, waits.ts, purge.ts, approvals.ts). Each carries `v` (schema version) and `kind` (the union
 * tag). Events are named in the past tense, commands in the imperative.
 */
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
  RunApprovalRequested,
  RunApprovalDecided,
]);

export type FlowMessage = Static<typeof FlowMessage>;

const utf8 = new TextDecoder();

export type Decoded = { ok: true; message: FlowMessage } | { ok: false; error: string };

/** Each kind's schema, by its tag. */
export const KIND_SCHEMAS: Record<FlowMessage["kind"], TSchema> = {
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
  "run.approval_requested": RunApprovalRequested,
  "run.approval_decided": RunApprovalDecided,
};
// One compiled check per kind, picked by the tag: checking the whole union tries every branch.
const checkers = new Map(Object.entries(KIND_SCHEMAS).map(([kind, schema]) => [kind, TypeCompiler.Compile(schema)]));

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
  return {
    ok: false,
    error: `invalid ${kind} message: ${first ? `${first.path || "/"}: ${first.message}` : "does not match its schema"}`,
  };
}

/** Encodes a message for publishing. */
export function encodeMessage(message: FlowMessage): string {
  return JSON.stringify(message);
}
