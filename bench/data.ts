/**
 * The data rows: how fast the projector turns the stream into the read model, and how
 * fast the real ingress lists runs from a big one. The work runs in child processes
 * (projector.ts, read.ts, `flow serve ingress`); this file starts them and turns their
 * figures into rows with targets and verdicts.
 */
import { join } from "node:path";
import { type EmbeddedNats, freePort } from "../lib/nats/nats-server.ts";
import { type Child, cpuMs, runJson, startServer, waitHealthy } from "./procs.ts";
import type { Phase, ProjectorReport, ReadModelReport } from "./projector.ts";
import type { ReadQuery, ReadReport } from "./read.ts";
import { progress, serviceEnv, tempDir } from "./rows.ts";
import type { Results } from "./run.ts";
import { round, type Summary, summarize } from "./stats.ts";
import type { Row } from "./table.ts";

const ROOT = join(import.meta.dir, "..");
const BUN = process.execPath;
/** Rows 1 to 3 read this many messages; the read model of row 4 has this many runs. */
export const MESSAGES = 100_000;
export const READ_MODEL_RUNS = 100_000;
/** Row read1m: the read model of READ_MODEL_RUNS runs and this many copies of it (1,000,000 runs). */
export const READ_1M_COPIES = 9;
/** Row rebuild1m: a rebuild of 1,000,000 messages in less than this. */
export const REBUILD_1M_S = 15;
/** The projector: at least this share of the raw consume rate. GET /runs: p99 below this. */
export const APPLY_RATIO = 0.5;
export const READ_P99_MS = 20;
const READ_ROUNDS = 50;

export type ReadFigures = {
  build: Phase;
  amplify?: ReadModelReport["amplify"];
  workload: ReadModelReport["workload"];
  spread: Omit<ReadModelReport["samples"], "eventIds" | "deepCursor" | "page100" | "events">;
  requests: number;
  rps: number;
  latency: Summary;
  byQuery: Record<string, Summary & { path: string; runs: [number, number] }>;
  errors: number;
  failures: string[];
  cpuPerRequestMs?: number;
};

const childEnv = { ...process.env, CODEX_FLOW_LOG: "warn" };

/** Rows consume, projector and rebuild (those asked for), over one stream of MESSAGES messages. */
export async function measureProjection(
  nats: EmbeddedNats,
  rows: string[],
  messages = MESSAGES,
): Promise<ProjectorReport> {
  progress(`projector rows (${rows.join(", ")}): ${messages} synthetic messages to a fresh stream`);
  const args = [
    "--nats",
    nats.url,
    "--dir",
    tempDir("projector"),
    "--messages",
    String(messages),
    "--rows",
    rows.join(","),
    "--nats-pid",
    String(nats.pid),
  ];
  return await runJson<ProjectorReport>("projector", [BUN, join(import.meta.dir, "projector.ts"), ...args], childEnv);
}

/** A read model of READ_MODEL_RUNS runs built by the projector, served by `flow serve ingress` until `stop`. */
export type ServedReadModel = { url: string; server: Child; built: ReadModelReport; stop(): Promise<void> };

