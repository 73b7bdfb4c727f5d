/**
 * The synthetic stream of the data rows: messages exactly as the services write them
 * (lib/protocol/messages.ts), on the subjects and with the Nats-Msg-Ids they use, in time order,
 * so later messages of a run interleave with newer events as in a live stream. Per event:
 * event.accepted, a run.step per matching step, event.matched (every catalogue step's
 * decision, as the matcher publishes it after the commands), then per run run.started,
 * some run.output chunks and run.finished; a few runs stay queued or running, failed
 * ones may retry as attempt 2. Deterministic (seeded), so every run measures the same stream.
 */
import { msgIds, runIdFor } from "../lib/protocol/ids.ts";
import type { FlowMessage, RunFinished } from "../lib/protocol/messages.ts";
import type { Subjects } from "../lib/protocol/subjects.ts";

type Step = { flow: string; version: number; step: string; queue: string; host: string };
/** Event types with their share of the traffic and the steps they trigger (flow name, version, step, queue). */
const CATALOGUE: { type: string; weight: number; steps: Step[] }[] = [
  {
    type: "github.issue.opened",
    weight: 40,
    steps: [s("triage", 3, "classify", "any"), s("triage", 3, "label", "any")],
  },
  {
    type: "upstream.release",
    weight: 20,
    steps: [s("release", 2, "build", "builder"), s("release", 2, "publish", "builder--publish")],
  },
  { type: "docs.changed", weight: 15, steps: [s("docs", 1, "render", "any")] },
  { type: "cron.nightly", weight: 10, steps: [s("nightly", 1, "sweep", "any")] },
  { type: "deploy.requested", weight: 10, steps: [s("deploy", 5, "rollout", "prod--deploy")] },
  { type: "security.advisory", weight: 3, steps: [s("audit", 1, "scan", "any")] },
  { type: "bench.nomatch", weight: 2, steps: [] },
];
function s(flow: string, version: number, step: string, queue: string): Step {
  return {
    flow,
    version,
    step,
    queue,
    host: queue.startsWith("builder") ? "builder-1" : queue.startsWith("prod") ? "prod-runner" : "host-a",
  };
}
const ALL_STEPS = CATALOGUE.flatMap((c) => c.steps.map((step) => ({ ...step, type: c.type })));
const TOTAL_WEIGHT = CATALOGUE.reduce((a, c) => a + c.weight, 0);
export const FLOW_NAMES = [...new Set(ALL_STEPS.map((x) => x.flow))];

export type Published = { subject: string; msgId: string; message: FlowMessage };
export type WorkloadOptions = { subjects: Subjects; seed?: number; maxMessages?: number; maxRuns?: number };
export type WorkloadCounts = { events: number; runs: number; messages: number; byKind: Record<string, number> };

const TEXT = "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. ".repeat(60);
const BASE = Date.parse("2026-10-01T00:00:00Z");

/** A seeded PRNG (mulberry32): uniform in [0, 1). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The messages in stream order, until `maxMessages` were yielded or `maxRuns` runs were
 * created (then the started runs' remaining messages follow). `counts` is filled as it goes.
 */
