/**
 * The GET /runs and GET /events load, in its own Bun process: sequential requests (one keep-alive
 * connection) of each query in turn, round after round, so every kind of query sees the
 * same conditions. Prints one ReadReport as JSON on stdout.
 *   bun bench/read.ts --url http://127.0.0.1:PORT --queries '[{"name":"all","paths":["/runs?limit=50"]}]'
 *     [--rounds 50] [--warmup-rounds 5]
 * A query with several paths uses the next one each round (one event id after another).
 */
import { parseArgs } from "node:util";

export type ReadQuery = { name: string; paths: string[] };
export type ReadReport = {
  requests: number;
  elapsedMs: number;
  errors: number;
  failures: string[];
  /** Every measured latency, and per query its latencies and the fewest/most runs a page held. */
  latenciesMs: number[];
  byQuery: Record<string, { latenciesMs: number[]; minRuns: number; maxRuns: number }>;
};

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    queries: { type: "string" },
    rounds: { type: "string", default: "50" },
    "warmup-rounds": { type: "string", default: "5" },
  },
});
if (!values.url || !values.queries) {
  console.error("usage: bun bench/read.ts --url URL --queries JSON [--rounds N] [--warmup-rounds N]");
  process.exit(2);
}
const queries = JSON.parse(values.queries) as ReadQuery[];
const report: ReadReport = { requests: 0, elapsedMs: 0, errors: 0, failures: [], latenciesMs: [], byQuery: {} };
for (const q of queries) report.byQuery[q.name] = { latenciesMs: [], minRuns: Number.POSITIVE_INFINITY, maxRuns: 0 };

/** One request: its latency (status, body read and parsed), or a failure. */
async function once(path: string): Promise<{ ms: number; runs?: number; problem?: string }> {
  const started = performance.now();
  try {
    const response = await fetch(`${values.url}${path}`);
    const text = await response.text();
    const ms = performance.now() - started;
    if (response.status !== 200) return { ms, problem: `${path}: ${response.status} ${text.slice(0, 200)}` };
    const answer = JSON.parse(text) as { runs?: unknown[]; events?: unknown[]; buckets?: unknown[] };
    // A list's runs or events; GET /overview's buckets.
    return { ms, runs: (answer.runs ?? answer.events ?? answer.buckets)?.length };
  } catch (error) {
    return { ms: performance.now() - started, problem: `${path}: ${(error as Error).message}` };
  }
}

const warmup = Number(values["warmup-rounds"]);
const rounds = Number(values.rounds);
let measuredFrom = 0;
for (let round = 0; round < warmup + rounds; round++) {
  if (round === warmup) measuredFrom = performance.now();
  for (const q of queries) {
    const result = await once(q.paths[round % q.paths.length]!);
    if (round < warmup) {
      if (result.problem && report.failures.length < 5) report.failures.push(`warm-up: ${result.problem}`);
      continue;
    }
    report.requests++;
    const mine = report.byQuery[q.name]!;
    if (result.problem !== undefined || result.runs === undefined) {
      report.errors++;
      if (report.failures.length < 5) report.failures.push(result.problem ?? "no runs");
      continue;
    }
    report.latenciesMs.push(result.ms);
    mine.latenciesMs.push(result.ms);
    mine.minRuns = Math.min(mine.minRuns, result.runs);
    mine.maxRuns = Math.max(mine.maxRuns, result.runs);
  }
}
report.elapsedMs = performance.now() - measuredFrom;
console.log(JSON.stringify(report));
