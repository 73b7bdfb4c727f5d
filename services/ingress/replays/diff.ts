import type { StepDecision } from "../../../lib/protocol/messages.ts";

/** One step's verdict under the flows as they are now. */
export type NowMatch = { flow: string; step: string; matched: boolean; reasons: string[] };
export type StepRef = { flow: string; step: string };

/** How a replay of one event would differ from what its last match started. */
export type ReplayDiff = {
  /** Steps that match now and did not then (or did not exist). */
  newMatches: StepRef[];
  /** Steps that matched then and do not now, with why (their reasons now, or that they are gone). */
  noLongerMatching: (StepRef & { reasons: string[] })[];
  /** Steps that matched then and match now. */
  same: StepRef[];
};

const keyOf = (ref: StepRef) => `${ref.flow}\n${ref.step}`;

/**
 * Compares an event's last match decisions (`then`; none when it was never matched)
 * with the steps that match it now. `flow` limits both sides to one flow. Pure.
 */
export function replayDiff(then: StepDecision[] | undefined, now: NowMatch[], flow?: string): ReplayDiff {
  const inFlow = (ref: StepRef) => flow === undefined || ref.flow === flow;
  const thenMatched = new Map((then ?? []).filter((d) => d.matched && inFlow(d)).map((d) => [keyOf(d), d] as const));
  const nowByKey = new Map(now.filter(inFlow).map((m) => [keyOf(m), m] as const));
  const diff: ReplayDiff = { newMatches: [], noLongerMatching: [], same: [] };
  for (const match of nowByKey.values()) {
    if (!match.matched) continue;
    const ref = { flow: match.flow, step: match.step };
    (thenMatched.has(keyOf(match)) ? diff.same : diff.newMatches).push(ref);
  }
  for (const decision of thenMatched.values()) {
    const current = nowByKey.get(keyOf(decision));
    if (current?.matched) continue;
    const flowExists = now.some((m) => m.flow === decision.flow);
    const reasons = current
      ? current.reasons
      : [
          flowExists
            ? `step "${decision.step}" no longer exists in flow "${decision.flow}"`
            : `flow "${decision.flow}" no longer exists`,
        ];
    diff.noLongerMatching.push({ flow: decision.flow, step: decision.step, reasons });
  }
  return diff;
}
