import { parseFlowEvent } from "../../lib/event.ts";
import { type FlowResult, NEXT_NOT_STARTED } from "../../lib/flow-result.ts";
import type { EventAccepted, RunStep } from "../../lib/messages.ts";

export const DEFAULT_MAX_CHAIN_DEPTH = 8;
export const DEFAULT_MAX_NEXT_EVENTS = 100;
export const DEFAULT_MAX_CHAIN_EVENTS = 1000;

/** How far `next` events may fan out (CODEX_FLOW_MAX_CHAIN_DEPTH, CODEX_FLOW_MAX_NEXT_EVENTS, CODEX_FLOW_MAX_CHAIN_EVENTS). */
export type ChainLimits = { maxDepth: number; maxNext: number; maxChainEvents: number };

export const DEFAULT_CHAIN_LIMITS: ChainLimits = { maxDepth: DEFAULT_MAX_CHAIN_DEPTH, maxNext: DEFAULT_MAX_NEXT_EVENTS, maxChainEvents: DEFAULT_MAX_CHAIN_EVENTS };

export type Chained = { events: EventAccepted[]; problems: string[] };

/**
 * Turns a FLOW_RESULT's `next` into events to accept. An event without an id gets one
 * derived from the run (not the attempt), so a retried attempt that returns the same
 * `next` cannot start it twice; the source names the flow and step. Three limits, each
 * cut saying why: a chain deeper than `maxDepth` starts nothing; one result starts at
 * most `maxNext`; and a chain carries a budget (`maxChainEvents` at its first event)
 * that each result spends on what it starts and splits evenly among them, so everything
 * one event's chain starts through one step stays within the budget. Pure: the time
 * arrives as `now`.
 */
export function chainedEvents(result: FlowResult | undefined, command: RunStep, now: string, limits: ChainLimits = DEFAULT_CHAIN_LIMITS): Chained {
  const next = result?.next ?? [];
  if (next.length === 0) return { events: [], problems: [] };
  const depth = (command.chainDepth ?? 0) + 1;
  if (depth > limits.maxDepth) {
    return { events: [], problems: [`next events ${NEXT_NOT_STARTED} chain depth ${depth} is over the limit of ${limits.maxDepth} (CODEX_FLOW_MAX_CHAIN_DEPTH)`] };
  }
  const budget = Math.min(command.chainBudget ?? limits.maxChainEvents, limits.maxChainEvents);
  const allowed = Math.min(next.length, limits.maxNext, budget);
  const problems: string[] = [];
  if (allowed < next.length) {
    const why =
      allowed === limits.maxNext
        ? `one result may start at most ${limits.maxNext} (CODEX_FLOW_MAX_NEXT_EVENTS)`
        : `this chain may start only ${budget} more of its ${limits.maxChainEvents} events (CODEX_FLOW_MAX_CHAIN_EVENTS)`;
    problems.push(`next events cut: the result asked for ${next.length}, ${allowed} started, ${next.length - allowed} ${NEXT_NOT_STARTED} ${why}`);
  }
  const childBudget = allowed === 0 ? 0 : Math.floor((budget - allowed) / allowed);
  const events: EventAccepted[] = [];
  next.slice(0, allowed).forEach((candidate, index) => {
    const withDefaults = { source: `flow:${command.flow}/${command.step}`, ...candidate, id: candidate.id || `${command.runId}/next/${index}` };
    const parsed = parseFlowEvent(withDefaults, new Date(now));
    if (!parsed.ok) {
      problems.push(`next[${index}] ${NEXT_NOT_STARTED} ${parsed.errors.join("; ")}`);
      return;
    }
    events.push({ v: 1, kind: "event.accepted", event: parsed.event, acceptedAt: now, chain: { depth, runId: command.runId, flow: command.flow, step: command.step, budget: childBudget } });
  });
  return { events, problems };
}
