import { parseFlowEvent, systemFieldProblems } from "../protocol/event.ts";
import { type FlowResult, NEXT_NOT_STARTED } from "../protocol/flow-result.ts";
import type { EventAccepted, RunStep } from "../protocol/messages.ts";

export const DEFAULT_MAX_CHAIN_DEPTH = 8;
export const DEFAULT_MAX_NEXT_EVENTS = 100;
export const DEFAULT_MAX_CHAIN_EVENTS = 1000;

/** How far `next` events may fan out (CODEX_FLOW_MAX_CHAIN_DEPTH, CODEX_FLOW_MAX_NEXT_EVENTS, CODEX_FLOW_MAX_CHAIN_EVENTS). */
export type ChainLimits = { maxDepth: number; maxNext: number; maxChainEvents: number };

export const DEFAULT_CHAIN_LIMITS: ChainLimits = {
  maxDepth: DEFAULT_MAX_CHAIN_DEPTH,
  maxNext: DEFAULT_MAX_NEXT_EVENTS,
  maxChainEvents: DEFAULT_MAX_CHAIN_EVENTS,
};

/** What a result started, why some were not, and how much of the run's budget it left (a run event carries that on). */
export type Chained = { events: EventAccepted[]; problems: string[]; unspent: number };

/**
 * The share of its chain's budget one run may spend: its event's budget (the limit for
 * an event that starts a chain) split evenly among the runs the event started
 * (`chainShares`, the steps it matched), so sibling runs on any hosts never spend the
 * same events twice.
 */
export function runBudget(command: Pick<RunStep, "chainBudget" | "chainShares">, limits: ChainLimits): number {
  return Math.floor(
    Math.min(command.chainBudget ?? limits.maxChainEvents, limits.maxChainEvents) / (command.chainShares ?? 1),
  );
}

/** The chain of an event a run starts: one level deeper, naming the run; `budget` is what the event may spend (none: the chain's limit). */
export function chainAfter(
  command: Pick<RunStep, "chainDepth" | "runId" | "flow" | "step">,
  budget?: number,
): NonNullable<EventAccepted["chain"]> {
  return {
    depth: (command.chainDepth ?? 0) + 1,
    runId: command.runId,
    flow: command.flow,
    step: command.step,
    ...(budget !== undefined ? { budget } : {}),
  };
}

/**
 * Turns a FLOW_RESULT's `next` into events to accept. An event without an id gets one
 * derived from the run (not the attempt), so a retried attempt that returns the same
 * `next` cannot start it twice; the source names the flow and step. An event in the
 * system's type namespace or with an id of the system's form is not started. Three
 * limits, each cut saying why: a chain deeper than `maxDepth` starts nothing; one result
 * starts at most `maxNext`; and a chain carries one budget (`maxChainEvents` at its
 * first event) that is split, never copied: among the runs of an event (runBudget),
 * and by each result among the events it starts after spending one per event. So
 * everything one event's chain starts, through every step and every level, stays
 * within the budget. Pure: the time arrives as `now`.
 */
export function chainedEvents(
  result: FlowResult | undefined,
  command: RunStep,
  now: string,
  limits: ChainLimits = DEFAULT_CHAIN_LIMITS,
): Chained {
  const next = result?.next ?? [];
  const budget = runBudget(command, limits);
  if (next.length === 0) return { events: [], problems: [], unspent: budget };
  const { depth } = chainAfter(command);
  if (depth > limits.maxDepth) {
    return {
      events: [],
      problems: [
        `next events ${NEXT_NOT_STARTED} chain depth ${depth} is over the limit of ${limits.maxDepth} (CODEX_FLOW_MAX_CHAIN_DEPTH)`,
      ],
      unspent: budget,
    };
  }
  const allowed = Math.min(next.length, limits.maxNext, budget);
  const problems: string[] = [];
  if (allowed < next.length) {
    const why =
      allowed === limits.maxNext
        ? `one result may start at most ${limits.maxNext} (CODEX_FLOW_MAX_NEXT_EVENTS)`
        : `this run may start only ${budget} more of its chain's ${limits.maxChainEvents} events (CODEX_FLOW_MAX_CHAIN_EVENTS)`;
    problems.push(
      `next events cut: the result asked for ${next.length}, ${allowed} started, ${next.length - allowed} ${NEXT_NOT_STARTED} ${why}`,
    );
  }
  const childBudget = allowed === 0 ? 0 : Math.floor((budget - allowed) / allowed);
  const events: EventAccepted[] = [];
  next.slice(0, allowed).forEach((candidate, index) => {
    // Only what the step chose is checked: the id given below is the system's own.
    const reserved = systemFieldProblems({ type: candidate.type, ...(candidate.id ? { id: candidate.id } : {}) });
    const withDefaults = {
      source: `flow:${command.flow}/${command.step}`,
      ...candidate,
      id: candidate.id || `${command.runId}/next/${index}`,
    };
    const parsed = parseFlowEvent(withDefaults, new Date(now));
    if (!parsed.ok || reserved.length > 0) {
      problems.push(
        `next[${index}] ${NEXT_NOT_STARTED} ${[...reserved, ...(parsed.ok ? [] : parsed.errors)].join("; ")}`,
      );
      return;
    }
    events.push({
      v: 1,
      kind: "event.accepted",
      event: parsed.event,
      acceptedAt: now,
      chain: chainAfter(command, childBudget),
    });
  });
  // A slot given to an event that was not started stays spent: what was split cannot be taken back.
  return { events, problems, unspent: budget - allowed - allowed * childBudget };
}