/** Builds the big read model (publish, then rebuild) and starts a real ingress over it. */
export async function serveReadModel(nats: EmbeddedNats, label: string, copies = 0): Promise<ServedReadModel> {
  const dir = tempDir(`${label}-data`);
  progress(
    `${label}: building a read model of ${READ_MODEL_RUNS} runs with the projector (publish, then rebuild)${copies ? `, then ${copies} copies of it` : ""}`,
  );
  const args = [
    "--nats",
    nats.url,
    "--dir",
    dir,
    "--read-model-runs",
    String(READ_MODEL_RUNS),
    "--amplify",
    String(copies),
    "--nats-pid",
    String(nats.pid),
  ];
  const built = await runJson<ReadModelReport>(
    "read-model",
    [BUN, join(import.meta.dir, "projector.ts"), ...args],
    childEnv,
  );
  const port = await freePort();
  const env = { ...serviceEnv(nats.url, port, label, tempDir(`${label}-cwd`)), CODEX_FLOW_BACKEND_DATA_DIR: dir };
  const server: Child = startServer(
    `ingress-${label}`,
    [BUN, join(ROOT, "bin", "flow.ts"), "serve", "ingress"],
    env,
    ROOT,
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(server, `${url}/healthz`);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { url, server, built, stop: () => server.stop() };
}

/** Sequential GET requests of each query in turn (bench/read.ts), with the ingress's CPU per request. */
export async function readLoad(
  served: ServedReadModel,
  queries: ReadQuery[],
): Promise<{ report: ReadReport; cpuPerRequestMs?: number }> {
  const before = cpuMs(served.server.proc.pid);
  const args = ["--url", served.url, "--queries", JSON.stringify(queries), "--rounds", String(READ_ROUNDS)];
  const report = await runJson<ReadReport>("read", [BUN, join(import.meta.dir, "read.ts"), ...args]);
  const after = cpuMs(served.server.proc.pid);
  return {
    report,
    ...(before !== undefined && after !== undefined ? { cpuPerRequestMs: (after - before) / report.requests } : {}),
  };
}

/**
 * Rows read and read1m: GET /runs and GET /events on `flow serve ingress` over a read
 * model of READ_MODEL_RUNS runs, times `1 + copies` (bench/amplify.ts).
 */
export async function measureRead(nats: EmbeddedNats, copies = 0): Promise<ReadFigures> {
  const served = await serveReadModel(nats, copies ? "read1m" : "read", copies);
  const { built } = served;
  const { eventIds, deepCursor, page100, events: _events, ...spread } = built.samples;
  const queries: ReadQuery[] = [
    { name: "all", paths: ["/runs?limit=50"] },
    { name: "status", paths: ["/runs?status=completed&limit=50"] },
    { name: "flow", paths: ["/runs?flow=release&limit=50"] },
    { name: "rare flow", paths: ["/runs?flow=audit&limit=50"] },
    { name: "attention", paths: ["/runs?needsAttention=true"] },
    { name: "event", paths: eventIds.map((id) => `/runs?eventId=${encodeURIComponent(id)}`) },
    { name: "deep page", paths: [`/runs?limit=50&cursor=${deepCursor}`] },
    { name: "flow page 100", paths: [`/runs?flow=${page100.flow}&limit=50&cursor=${page100.runs}`] },
    { name: "events", paths: ["/events?limit=50"] },
    { name: "events type", paths: [`/events?type=${page100.type}&limit=50`] },
    { name: "events type page 100", paths: [`/events?type=${page100.type}&limit=50&cursor=${page100.events}`] },
  ];
  try {
    progress(
      `ingress up at ${served.url} over ${spread.runs} runs; ${queries.length} queries x ${READ_ROUNDS} rounds, one request at a time`,
    );
    const { report, ...cpu } = await readLoad(served, queries);
    const byQuery = Object.fromEntries(
      queries.map((q) => {
        const mine = report.byQuery[q.name]!;
        return [
          q.name,
          {
            ...summarize(mine.latenciesMs),
            path: q.paths[0]!.replace(/cursor=.*/, "cursor=..."),
            runs: [mine.minRuns, mine.maxRuns] as [number, number],
          },
        ];
      }),
    );
    const rps = report.latenciesMs.length / (report.elapsedMs / 1000);
    return {
      build: built.build,
      amplify: built.amplify,
      workload: built.workload,
      spread,
      requests: report.requests,
      rps,
      latency: summarize(report.latenciesMs),
      byQuery,
      errors: report.errors,
      failures: report.failures,
      ...cpu,
    };
  } finally {
    await served.stop();
  }
}

const pct = (x: number) => `${round(x * 100)}%`;
const seconds = (ms: number) => `${round(ms / 1000)} s`;
const cpu = (p: Phase) =>
  `cpu: bench ${seconds(p.cpuMs.self)}${p.cpuMs.nats === undefined ? "" : `, nats ${seconds(p.cpuMs.nats)}`}`;

/** The rows of the data measurements that were run. */
export function dataRows(r: Results): Row[] {
  const rows: Row[] = [];
  const p = r.projection;
  if (p) {
    const w = p.workload;
    const what = `${w.messages} msgs (${w.events} events, ${w.runs} runs, ${Math.round(w.bytes / w.messages)} B avg)`;
    if (p.consume)
      rows.push({
        row: "raw consume (msg/s)",
        rps: p.consume.perSecond,
        target: "(the baseline)",
        verdict: "-",
        note: `ordered consumer, nothing applied; ${what}; ${cpu(p.consume)}`,
      });
    if (p.projector) {
      const ratio = p.consume ? p.projector.perSecond / p.consume.perSecond : undefined;
      const verdict = ratio === undefined ? "n/a" : ratio >= APPLY_RATIO ? "ok" : "MISSED";
      const note = `${ratio === undefined ? "ratio n/a (run consume too)" : `${pct(ratio)} of raw consume`}; startProjectorService into a new file, ${p.projector.batches} commits; ${cpu(p.projector)}`;
      rows.push({
        row: "projector apply (msg/s)",
        rps: p.projector.perSecond,
        target: `>=${pct(APPLY_RATIO)} of consume`,
        verdict,
        note,
      });
    }
    if (p.rebuild) {
      const note = `${seconds(p.rebuild.elapsedMs)}: rebuildReadModel of the same ${p.rebuild.messages} msgs (a new file, written without a WAL); ${cpu(p.rebuild)}`;
      rows.push({
        row: `rebuild ${round(p.rebuild.messages / 1000)}k (msg/s)`,
        rps: p.rebuild.perSecond,
        target: "(seconds)",
        verdict: "-",
        note,
      });
    }
  }
  const big = r.rebuild1m?.rebuild;
  if (big) {
    const note = `${seconds(big.elapsedMs)}: rebuildReadModel of ${big.messages} msgs (published in ${seconds(r.rebuild1m!.workload.publishMs)}), progress every second; ${cpu(big)}`;
    rows.push({
      row: `rebuild ${round(big.messages / 1e6)}M (msg/s)`,
      rps: big.perSecond,
      target: `<${REBUILD_1M_S} s`,
      verdict: big.elapsedMs / 1000 < REBUILD_1M_S ? "ok" : "MISSED",
      note,
    });
  }
  for (const read of [r.read, r.read1m]) {
    if (!read) continue;
    const perQuery = Object.entries(read.byQuery)
      .map(([name, q]) => `${name} ${round(q.p50)}/${round(q.p99)}`)
      .join(", ");
    const copies = read.amplify
      ? `, then copied ${read.amplify.copies}x with new ids in ${seconds(read.amplify.ms)} (bench/amplify.ts)`
      : "";
    const built = `built by the projector (rebuildReadModel) from ${read.build.messages} msgs in ${seconds(read.build.elapsedMs)}, published in ${seconds(read.workload.publishMs)}${copies}`;
    const note = `${read.latency.count} sequential requests, p50/p99 ms by query: ${perQuery}; ${read.spread.runs} runs ${built}${read.cpuPerRequestMs === undefined ? "" : `; cpu/req ingress ${round(read.cpuPerRequestMs)} ms`}`;
    const base = {
      row: `GET /runs,/events (${round(read.spread.runs / 1000)}k)`,
      rps: read.rps,
      p50: read.latency.p50,
      p99: read.latency.p99,
      target: `p99<${READ_P99_MS}`,
      note,
    };
    if (read.errors > 0 || read.failures.length > 0)
      rows.push({ ...base, verdict: "INVALID", note: `${read.errors} failed; ${note}`, failures: read.failures });
    else rows.push({ ...base, verdict: read.latency.p99 < READ_P99_MS ? "ok" : "MISSED" });
  }
  return rows;
}
