import { type Arrival, debounceVerdict } from "../../lib/flows/debounce.ts";
import type { FlowMessage, RunDeferred, RunHeld, RunStep, RunSuperseded } from "../../lib/protocol/messages.ts";

/** A message as the stream holds it: decoded, with its sequence. */
export type Stored = { seq: number; message: FlowMessage };

/**
 * What routing one run command looks at: the last control message of its flow and of its
 * step (flow.paused or flow.resumed, with their sequences), the sequence of the event
 * that matched (a resume releases held runs in that order) and the time.
 */
export type RouteFacts = { ofFlow?: Stored; ofStep?: Stored; eventSeq?: number; now: string };

/** Where a run command goes: onto its queue now, or held (`step` set when its step, not its flow, is paused). */
export type Route = { kind: "publish" } | { kind: "hold"; step?: string; held: RunHeld };

/**
 * Routes a run command: held while its flow is paused (the flow's pause first), then
 * while its step is; otherwise published onto its queue. A held run says which pause
 * holds it, that pause's sequence and why. Pure: the time arrives in `facts`.
 */
export function routeCommand(command: RunStep, facts: RouteFacts): Route {
  const { ofFlow, ofStep, eventSeq } = facts;
  const pause =
    ofFlow?.message.kind === "flow.paused"
      ? { key: command.flow, seq: ofFlow.seq }
      : ofStep?.message.kind === "flow.paused"
        ? { key: `${command.flow}/${command.step}`, step: command.step, seq: ofStep.seq }
        : undefined;
  if (!pause) return { kind: "publish" };
  const reason = `held: ${pause.step ? `step ${pause.key}` : `flow ${pause.key}`} is paused; the run starts when it is resumed`;
  const held: RunHeld = {
    v: 1,
    kind: "run.held",
    runId: command.runId,
    command,
    pause: pause.key,
    pausedSeq: pause.seq,
    reason,
    heldAt: facts.now,
    ...(eventSeq ? { eventSeq } : {}),
  };
  return { kind: "hold", ...(pause.step ? { step: pause.step } : {}), held };
}

/**
 * The runs a resume releases, of the messages on a held subject stored after its pause
 * and before the resume: the held runs, in the order their events were accepted (the
 * matcher decides several events at once, so the order they were held in can differ; a
 * message of an older version, without eventSeq, is ordered by its own sequence).
 */
export function releaseOrder(stored: readonly Stored[]): RunStep[] {
  const held = stored.flatMap(({ seq, message }) =>
    message.kind === "run.held" ? [{ order: message.eventSeq ?? seq, command: message.command }] : [],
  );
  return held.sort((a, b) => a.order - b.order).map((h) => h.command);
}

/** A deferred run's event as the debounce sees it (a message of an older version, without eventSeq, is ordered by its own sequence). */
export function arrivalOf(deferred: RunDeferred, storedSeq: number): Arrival {
  return { eventId: deferred.command.eventId, seq: deferred.eventSeq ?? storedSeq, arrivedAt: deferred.arrivedAt };
}

/** What a due debounced run does: goes on to be routed (unless canceled meanwhile), or is superseded. */
export type Settled = { kind: "release" } | { kind: "supersede"; superseded: RunSuperseded };

/**
 * Settles a debounced run once its wait is over (lib/flows/debounce.ts debounceVerdict):
 * `later` are the deferred runs stored after it on its key's subject; the first of them
 * whose event came within the debounce time supersedes it, else it is released. Pure:
 * the time arrives in `facts`.
 */
export function settleDeferred(
  deferred: RunDeferred,
  facts: { storedSeq: number; later: readonly Stored[]; now: string },
): Settled {
  const others = facts.later.flatMap(({ seq, message }) =>
    message.kind === "run.deferred" ? [arrivalOf(message, seq)] : [],
  );
  const verdict = debounceVerdict(arrivalOf(deferred, facts.storedSeq), others, deferred.debounceMs);
  if (verdict.start) return { kind: "release" };
  return {
    kind: "supersede",
    superseded: {
      v: 1,
      kind: "run.superseded",
      runId: deferred.runId,
      supersededBy: verdict.supersededBy,
      at: facts.now,
    },
  };
}
