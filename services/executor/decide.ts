import type { FlowMessage, RunFinished, RunStep } from "../../lib/protocol/messages.ts";

/** Why an attempt was aborted (fencing does not abort: it kills the step, see handleCommand). */
export type AbortReason = "cancel" | "shutdown";

/**
 * What one delivery of a run command knows before it starts its step: the command and
 * its attempt, the last records on the run's finished and cancel subjects (with their
 * stream sequences), whether the attempt was aborted or fenced meanwhile, and what the
 * flow catalog has for the step (`found`, undefined when it has nothing).
 */
export type AttemptFacts<Found> = {
  command: Pick<RunStep, "flow" | "step" | "attemptBase">;
  attempt: number;
  /** The delivery's stream sequence: a cancel stored after it was requested after the command was queued. */
  seq: number;
  finished?: { seq: number; message: FlowMessage };
  cancel?: { seq: number; message: FlowMessage };
  aborted?: AbortReason;
  fenced: boolean;
  found: Found | undefined;
  hostId: string;
  maxLostAttempts: number;
};

/**
 * What a delivery does: `skip` (ack: the run already ended), `cancel` and `giveUp`
 * (record the attempt with `error`, then ack), `handBack` (nak: another executor takes
 * it), `abandon` (settle nothing: the lease is gone) or `run` the step.
 */
export type AttemptDecision<Found> =
  | { kind: "skip"; reason: string }
  | { kind: "cancel"; error: string }
  | { kind: "giveUp"; error: string }
  | { kind: "handBack" }
  | { kind: "abandon"; reason: string }
  | { kind: "run"; found: Found; lastFinished: RunFinished | undefined };

/**
 * Decides what a delivery of a run command does before any step process starts, in this
 * order: a run that already finished with no retry pending is skipped; one canceled after
 * its command was queued (or while this attempt waited) is recorded canceled; a shutdown
 * hands it back; a fence abandons it; after `maxLostAttempts` attempts in a row without a
 * result it gives up, as it does for a step the catalog does not have; else it runs.
 * Pure: everything it looks at arrives in `facts`.
 */
export function decideAttempt<Found>(facts: AttemptFacts<Found>): AttemptDecision<Found> {
  const { command, attempt, finished, cancel } = facts;
  const base = command.attemptBase ?? 0;
  // A record of an attempt before this command's base is an earlier retry's (flow retry starts a new base).
  const lastFinished =
    finished?.message.kind === "run.finished" && finished.message.attempt > base ? finished.message : undefined;
  if (lastFinished && lastFinished.retryInMs === undefined)
    return { kind: "skip", reason: `attempt ${lastFinished.attempt} already finished` };
  if ((cancel && cancel.seq > facts.seq) || facts.aborted === "cancel")
    return { kind: "cancel", error: "canceled before it started" };
  if (facts.aborted === "shutdown") return { kind: "handBack" };
  if (facts.fenced) return { kind: "abandon", reason: "fenced before the step started" };
  const unfinished = attempt - 1 - (lastFinished?.attempt ?? base);
  if (unfinished >= facts.maxLostAttempts) {
    return {
      kind: "giveUp",
      error: `gave up: the last ${unfinished} attempts ended without a result (their executors stopped mid-step)`,
    };
  }
  if (facts.found === undefined)
    return { kind: "giveUp", error: `flow "${command.flow}" has no step "${command.step}" on host ${facts.hostId}` };
  return { kind: "run", found: facts.found, lastFinished };
}
