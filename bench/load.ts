/**
 * The load generator. Runs as its own Bun process (so it never shares an event loop with
 * the server under test) and prints one LoadReport as JSON on stdout.
 *
 * Exactly `--concurrency` requests are in flight: each worker POSTs a FlowEvent with a
 * unique id, waits for the answer, and sends the next (Bun's fetch keeps the connections
 * alive and pools them). Bodies are signed with BENCH_SECRET when it is set.
 *   duration mode: `--duration S --warmup S`, latencies of requests started after warm-up
 *   count mode:    `--count N --warmup-count N`, plus the time from first send to last answer
 * `--expect-completed` checks that every answer says each matched run completed
 * (for `?wait=true`); `--expect-matched` that every answer carries the match decision
 * (the default wait); any other answer is an error, with a few samples in `failures`.
 */
import { parseArgs } from "node:util";
import { signBody } from "../lib/signature.ts";

export type LoadReport = {
  mode: "duration" | "count";
  concurrency: number;
  /** Requests measured (after warm-up). */
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  failures: string[];
  /** Duration mode: the measured window; count mode: first measured send to last answer. */
  elapsedMs: number;
  /** Duration mode: the warm-up's length; count mode: how many warm-up requests were sent. */
  warmupMs: number;
  warmupRequests: number;
  latenciesMs: number[];
};

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    concurrency: { type: "string", default: "16" },
    duration: { type: "string" },
    warmup: { type: "string", default: "1" },
    count: { type: "string" },
    "warmup-count": { type: "string", default: "0" },
    type: { type: "string", default: "bench.nomatch" },
    tag: { type: "string", default: `bench-${process.pid}-${Date.now()}` },
    "expect-completed": { type: "boolean", default: false },
    "expect-matched": { type: "boolean", default: false },
  },
});
if (!values.url || (!values.duration && !values.count)) {
  console.error(
    "usage: bun bench/load.ts --url URL (--duration S [--warmup S] | --count N [--warmup-count N]) [--concurrency N] [--type T] [--expect-completed]",
  );
  process.exit(2);
}
const url = values.url;
const concurrency = Number(values.concurrency);
const secret = process.env.BENCH_SECRET || undefined;
const expectCompleted = values["expect-completed"];
const expectMatched = values["expect-matched"];

let next = 0;
type Outcome = { latency: number; status: string; problem?: string };

/** What one measured phase saw: latencies of good answers, answers by status, a few failures. */
class Tally {
  latencies: number[] = [];
  statuses: Record<string, number> = {};
  failures: string[] = [];
  errors = 0;
  add(outcome: Outcome): void {
    this.statuses[outcome.status] = (this.statuses[outcome.status] ?? 0) + 1;
    if (outcome.problem === undefined) return void this.latencies.push(outcome.latency);
    this.errors++;
    if (this.failures.length < 5) this.failures.push(outcome.problem);
  }
}

/** Sends one event and reads the whole answer (so the connection is reused). */
async function send(): Promise<Outcome> {
  const n = next++;
  const body = JSON.stringify({
    id: `${values.tag}-${n}`,
    type: values.type,
    source: "codex-flows bench",
    payload: { n },
  });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (secret) headers["x-flow-signature-256"] = signBody(secret, body);
  const started = performance.now();
  try {
    const response = await fetch(url, { method: "POST", body, headers });
    const text = await response.text();
    const latency = performance.now() - started;
    const problem =
      response.status !== 202
        ? `HTTP ${response.status}: ${text.slice(0, 300)}`
        : expectCompleted
          ? notCompleted(text)
          : expectMatched
            ? notMatched(text)
            : undefined;
    return { latency, status: String(response.status), problem };
  } catch (error) {
    return { latency: performance.now() - started, status: "network", problem: `network: ${(error as Error).message}` };
  }
}

/** Why a `?wait=true` answer does not report every run completed (undefined when it does). */
function notCompleted(text: string): string | undefined {
  const answer = JSON.parse(text) as {
    matched?: number;
    waitTimedOut?: boolean;
    runs?: { id: string; status: string; error?: string | null }[];
  };
  if (answer.waitTimedOut) return `wait timed out: ${text.slice(0, 300)}`;
  if (!answer.matched || !answer.runs || answer.runs.length !== answer.matched)
    return `no run matched: ${text.slice(0, 300)}`;
  const bad = answer.runs.find((run) => run.status !== "completed");
  return bad ? `run ${bad.id} ended ${bad.status}: ${bad.error ?? ""}` : undefined;
}

/** Why an answer does not carry the match decision (undefined when it does). */
function notMatched(text: string): string | undefined {
  const answer = JSON.parse(text) as { matched?: number; runIds?: string[]; waitTimedOut?: boolean };
  return answer.waitTimedOut || answer.matched === undefined || !Array.isArray(answer.runIds)
    ? `no match decision in the answer: ${text.slice(0, 300)}`
    : undefined;
}

async function byDuration(durationMs: number, warmupMs: number): Promise<LoadReport> {
  const measureFrom = performance.now() + warmupMs;
  const end = measureFrom + durationMs;
  const tally = new Tally();
  let lastAnswer = measureFrom;
  const worker = async () => {
    while (performance.now() < end) {
      const started = performance.now();
      const outcome = await send();
      // Requests started during warm-up (errors included) are not the measurement's.
      if (started < measureFrom) continue;
      lastAnswer = Math.max(lastAnswer, performance.now());
      tally.add(outcome);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return report("duration", tally, lastAnswer - measureFrom, warmupMs, 0);
}

async function byCount(count: number, warmupCount: number): Promise<LoadReport> {
  const run = async (total: number, tally: Tally) => {
    let left = total;
    const worker = async () => {
      while (left-- > 0) tally.add(await send());
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  };
  const warm = new Tally();
  await run(warmupCount, warm);
  const tally = new Tally();
  const started = performance.now();
  await run(count, tally);
  tally.failures.push(...warm.failures.map((f) => `warm-up: ${f}`));
  return report("count", tally, performance.now() - started, 0, warmupCount);
}

function report(
  mode: LoadReport["mode"],
  tally: Tally,
  elapsedMs: number,
  warmupMs: number,
  warmupRequests: number,
): LoadReport {
  const { latencies, statuses, failures, errors } = tally;
  return {
    mode,
    concurrency,
    requests: latencies.length + errors,
    errors,
    statuses,
    failures,
    elapsedMs,
    warmupMs,
    warmupRequests,
    latenciesMs: latencies,
  };
}

const result = values.duration
  ? await byDuration(Number(values.duration) * 1000, Number(values.warmup) * 1000)
  : await byCount(Number(values.count), Number(values["warmup-count"]));
process.stdout.write(JSON.stringify(result));
