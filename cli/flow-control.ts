import { UsageError } from "./args.ts";
import { type ApiTarget, apiFailure, callApi } from "./client.ts";
import { type Format, printResult } from "./output.ts";
import { printJsonLine, printLine } from "./terminal.ts";

/** `flow pause FLOW [--step STEP] [--reason TEXT]`, `flow resume FLOW [--step STEP]`. */
export async function pauseFlow(
  target: ApiTarget,
  action: "pause" | "resume",
  flow: string | undefined,
  step: string | undefined,
  reason: string | undefined,
  format: Format,
): Promise<number> {
  if (!flow) throw new UsageError(`expected a flow name: flow ${action} FLOW [--step STEP]`);
  const answer = await callApi(target, "POST", `/flows/${encodeURIComponent(flow)}/${action}`, {
    ...(step ? { step } : {}),
    ...(reason && action === "pause" ? { reason } : {}),
  });
  if (apiFailure(answer)) return 1;
  const what = step ? `step ${flow}/${step}` : `flow ${flow}`;
  printResult(
    format,
    action === "pause"
      ? `${what} paused: its matched runs wait until \`flow resume\``
      : `${what} resumed: runs held meanwhile are queued in order`,
    answer.body,
  );
  return 0;
}

/** The pause marks `flow list` shows, from a running ingress; undefined when none answers. */
export async function pauseMarks(target: ApiTarget): Promise<Set<string> | undefined> {
  // `flow list` works without a server: a short look, and nothing when none answers.
  const headers: Record<string, string> = target.token ? { authorization: `Bearer ${target.token}` } : {};
  const response = await fetch(`${target.url.replace(/\/$/, "")}/flows`, {
    headers,
    signal: AbortSignal.timeout(2_000),
  }).catch(() => undefined);
  if (response?.status !== 200) return undefined;
  const body = (await response.json().catch(() => undefined)) as { flows?: unknown } | undefined;
  if (!Array.isArray(body?.flows)) return undefined;
  const marks = new Set<string>();
  for (const flow of body.flows as { name: string; paused: boolean; steps: { name: string; paused: boolean }[] }[]) {
    if (flow.paused) marks.add(flow.name);
    for (const step of flow.steps) if (step.paused) marks.add(`${flow.name}/${step.name}`);
  }
  return marks;
}

export type BulkReplay = {
  type?: string;
  since?: string;
  until?: string;
  flow?: string;
  dryRun: boolean;
  concurrency?: string;
  format: Format;
};

/**
 * `flow replay --type T --since TIME [--until TIME] [--flow F] [--dry-run]`: the plan
 * (per event: steps that would newly match, no longer match and why, the same), then,
 * without --dry-run, each event replayed through POST /events/:id/replay (only --flow's
 * steps run), at most --concurrency at a time, with a progress line per event.
 */
export async function bulkReplay(target: ApiTarget, options: BulkReplay): Promise<number> {
  if (!options.type || !options.since)
    throw new UsageError(
      "bulk replay needs --type TYPE and --since TIME (and optionally --until TIME, --flow FLOW, --dry-run)",
    );
  const concurrency = options.concurrency === undefined ? 4 : Number(options.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16)
    throw new UsageError(`--concurrency ${options.concurrency}: expected an integer from 1 to 16`);
  const body = {
    type: options.type,
    since: options.since,
    ...(options.until ? { until: options.until } : {}),
    ...(options.flow ? { flow: options.flow } : {}),
    dryRun: true,
  };
  const answer = await callApi(target, "POST", "/replays", body);
  if (apiFailure(answer)) return 1;
  const plan = answer.body as { count: number; truncated: boolean; events: Record<string, any>[] };
  const json = options.format === "json";
  const cutNote = plan.truncated ? " (cut at the first 1000: narrow --since/--until)" : "";
  if (json && plan.truncated) console.error(`${plan.count} event(s)${cutNote}`);
  if (json && options.dryRun) {
    for (const event of plan.events) printJsonLine(event);
    return 0;
  }
  if (!json) printPlan(plan, cutNote);
  if (options.dryRun) return 0;
  let done = 0;
  let errors = 0;
  const queue = [...plan.events];
  const worker = async () => {
    for (let e = queue.shift(); e; e = queue.shift()) {
      const replayed = await callApi(target, "POST", `/events/${encodeURIComponent(e.eventId)}/replay`, {
        wait: false,
        ...(options.flow ? { flow: options.flow } : {}),
      });
      done++;
      if (replayed.status !== 202) errors++;
      if (json)
        printJsonLine(
          replayed.status === 202
            ? { eventId: e.eventId, generation: replayed.body.generation, runIds: replayed.body.runIds ?? [] }
            : { eventId: e.eventId, error: replayed.body?.error ?? `status ${replayed.status}` },
        );
      else if (replayed.status === 202)
        console.log(`[${done}/${plan.count}] ${e.eventId} replayed as generation ${replayed.body.generation}`);
      else
        console.error(`[${done}/${plan.count}] ${e.eventId} failed: ${replayed.status} ${replayed.body?.error ?? ""}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, plan.events.length) }, worker));
  return errors > 0 ? 1 : 0;
}

/** The plan as text: per event, the steps that newly match, no longer match (and why), and the same. */
function printPlan(plan: { count: number; events: Record<string, any>[] }, cutNote: string): void {
  const steps = (list: { flow: string; step: string }[]) => list.map((s) => `${s.flow}/${s.step}`).join(", ");
  for (const e of plan.events) {
    printLine(`${e.eventId}  ${e.acceptedAt}${e.matchedBefore ? "" : "  (never matched)"}`);
    if (e.newMatches.length) console.log(`  new:  ${steps(e.newMatches)}`);
    for (const gone of e.noLongerMatching)
      printLine(`  no longer: ${gone.flow}/${gone.step}: ${gone.reasons.join("; ")}`);
    if (e.same.length) console.log(`  same: ${steps(e.same)}`);
    if (!e.newMatches.length && !e.noLongerMatching.length && !e.same.length)
      console.log("  nothing matches, then or now");
  }
  console.log(`${plan.count} event(s)${cutNote}`);
}
