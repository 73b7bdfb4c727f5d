import { eventsBefore, type Retention, retentionRules } from "../../lib/flows/retention.ts";
import { runIdFor } from "../../lib/protocol/ids.ts";
import { encodeMessage, type FlowMessage, type PurgeRuns } from "../../lib/protocol/messages.ts";
import type { ServiceContext } from "../../services/runtime/context.ts";
import { accepted, anEvent, command, finished, started } from "./messages.ts";

const DAY = 86_400_000;

/** A year of runs: `runs` spread evenly over `days` from `start` (ms), every `failEvery`-th failed, over `flows`. */
export type YearPlan = {
  runs: number;
  days: number;
  start: number;
  failEvery: number;
  flows: readonly string[];
  policy: Retention;
  tombstoneDays: number;
};

/** Run `i` of the plan: its event id, flow, creation time and how it ended. Pure. */
export function yearRun(
  plan: YearPlan,
  i: number,
): { eventId: string; runId: string; flow: string; at: number; failed: boolean } {
  const eventId = `y/${i}`;
  const flow = plan.flows[i % plan.flows.length]!;
  return {
    eventId,
    runId: runIdFor(eventId, 0, flow, "a"),
    flow,
    at: plan.start + Math.floor((i * plan.days * DAY) / plan.runs),
    failed: i % plan.failEvery === 0,
  };
}

/** The retention tick at the end of day `day`: the policy resolved to times as a projector's tick would. */
export function yearPurge(plan: YearPlan, day: number): PurgeRuns {
  const at = plan.start + (day + 1) * DAY;
  const before = eventsBefore(plan.policy, at);
  // One round a day is enough: the limit is above a day's share of a million runs.
  return {
    v: 1,
    kind: "runs.purge",
    purgeId: `year:${day}`,
    round: 1,
    at: new Date(at).toISOString(),
    rules: retentionRules(plan.policy, new Map(), at),
    ...(before ? { eventsBefore: before } : {}),
    limit: 10_000,
    tombstoneDays: plan.tombstoneDays,
  };
}

/** Whether run `i` outlives every tick up to the end of day `lastDay` (days, failedDays of the policy). Pure. */
export function yearKept(plan: YearPlan, i: number, lastDay: number): boolean {
  const run = yearRun(plan, i);
  const days = run.failed ? (plan.policy.failedDays ?? plan.policy.days) : plan.policy.days;
  return days === undefined || run.at >= plan.start + (lastDay + 1) * DAY - days * DAY;
}

/** The messages of run `i`, as ingress, matcher and executor would have written them on its day. */
function runMessages(ctx: ServiceContext, plan: YearPlan, i: number): [string, FlowMessage][] {
  const { subjects } = ctx;
  const run = yearRun(plan, i);
  const at = new Date(run.at).toISOString();
  const later = new Date(run.at + 1000).toISOString();
  const event = anEvent({ id: run.eventId, type: "demo.tick", receivedAt: at, payload: { i } });
  const decision = {
    flow: run.flow,
    flowVersion: 1,
    step: "a",
    runner: "bun",
    matched: true,
    runId: run.runId,
    queue: "any",
    reasons: [],
  };
  const status = run.failed ? "failed" : "completed";
  return [
    [subjects.event("demo.tick"), accepted(event, { acceptedAt: at })],
    [subjects.command("any"), command(run.runId, event, { flow: run.flow, step: "a", createdAt: at })],
    [
      subjects.matched(run.eventId),
      { v: 1, kind: "event.matched", eventId: run.eventId, generation: 0, matchedAt: at, decisions: [decision] },
    ],
    [subjects.run(run.runId, "started"), started(run.runId, 1, "host-a", at)],
    [
      subjects.run(run.runId, "output"),
      {
        v: 1,
        kind: "run.output",
        runId: run.runId,
        attempt: 1,
        chunk: 0,
        stream: "stdout",
        text: `run ${i} says hello\n`,
        at,
      },
    ],
    [
      subjects.run(run.runId, "finished"),
      finished(run.runId, 1, {
        status,
        exitCode: run.failed ? 1 : 0,
        result: run.failed ? undefined : { status: "completed" },
        startedAt: at,
        finishedAt: later,
      }),
    ],
  ];
}

/**
 * Publishes the runs of days [fromDay, toDay) straight into the stream, each day followed
 * by its retention tick, up to `inFlight` publishes at a time (one connection keeps their
 * order). Returns the number of messages published.
 */
export async function publishYear(
  ctx: ServiceContext,
  plan: YearPlan,
  fromDay: number,
  toDay: number,
  inFlight = 2_000,
): Promise<number> {
  let published = 0;
  let pending: Promise<unknown>[] = [];
  const send = async (subject: string, message: FlowMessage) => {
    pending.push(ctx.js.publish(subject, encodeMessage(message)));
    published++;
    if (pending.length >= inFlight) {
      await Promise.all(pending);
      pending = [];
    }
  };
  const firstOf = (day: number) => Math.ceil((day * plan.runs) / plan.days);
  for (let day = fromDay; day < toDay; day++) {
    for (let i = firstOf(day); i < Math.min(firstOf(day + 1), plan.runs); i++)
      for (const [subject, message] of runMessages(ctx, plan, i)) await send(subject, message);
    await send(ctx.subjects.purge(`year:${day}`), yearPurge(plan, day));
  }
  await Promise.all(pending);
  return published;
}
