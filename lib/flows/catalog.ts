import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "../log.ts";
import { type Discovery, discoverFlows, FLOW_DIRS } from "./discovery.ts";
import type { Flow, FlowStep } from "./manifest.ts";
import { compileTriggers, type TriggerIndex } from "./trigger.ts";

/** The flows of one working directory, discovered and compiled once and again only when files change. */
export type FlowCatalog = {
  /** The current index; re-discovers first when a flow file changed since the last look. */
  current(): TriggerIndex & { discovery: Discovery };
  /** The flow and step of that name, from the current index. */
  find(flow: string, step: string): { flow: Flow; step: FlowStep } | undefined;
};

/**
 * Loads the flows under `cwd`. Changes are noticed by a cheap fingerprint of the flow
 * folders' file names and mtimes, taken at most every `checkEveryMs`, so matching an
 * event never reads a manifest or compiles a schema unless something changed. What did
 * not load is logged (once per change) when `reportProblems`; one service per process
 * reports, the matcher. A reload that cannot read the folders (out of descriptors, EMFILE,
 * or any other error) keeps the last catalog, logs once until a reload succeeds, and is
 * tried again at the next check: a starved process never drops its flows or dies of it.
 */
export function flowCatalog(
  cwd: string,
  log?: Logger,
  options: { checkEveryMs?: number; reportProblems?: boolean } = {},
): FlowCatalog {
  const checkEveryMs = options.checkEveryMs ?? 2_000;
  const report = options.reportProblems === false ? undefined : log;
  let fingerprint = fingerprintOf(cwd);
  let index = build(cwd, report);
  let checkedAt = Date.now();
  let failing = false;
  const current = () => {
    if (Date.now() - checkedAt >= checkEveryMs) {
      checkedAt = Date.now();
      try {
        const now = fingerprintOf(cwd);
        if (now !== fingerprint) {
          index = build(cwd, report);
          fingerprint = now;
          log?.info("flows reloaded", { flows: index.flows.map((f) => f.name) });
        }
        if (failing) log?.info("flows can be read again");
        failing = false;
      } catch (error) {
        if (!failing)
          log?.error(
            `cannot reload the flows, keeping the last catalog until they can be read: ${(error as Error).message}`,
          );
        failing = true;
      }
    }
    return index;
  };
  return {
    current,
    find(flowName, stepName) {
      const flow = current().flows.find((f) => f.name === flowName);
      const step = flow?.steps.find((s) => s.name === stepName);
      return flow && step ? { flow, step } : undefined;
    },
  };
}

/** Errors that say the process (or system) ran out of descriptors: a reload then reads nothing true. */
const OUT_OF_DESCRIPTORS = /\b(EMFILE|ENFILE)\b/;

function outOfDescriptors(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === "EMFILE" || code === "ENFILE" || OUT_OF_DESCRIPTORS.test(String((error as Error)?.message ?? error));
}

function build(cwd: string, log?: Logger): TriggerIndex & { discovery: Discovery } {
  const discovery = discoverFlows(cwd);
  const index = compileTriggers(discovery.flows, discovery.problems);
  // Discovery records unreadable files as problems; out of descriptors, those are not the flows' fault.
  const starved = [...discovery.problems, ...index.problems].find((problem) =>
    OUT_OF_DESCRIPTORS.test(problem.message),
  );
  if (starved) throw new Error(starved.message);
  for (const problem of [...discovery.problems, ...index.problems]) log?.warn(`flow problem: ${problem.message}`);
  return { ...index, discovery };
}

/** Names and mtimes of everything under the flow folders (two levels of manifests, schemas, scripts). */
function fingerprintOf(cwd: string): string {
  const parts: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (error) {
      if (outOfDescriptors(error)) throw error;
      return;
    }
    for (const entry of entries.sort()) {
      const path = join(dir, entry);
      try {
        const stat = statSync(path);
        parts.push(`${path}:${stat.mtimeMs}:${stat.size}`);
        if (stat.isDirectory() && depth < 3) walk(path, depth + 1);
      } catch (error) {
        if (outOfDescriptors(error)) throw error;
        parts.push(`${path}:gone`);
      }
    }
  };
  for (const dir of FLOW_DIRS) walk(resolve(cwd, dir), 0);
  return parts.join("\n");
}
