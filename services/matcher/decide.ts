import { queueFor } from "../../lib/flows/step-policy.ts";
import type { TriggerIndex } from "../../lib/flows/trigger.ts";
import { runIdFor } from "../../lib/protocol/ids.ts";
import type { EventAccepted, EventMatched, RunStep } from "../../lib/protocol/messages.ts";

export type Decision = { matched: EventMatched; commands: RunStep[] };

/**
 * Decides what one accepted event starts: one RunStep per matching step, with run ids
 * derived from (event id, generation, flow, step) so a repeat decides identically, and
 * the match decision for every step, matched or not, with its reasons; a replay that
 * names a flow starts only that flow's steps. Pure: the time
 * arrives as `now`.
 */
export function decide(
  accepted: EventAccepted,
  index: Pick<TriggerIndex, "match"> & Partial<Pick<TriggerIndex, "notLoaded">>,
  now: string,
): Decision {
  const { event } = accepted;
  const generation = accepted.replay?.generation ?? 0;
  const onlyFlow = accepted.replay?.flow;
  const commands: RunStep[] = [];
  const matches = index.match(event);
  // The event's chain budget is one, shared by every run it starts (lib/flows/chain.ts runBudget).
  const shares = matches.filter((m) => m.matched).length;
  const decisions = matches.map(({ flow, step, matched, reasons }) => {
    const base = { flow: flow.name, flowVersion: flow.version, step: step.name, runner: step.runner, matched, reasons };
    if (!matched) return base;
    // A replay limited to one flow starts nothing elsewhere (a release flow that pushes must not run again unasked).
    if (onlyFlow !== undefined && flow.name !== onlyFlow)
      return {
        ...base,
        matched: false,
        reasons: [...reasons, `not replayed: this replay is limited to flow ${JSON.stringify(onlyFlow)}`],
      };
    const runId = runIdFor(event.id, generation, flow.name, step.name);
    const queue = queueFor(step.policy);
    commands.push({
      v: 1,
      kind: "run.step",
      runId,
      eventId: event.id,
      generation,
      flow: flow.name,
      flowVersion: flow.version,
      step: step.name,
      runner: step.runner,
      queue,
      event,
      createdAt: now,
      chainDepth: accepted.chain?.depth ?? 0,
      ...(accepted.chain?.budget !== undefined ? { chainBudget: accepted.chain.budget } : {}),
      ...(shares > 1 ? { chainShares: shares } : {}),
    });
    return { ...base, runId, queue };
  });
  // What did not load is part of every decision, so an event it would have matched is not silently ignored.
  const broken = (index.notLoaded ?? []).map(({ flow, flowVersion, step, reason }) => ({
    flow,
    flowVersion,
    step,
    runner: "-",
    matched: false,
    reasons: [reason],
  }));
  return {
    matched: {
      v: 1,
      kind: "event.matched",
      eventId: event.id,
      generation,
      matchedAt: now,
      decisions: [...decisions, ...broken],
    },
    commands,
  };
}
