import type { EventMatched } from "../../lib/protocol/messages.ts";

/** What the matcher records when it gives up on an event: its decision, and the runs to cancel. */
export type GiveUp = { matched: EventMatched; cancel: string[] };

/**
 * The decision recorded when every delivery of an event failed. An earlier delivery may
 * have published some of its commands: a matched step whose run has records in the
 * stream (`recorded`: started, ended, superseded or canceled) keeps its run id, with a
 * note, so the decision never denies a run that exists. Every other matched step is
 * "not started" with why, and its run is canceled: a command (or a held or deferred run)
 * that was published but not yet taken then never starts against this decision. Pure.
 */
export function giveUpDecision(matched: EventMatched, recorded: ReadonlySet<string>, why: string): GiveUp {
  const cancel: string[] = [];
  const decisions = matched.decisions.map((decision) => {
    if (!decision.matched || decision.runId === undefined) return decision;
    if (recorded.has(decision.runId))
      return {
        ...decision,
        reasons: [...decision.reasons, `the matcher gave up ${why}, after this run was published`],
      };
    cancel.push(decision.runId);
    const { runId: _runId, queue: _queue, ...rest } = decision;
    return { ...rest, matched: false, reasons: [...decision.reasons, `not started: the matcher gave up ${why}`] };
  });
  return { matched: { ...matched, decisions }, cancel };
}
