import { parseFlowEvent } from "../../lib/event.ts";
import { type FlowResult, NEXT_NOT_STARTED } from "../../lib/flow-result.ts";
import type { EventAccepted, RunStep } from "../../lib/messages.ts";

export const DEFAULT_MAX_CHAIN_DEPTH = 8;

export type Chained = { events: EventAccepted[]; problems: string[] };

/**
 * Turns a FLOW_RESULT's `next` into events to accept. An event without an id gets one
 * derived from the run (not the attempt), so a retried attempt that returns the same
 * `next` cannot start it twice; the source names the flow and step. A chain deeper than
 * `maxDepth` starts nothing and says why. Pure: the time arrives as `now`.
 */
export function chainedEvents(result: FlowResult | undefined, command: RunStep, now: string, maxDepth = DEFAULT_MAX_CHAIN_DEPTH): Chained {
  const next = result?.next ?? [];
  if (next.length === 0) return { events: [], problems: [] };
  const depth = (command.chainDepth ?? 0) + 1;
  if (depth > maxDepth) {
    return { events: [], problems: [`next events ${NEXT_NOT_STARTED} chain depth ${depth} is over the limit of ${maxDepth}`] };
  }
  const events: EventAccepted[] = [];
  const problems: string[] = [];
  next.forEach((candidate, index) => {
    const withDefaults = { source: `flow:${command.flow}/${command.step}`, ...candidate, id: candidate.id || `${command.runId}/next/${index}` };
    const parsed = parseFlowEvent(withDefaults, new Date(now));
    if (!parsed.ok) {
      problems.push(`next[${index}] ${NEXT_NOT_STARTED} ${parsed.errors.join("; ")}`);
      return;
    }
    events.push({ v: 1, kind: "event.accepted", event: parsed.event, acceptedAt: now, chain: { depth, runId: command.runId, flow: command.flow, step: command.step } });
  });
  return { events, problems };
}