export function* workload(options: WorkloadOptions, counts: WorkloadCounts = emptyCounts()): Generator<Published> {
  const rnd = random(options.seed ?? 42);
  const sub = options.subjects;
  const pick = (n: number) => Math.floor(rnd() * n);
  const text = (min: number, max: number) => {
    const start = pick(TEXT.length - max);
    return TEXT.slice(start, start + min + pick(max - min));
  };
  const iso = (ms: number) => new Date(ms).toISOString();
  // Messages not yet due, kept sorted by time (a handful: runs last seconds to minutes).
  const pending: { at: number; item: Published }[] = [];
  const later = (at: number, subject: string, msgId: string, message: FlowMessage) => {
    let i = pending.length;
    while (i > 0 && pending[i - 1]!.at > at) i--;
    pending.splice(i, 0, { at, item: { subject, msgId, message } });
  };
  const emit = function* (item: Published) {
    counts.messages++;
    counts.byKind[item.message.kind] = (counts.byKind[item.message.kind] ?? 0) + 1;
    yield item;
  };
  const full = () =>
    (options.maxMessages !== undefined && counts.messages >= options.maxMessages) ||
    (options.maxRuns !== undefined && counts.runs >= options.maxRuns);

  for (let i = 0; !full(); i++) {
    const now = BASE + i * 20_000 + pick(5_000);
    while (pending.length > 0 && pending[0]!.at <= now) {
      yield* emit(pending.shift()!.item);
      if (options.maxMessages !== undefined && counts.messages >= options.maxMessages) return;
    }
    let kind = CATALOGUE.at(-1)!;
    let w = rnd() * TOTAL_WEIGHT;
    for (const c of CATALOGUE) {
      if (w < c.weight) {
        kind = c;
        break;
      }
      w -= c.weight;
    }
    // The last event creates exactly the runs still wanted.
    if (options.maxRuns !== undefined && kind.steps.length > options.maxRuns - counts.runs)
      kind = CATALOGUE.find((c) => c.steps.length === 1)!;
    const id = `evt-${i}-${kind.type}-${(i * 2654435761) >>> 0}`;
    const event = {
      id,
      type: kind.type,
      source: "https://github.com/example/repo",
      receivedAt: iso(now),
      payload: {
        repository: { full_name: "example/repo", id: 1234 + pick(20) },
        number: i,
        title: text(20, 80),
        body: text(100, 900),
        labels: ["bug", "ui", "infra"].slice(0, pick(4)),
        sender: { login: `user${pick(500)}` },
      },
    };
    counts.events++;
    later(now + 2, sub.event(kind.type), msgIds.event(id, 0), {
      v: 1,
      kind: "event.accepted",
      event,
      acceptedAt: iso(now + 2),
    });
    const matchedAt = iso(now + 6);
    for (const step of kind.steps) {
      const runId = runIdFor(id, 0, step.flow, step.step);
      counts.runs++;
      later(now + 5, sub.command(step.queue), msgIds.command(runId, 1), {
        v: 1,
        kind: "run.step",
        runId,
        eventId: id,
        generation: 0,
        flow: step.flow,
        flowVersion: step.version,
        step: step.step,
        runner: "bun",
        queue: step.queue,
        event,
        createdAt: matchedAt,
        chainDepth: 0,
      });
      scheduleRun(runId, step, now + 40 + pick(3_000));
    }
    const decisions = ALL_STEPS.map((step) => {
      const base = { flow: step.flow, flowVersion: step.version, step: step.step, runner: "bun" };
      if (step.type !== kind.type)
        return {
          ...base,
          matched: false,
          reasons: [`type differs: step wants "${step.type}", event is "${kind.type}"`],
        };
      return { ...base, matched: true, runId: runIdFor(id, 0, step.flow, step.step), queue: step.queue, reasons: [] };
    });
    later(now + 7, sub.matched(id), msgIds.matched(id, 0), {
      v: 1,
      kind: "event.matched",
      eventId: id,
      generation: 0,
      matchedAt,
      decisions,
    });
  }
  while (pending.length > 0) {
    yield* emit(pending.shift()!.item);
    if (options.maxMessages !== undefined && counts.messages >= options.maxMessages) return;
  }

  /** One run's lifecycle after its command: queued for good, running, or attempts that end. */
  function scheduleRun(runId: string, step: Step, start: number) {
    const r = rnd();
    if (r < 0.02) return; // still queued (no executor took it)
    for (let attempt = 1; ; attempt++) {
      const host = step.host;
      later(start, sub.run(runId, "started"), msgIds.lifecycle(runId, attempt, "started"), {
        v: 1,
        kind: "run.started",
        runId,
        attempt,
        host,
        startedAt: iso(start),
        executor: "direct",
      });
      // Most steps take a second or two; a third run for minutes.
      const durationMs = rnd() < 0.7 ? 200 + pick(2_800) : 5_000 + Math.floor(rnd() ** 2 * 115_000);
      const end = start + durationMs;
      // Steps that run past the first flush publish live output (short ones never do).
      if (durationMs > 5_000) {
        const chunks = 1 + pick(3);
        for (let c = 0; c < chunks; c++) {
          later(
            start + ((c + 1) * durationMs) / (chunks + 1),
            sub.run(runId, "output"),
            msgIds.output(runId, attempt, c),
            {
              v: 1,
              kind: "run.output",
              runId,
              attempt,
              chunk: c,
              stream: c % 3 === 2 ? "stderr" : "stdout",
              text: text(300, 4_000),
              at: iso(start + ((c + 1) * durationMs) / (chunks + 1)),
            },
          );
        }
      }
      if (r < 0.035) return; // running right now
      const outcome = rnd();
      const retry = attempt === 1 && outcome < 0.04;
      const fields = finishedFields(outcome, retry, start, end, durationMs);
      const finished: RunFinished = { v: 1, kind: "run.finished", runId, attempt, host, ...fields };
      later(end, sub.run(runId, "finished"), msgIds.lifecycle(runId, attempt, "finished"), finished);
      if (!retry) return;
      start = end + 30_000;
    }
  }

  function finishedFields(
    outcome: number,
    retry: boolean,
    start: number,
    end: number,
    durationMs: number,
  ): Omit<RunFinished, "v" | "kind" | "runId" | "attempt" | "host"> {
    const times = {
      startedAt: iso(start),
      finishedAt: iso(end),
      durationMs,
      stdoutTruncated: false,
      stderrTruncated: false,
    };
    const stdout = `${text(80, 600)}\n`;
    if (outcome < 0.08) {
      return {
        ...times,
        status: "failed",
        exitCode: 1,
        signal: null,
        error: "exited with code 1",
        stdout,
        stderr: `Error: ${text(100, 500)}\n    at step (exec/step.ts:12:9)\n`,
        failures: 1,
        ...(retry ? { retryInMs: 30_000 } : {}),
      };
    }
    if (outcome < 0.1)
      return {
        ...times,
        status: "timed_out",
        exitCode: null,
        signal: "SIGTERM",
        error: "timed out after 120000 ms",
        stdout,
        stderr: "",
        failures: 1,
      };
    if (outcome < 0.11)
      return {
        ...times,
        status: "canceled",
        exitCode: null,
        signal: "SIGTERM",
        error: "canceled",
        stdout,
        stderr: "",
        failures: 0,
      };
    const o = (outcome - 0.11) / 0.89;
    const status =
      o < 0.6
        ? "completed"
        : o < 0.75
          ? "changed"
          : o < 0.9
            ? "skipped"
            : o < 0.94
              ? "needs_intervention"
              : o < 0.96
                ? "blocked"
                : "failed";
    const result = { status, message: text(10, 80) } as const;
    return {
      ...times,
      status: "completed",
      exitCode: 0,
      signal: null,
      result,
      stdout: `${stdout}FLOW_RESULT ${JSON.stringify(result)}\n`,
      stderr: "",
      failures: 0,
    };
  }
}

export function emptyCounts(): WorkloadCounts {
  return { events: 0, runs: 0, messages: 0, byKind: {} };
}
