import type { Config } from "../lib/config.ts";
import type { FlowCatalog } from "../lib/flows/catalog.ts";
import { chainedEvents } from "../lib/flows/chain.ts";
import type { Flow, FlowStep } from "../lib/flows/manifest.ts";
import type { FlowEvent } from "../lib/protocol/event.ts";
import type { FlowResult } from "../lib/protocol/flow-result.ts";
import { printErrorLine, printLine } from "./terminal.ts";

/** What the system would do with a result's `next`: each event it would start (and the steps that would match it), and why any would not start. */
export type NextCheck = { events: { id: string; type: string; matches: string[] }[]; problems: string[] };

type Run = {
  flow: Flow;
  step: FlowStep;
  event: FlowEvent;
  runId: string;
  result: FlowResult | undefined;
  shares: number;
};

/**
 * Checks a FLOW_RESULT's `next` as the executor would (lib/flows/chain.ts: ids, the
 * system's reserved types and ids, FlowEvent fields, the depth, fan-out and chain
 * budget limits of this configuration, with the event run here as a chain's first),
 * and matches each event it would start against the flows here.
 */
export function checkNext(
  run: Run,
  catalog: FlowCatalog,
  limits: Pick<Config, "maxChainDepth" | "maxNextEvents" | "maxChainEvents">,
): NextCheck {
  const now = new Date().toISOString();
  const command = {
    v: 1 as const,
    kind: "run.step" as const,
    runId: run.runId,
    eventId: run.event.id,
    generation: 0,
    flow: run.flow.name,
    flowVersion: run.flow.version,
    step: run.step.name,
    runner: run.step.runner,
    queue: "local",
    event: run.event,
    createdAt: now,
    chainDepth: 0,
    ...(run.shares > 1 ? { chainShares: run.shares } : {}),
  };
  const chained = chainedEvents(run.result, command, now, {
    maxDepth: limits.maxChainDepth,
    maxNext: limits.maxNextEvents,
    maxChainEvents: limits.maxChainEvents,
  });
  const index = catalog.current();
  const events = chained.events.map(({ event }) => ({
    id: event.id,
    type: event.type,
    matches: index
      .match(event)
      .filter((m) => m.matched)
      .map((m) => `${m.flow.name}/${m.step.name}`),
  }));
  return { events, problems: chained.problems };
}

/** The check as lines: each event under the run's summary on stdout, each problem as a warning on stderr. */
export function printNextCheck(check: NextCheck): void {
  for (const e of check.events)
    printLine(
      `  next: event ${e.id} (${e.type}) would start ${e.matches.length ? e.matches.join(", ") : "no step here"}`,
    );
  for (const problem of check.problems) printErrorLine(`warning: ${problem}`);
}
