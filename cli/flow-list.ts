import { isAbsolute, relative } from "node:path";
import { flowCatalog } from "../lib/flows/catalog.ts";
import type { Flow, FlowStep } from "../lib/flows/manifest.ts";
import type { Schedule } from "../lib/flows/schedule.ts";
import { EXIT } from "./args.ts";
import { type Column, type Format, printRows } from "./output.ts";
import { printErrorLine } from "./terminal.ts";

/** One row of `flow list`: a step of a flow, or a schedule none of its flow's steps takes (no step). */
type Row = { flow: Flow; step?: FlowStep; schedules: Schedule[]; root: string; paused?: Set<string> };

const scheduleText = (s: Schedule) => `${s.name} "${s.cron}" ${s.timezone}`;

/** Paused marks from a running ingress: `yes`, `yes (flow)`, `no`; `-` when no ingress answered. */
function pausedCell({ flow, step, paused }: Row): string | undefined {
  if (!paused) return undefined;
  if (step && paused.has(`${flow.name}/${step.name}`)) return "yes";
  return paused.has(flow.name) ? "yes (flow)" : "no";
}

/** The event type the step takes, and its debounce when it has one. */
function triggerCell(step: FlowStep): string {
  const { type, debounce } = step.trigger;
  return `${type}${debounce ? ` (debounced ${debounce.ms} ms by ${debounce.key})` : ""}`;
}

const COLUMNS: Column<Row>[] = [
  { header: "FLOW", cell: (r) => r.flow.name },
  { header: "VERSION", cell: (r) => r.flow.version },
  { header: "STEP", cell: (r) => r.step?.name },
  { header: "TRIGGER", cell: (r) => r.step && triggerCell(r.step) },
  { header: "SCHEMA", cell: (r) => r.step?.trigger.schema },
  { header: "RUNNER", cell: (r) => r.step?.runner },
  { header: "SCRIPT", cell: (r) => r.step?.script },
  {
    header: "SCHEDULE",
    // A step's row: the schedules whose events it takes; a schedule's own row also says the type it emits.
    cell: (r) =>
      r.schedules.map((s) => (r.step ? scheduleText(s) : `${scheduleText(s)} -> ${s.event.type}`)).join(", "),
  },
  { header: "PAUSED", cell: pausedCell },
  { header: "ROOT", cell: (r) => r.root },
  { header: "DESCRIPTION", cell: (r) => r.flow.description, flexible: true },
];

/** A flow's folder as the table shows it: relative to the working directory when under it. */
function rootOf(cwd: string, flow: Flow): string {
  const path = relative(cwd, flow.root);
  return path === "" || path.startsWith("..") || isAbsolute(path) ? flow.root : path;
}

/** The rows of one flow: a row a step, then a row for each schedule whose event type none of its steps takes. */
function rowsOf(cwd: string, flow: Flow, paused: Set<string> | undefined): Row[] {
  const schedules = flow.schedules ?? [];
  const root = rootOf(cwd, flow);
  const rows: Row[] = flow.steps.map((step) => ({
    flow,
    step,
    schedules: schedules.filter((s) => s.event.type === step.trigger.type),
    root,
    paused,
  }));
  for (const schedule of schedules)
    if (!flow.steps.some((step) => step.trigger.type === schedule.event.type))
      rows.push({ flow, schedules: [schedule], root, paused });
  // A flow with nothing to list still has its row.
  return rows.length > 0 ? rows : [{ flow, schedules: [], root, paused }];
}

/**
 * `flow list`: a table of every flow step found under the working directory (docs/cli.md),
 * or with --json a flow a line; `paused` marks (from a running ingress) say which flows
 * and steps are paused. Shadowed copies and what did not load go to stderr (exit 1 when
 * something did not load).
 */
export function listFlows(cwd: string, paused?: Set<string>, format: Format = "table"): number {
  const { discovery, problems } = flowCatalog(cwd).current();
  const failed = discovery.problems.length + problems.length > 0 ? EXIT.failed : EXIT.ok;
  const empty = `no flows under ${cwd} (looked in .codex/flows and flows)`;
  if (format === "json") printRows(format, discovery.flows, [], (flow) => flowRecord(flow, paused), empty);
  else
    printRows(
      format,
      discovery.flows.flatMap((flow) => rowsOf(cwd, flow, paused)),
      COLUMNS,
      (row) => row,
      empty,
    );
  for (const s of discovery.shadowed)
    printErrorLine(`shadowed: ${s.name} at ${s.path} (the copy at ${s.shadowedBy} wins)`);
  for (const p of [...discovery.problems, ...problems]) printErrorLine(`problem: ${p.message}`);
  return failed;
}

/** A flow as `flow list --json` prints it (docs/cli.md). */
function flowRecord(flow: Flow, paused: Set<string> | undefined) {
  const pausedMark = (name: string) => (paused ? paused.has(name) : null);
  return {
    name: flow.name,
    version: flow.version,
    description: flow.description ?? null,
    root: flow.root,
    paused: pausedMark(flow.name),
    steps: flow.steps.map((s) => ({
      name: s.name,
      runner: s.runner,
      script: s.script,
      triggerType: s.trigger.type,
      schema: s.trigger.schema ?? null,
      debounce: s.trigger.debounce ?? null,
      paused: pausedMark(`${flow.name}/${s.name}`),
    })),
    schedules: (flow.schedules ?? []).map((s) => ({
      name: s.name,
      cron: s.cron,
      timezone: s.timezone,
      eventType: s.event.type,
    })),
  };
}
