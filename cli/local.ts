import { loadConfig } from "../lib/config.ts";
import { type FlowCatalog, flowCatalog } from "../lib/flows/catalog.ts";
import type { Flow, FlowStep } from "../lib/flows/manifest.ts";
import type { StepMatch } from "../lib/flows/trigger.ts";
import { logger } from "../lib/log.ts";
import { type FlowEvent, parseFlowEvent } from "../lib/protocol/event.ts";
import { runIdFor } from "../lib/protocol/ids.ts";
import { executeStep } from "../lib/runners/index.ts";
import type { StepOutcome } from "../lib/runners/types.ts";
import { hideFromSteps } from "../lib/undumpable.ts";
import { EXIT, readJsonFile, UsageError } from "./args.ts";
import { checkNext, printNextCheck } from "./next-check.ts";
import type { Format } from "./output.ts";
import { printJsonLine, printLine, writeSafely } from "./terminal.ts";

async function loadEvent(path: string | undefined): Promise<FlowEvent> {
  const parsed = parseFlowEvent(await readJsonFile(path, "--event"), new Date());
  if (!parsed.ok) throw new UsageError(`--event ${path}: not a FlowEvent: ${parsed.errors.join("; ")}`);
  return parsed.event;
}

/** Why a step's trigger said no to the event: the matcher's own reasons (the type, then the payload schema). */
const whyNot = (m: StepMatch) => `${m.flow.name}/${m.step.name}: ${m.reasons.join("; ")}`;

/**
 * Says that nothing ran because the trigger said no (exit code 3, docs/cli.md): the `table`
 * lines, or with --json each step's record (`matched: false`, `reasons`). The decisions are
 * TriggerIndex.match's, the one services/matcher/decide.ts records for every step.
 */
function nothingMatched(event: FlowEvent, misses: StepMatch[], format: Format, table: string[]): number {
  if (format === "json")
    for (const m of misses)
      printJsonLine({ flow: m.flow.name, step: m.step.name, eventId: event.id, matched: false, reasons: m.reasons });
  else for (const line of table) printLine(line);
  return EXIT.nothingMatched;
}

/**
 * `flow fire`: runs every matching step for the event here, without NATS, as the original
 * backend did (seed/flows.md). Exit code 3 when no step matched (each step's reasons said), 1 when a step failed.
 */
export async function fireLocally(
  cwd: string,
  eventPath: string | undefined,
  format: Format = "table",
): Promise<number> {
  hideFromSteps(logger("flow"));
  const event = await loadEvent(eventPath);
  const catalog = flowCatalog(cwd);
  const matches = catalog.current().match(event);
  const matched = matches.filter((m) => m.matched);
  if (matched.length === 0)
    return nothingMatched(event, matches, format, [
      `no step matched event ${event.id} (${event.type})`,
      ...matches.map((m) => `  ${whyNot(m)}`),
    ]);
  let failures = 0;
  for (const { flow, step } of matched)
    if (!(await runOne({ flow, step, event, catalog, shares: matched.length }, format))) failures++;
  return failures > 0 ? EXIT.failed : EXIT.ok;
}

/**
 * `flow run FLOW STEP [--force]`: runs one step for the event here when its trigger matches
 * the event as the matcher would decide; exit code 3 with the reason when it does not, unless
 * --force (then a warning, and it runs).
 */
export async function runLocally(
  cwd: string,
  flowName: string | undefined,
  stepName: string | undefined,
  eventPath: string | undefined,
  format: Format = "table",
  force = false,
): Promise<number> {
  hideFromSteps(logger("flow"));
  if (!flowName || !stepName)
    throw new UsageError("expected FLOW and STEP, e.g. flow run example-flow greet --event event.json");
  const catalog = flowCatalog(cwd);
  const found = catalog.find(flowName, stepName);
  if (!found) {
    // A step that did not load says why, as the matcher's decisions do.
    const broken = catalog
      .current()
      .notLoaded.find((n) => n.flow === flowName && (n.step === stepName || n.step === "*"));
    throw new UsageError(
      broken ? broken.reason : `no step "${stepName}" in flow "${flowName}" under ${cwd} (see: flow list)`,
    );
  }
  const event = await loadEvent(eventPath);
  const decision = catalog
    .current()
    .match(event)
    .find((m) => m.flow.name === flowName && m.step.name === stepName);
  if (decision && !decision.matched) {
    const why = `event ${event.id} (${event.type}) does not match ${whyNot(decision)}`;
    if (!force) return nothingMatched(event, [decision], format, [`not run: ${why} (--force runs it anyway)`]);
    console.error(`warning: ${why}; running it anyway (--force)`);
  }
  const run = { ...found, event, catalog, shares: 1, matched: decision?.matched !== false };
  return (await runOne(run, format)) ? EXIT.ok : EXIT.failed;
}

type LocalRun = {
  flow: Flow;
  step: FlowStep;
  event: FlowEvent;
  catalog: FlowCatalog /** The runs the event starts here, which share its chain's budget. */;
  shares: number;
  /** False when --force runs a step whose trigger does not take the event. */
  matched?: boolean;
};

/**
 * Runs one step here; the summary line, or with --json its record (the step's own output
 * then goes to stderr, so stdout is JSON Lines only). Its `next` is checked as the system
 * would; false when the step failed or asked for events the system would not start.
 */
async function runOne(
  { flow, step, event, catalog, shares, matched = true }: LocalRun,
  format: Format,
): Promise<boolean> {
  const runId = runIdFor(event.id, 0, flow.name, step.name);
  console.error(`running ${flow.name}/${step.name} (${runId}) for event ${event.id}`);
  const outcome = await executeStep({
    flow,
    step,
    event,
    runId,
    attempt: 1,
    onOutput: ({ stream, text }) =>
      writeSafely(stream === "stdout" && format === "table" ? process.stdout : process.stderr, text, true),
  });
  const next = checkNext(
    { flow, step, event, runId, result: outcome.result, shares },
    catalog,
    loadConfig(process.env, { cwd: flow.root }),
  );
  if (format === "json")
    printJsonLine({
      flow: flow.name,
      step: step.name,
      eventId: event.id,
      runId,
      matched,
      status: outcome.status,
      result: outcome.result ?? null,
      error: outcome.error ?? null,
      durationMs: Math.round(outcome.durationMs),
      next: next.events,
      nextProblems: next.problems,
    });
  else {
    printLine(summary(flow, step, outcome));
    printNextCheck(next);
  }
  return outcome.status === "completed" && next.problems.length === 0;
}

function summary(flow: Flow, step: FlowStep, outcome: StepOutcome): string {
  const verdict = outcome.result
    ? ` result=${outcome.result.status}${outcome.result.message ? ` "${outcome.result.message}"` : ""}`
    : "";
  const error = outcome.error ? ` error="${outcome.error}"` : "";
  return `${flow.name}/${step.name}: ${outcome.status}${verdict}${error} in ${Math.round(outcome.durationMs)} ms`;
}
