/**
 * `bun run bench`: measures, in one run on this machine, the minimal handler (the limit),
 * the real ingress, the spawn floor of a trivial step, the whole system end to end, and
 * the data rows (raw consume vs projector apply, a rebuild, GET /runs on 100k runs);
 * prints a table on stdout (progress on stderr) and writes the figures to
 * bench/results/latest.json. Every child and the nats-server are stopped at the end,
 * also on failure or Ctrl-C. `bun run bench --help` lists the flags.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type EmbeddedNats, natsServerBinary, startNatsServer } from "../lib/nats/nats-server.ts";
import { type DashboardFigures, measureDashboard } from "./dashboard-row.ts";
import { MESSAGES, measureProjection, measureRead, READ_1M_COPIES, READ_MODEL_RUNS, type ReadFigures } from "./data.ts";
import { type FsyncFigures, measureFsync } from "./fsync.ts";
import { type LatencyFigures, measureLatency } from "./latency.ts";
import { type MemoryFigures, measureMemory } from "./memory.ts";
import { measurePeers, type PeerFigures } from "./peers/row.ts";
import { RESULTS_DIR, stopAll } from "./procs.ts";
import type { ProjectorReport } from "./projector.ts";
import {
  type AllFigures,
  type DispatchFigures,
  type E2eFigures,
  type LoadFigures,
  measureAll,
  measureDispatch,
  measureEndToEnd,
  measureIngress,
  measureMinimal,
  measureSpawn,
  progress,
  type SpawnFigures,
  tempDirs,
} from "./rows.ts";
import { measureScale, type ScaleFigures } from "./scale.ts";
import { formatTable, verdicts } from "./table.ts";
import { measureTracing, type TracingFigures } from "./tracing-row.ts";
import { measureWarm, type WarmFigures } from "./warm.ts";
import { measureYear, type YearFigures } from "./year.ts";

const ROWS = [
  "minimal",
  "ingress",
  "dispatch",
  "all",
  "all1",
  "spawn",
  "e2e",
  "consume",
  "projector",
  "rebuild",
  "read",
  "dashboard",
  "memory",
  "rebuild1m",
  "read1m",
  "fsync",
  "year",
  "peers",
  "latency",
  "warm",
  "tracing",
  "scale",
] as const;
/** Rows run only when asked for with --only: they take minutes. */
const OPT_IN: readonly RowName[] = ["rebuild1m", "read1m", "fsync", "year", "peers", "latency", "tracing", "scale"];
/** The rows measured over one shared stream (bench/projector.ts). */
const PROJECTION_ROWS: readonly RowName[] = ["consume", "projector", "rebuild"];
type RowName = (typeof ROWS)[number];

const HELP = `bun run bench [--duration S] [--warmup S] [--only ROWS]

  --duration S   measured seconds of each HTTP load row (default 5)
  --warmup S     warm-up seconds before each HTTP load row (default 1)
  --only ROWS    comma-separated subset of: ${ROWS.join(", ")} (default: all but ${OPT_IN.join(", ")})
  -h, --help     this help

Rows: minimal = a minimal Elysia handler publishing to JetStream (the limit); ingress =
\`flow serve ingress\` under the same load (16 keep-alive connections, signed events no flow
matches, ?wait=none); dispatch = \`flow serve all\` under the same load, the default answer that
waits for the match decision and carries runIds, then ?wait=none; all = \`flow serve all\`
(ingress on the main thread, the other services on a worker thread) under the same
load with ?wait=none, and how long its projector then takes to catch up; all1 = the same
with CODEX_FLOW_THREADS=off (one thread, for comparison); spawn = Bun.spawn
of bench/fixtures/trivial-step.ts; e2e = \`flow serve all\` with
a one-step flow, 30 events one at a time and 200 at once, all with ?wait=true.
Data rows (bench/workload.ts makes the messages the services write): consume = an ordered
consumer reading ${MESSAGES} messages without applying them (the baseline); projector = the
projector applying the same messages into a new SQLite file; rebuild = rebuildReadModel of
them; read = GET /runs and GET /events (first pages, filters, page 100 of a
filter) on \`flow serve ingress\` over a read model of ${READ_MODEL_RUNS} runs that
the projector built from the stream, typical list queries one at a time; dashboard = the
runs page over such a read model in headless Chromium (time to interactive) and its API
calls' p99; memory = the resident memory of \`flow dev\` and all it starts (its own
nats-server too), idle and after each of 5 bursts of 20000 events (a leak check).
Opt-in (only with --only, they take minutes): rebuild1m = rebuildReadModel of 1,000,000
messages; read1m = the read row over 1,000,000 runs (the 100k read model and 9 copies);
fsync = the ingress row against a current nats-server (the one flow dev runs) on its
default sync_interval, then with sync_interval: always (docs/durability.md); year = a
million runs over 365 days under retention, trimmed to a snapshot monthly: purge rate,
bytes per 100k runs kept, vacuum time, final sizes against the stated bound, and a
rebuild from snapshot + tail (bench/year.ts; YEAR_RUNS=N for fewer); peers = the trivial step
spawned per job, 4 at a time, 200 in flight (single jobs, bursts of 200 and 2,000) on bare
spawns, \`flow serve all\` and BullMQ on Debian's redis-server (bench/peers/; BullMQ skipped,
saying why, without redis-server or its bench-only package); latency = one idle event's path:
50 events one at a time, 150 ms apart, through \`flow serve all\` (the peers row's flow,
?wait=true) against the same step spawned bare as often, with each hop's p50 from the
stream's timestamps (bench/latency.ts; run it alone with --spans for the services' spans). warm = the trivial module step
through the bun runner, warm (lib/runners/warm/) and spawned: single runs, a 2,000 burst (bench/warm.ts);
scale = the overview and search API calls and pages (headless Chromium) over 1,000,000 runs
written straight into SQLite (bench/scale.ts; SCALE_RUNS=N for another size); tracing = the all row with
OpenTelemetry tracing off and on, alternating, three times each, best of each (spans to an OTLP
sink in the bench), and the ratio (bench/tracing-row.ts).`;

/** A wrong flag: printed with the usage line, exit code 2. */
class UsageError extends Error {}

export type Results = {
  machine: { cores: number; bun: string; natsServer: string; at: string };
  options: { durationS: number; warmupS: number; rows: RowName[] };
  minimal?: LoadFigures;
  ingress?: LoadFigures;
  dispatch?: DispatchFigures;
  /** `flow serve all` with threads (all) and on one thread (all1). */
  all?: AllFigures;
  all1?: AllFigures;
  spawn?: SpawnFigures;
  e2e?: E2eFigures;
  /** Rows consume, projector and rebuild, from one stream. */
  projection?: ProjectorReport;
  read?: ReadFigures;
  read1m?: ReadFigures;
  rebuild1m?: ProjectorReport;
  dashboard?: DashboardFigures;
  memory?: MemoryFigures;
  fsync?: FsyncFigures;
  year?: YearFigures;
  peers?: PeerFigures;
  latency?: LatencyFigures;
  warm?: WarmFigures;
  tracing?: TracingFigures;
  scale?: ScaleFigures;
  /** Rows that could not be measured at all (a server that did not start, a crashed child), by row. */
  problems: Partial<Record<RowName, string>>;
};

const parseOptions = () =>
  parseArgs({
    options: {
      duration: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      only: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });

function options() {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const durationS = Number(values.duration);
  const warmupS = Number(values.warmup);
  if (!(durationS > 0) || !(warmupS >= 0)) throw new UsageError("--duration must be > 0 and --warmup >= 0 (seconds)");
  const rows = values.only ? values.only.split(",").map((r) => r.trim()) : ROWS.filter((r) => !OPT_IN.includes(r));
  const unknown = rows.filter((r) => !(ROWS as readonly string[]).includes(r));
  if (unknown.length > 0)
    throw new UsageError(`--only: unknown row(s) ${unknown.join(", ")}; expected ${ROWS.join(", ")}`);
  return { durationS, warmupS, rows: rows as RowName[] };
}

async function main(): Promise<number> {
  const opts = options();
  const binary = natsServerBinary();
  const natsVersion = (await new Response(Bun.spawn([binary, "--version"]).stdout).text())
    .trim()
    .replace(/^nats-server:\s*v?/, "");
  const results: Results = {
    machine: { cores: availableParallelism(), bun: Bun.version, natsServer: natsVersion, at: new Date().toISOString() },
    options: opts,
    problems: {},
  };
  let nats: EmbeddedNats | undefined;
  const cleanup = async () => {
    await stopAll();
    await nats?.stop();
    for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal: string) => {
    progress(`${signal}: stopping every child`);
    void cleanup().finally(() => process.exit(130));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    nats = await startNatsServer({ binary });
    progress(`nats-server ${natsVersion} on ${nats.url} (store ${nats.storeDir})`);
    const server = nats;
    // One row that cannot be measured is reported, and the others still run.
    const measure = async <T>(row: RowName, run: () => Promise<T>, rows: RowName[] = [row]): Promise<T | undefined> => {
      if (!opts.rows.includes(row)) return undefined;
      try {
        return await run();
      } catch (error) {
        for (const r of rows) results.problems[r] = (error as Error).message;
        progress(`${row} could not be measured: ${(error as Error).message}`);
        return undefined;
      }
    };
    results.minimal = await measure("minimal", () => measureMinimal(server, opts));
    results.ingress = await measure("ingress", () => measureIngress(server, opts));
    results.dispatch = await measure("dispatch", () => measureDispatch(server, opts));
    results.all = await measure("all", () => measureAll(server, opts, true));
    results.all1 = await measure("all1", () => measureAll(server, opts, false));
    results.spawn = await measure("spawn", () => measureSpawn());
    results.e2e = await measure("e2e", () => measureEndToEnd(server));
    const projection = opts.rows.filter((r) => PROJECTION_ROWS.includes(r));
    if (projection.length > 0)
      results.projection = await measure(projection[0]!, () => measureProjection(server, projection), projection);
    results.read = await measure("read", () => measureRead(server));
    results.read1m = await measure("read1m", () => measureRead(server, READ_1M_COPIES));
    results.rebuild1m = await measure("rebuild1m", () => measureProjection(server, ["rebuild"], 1_000_000));
    results.dashboard = await measure("dashboard", () => measureDashboard(server));
    results.memory = await measure("memory", () => measureMemory());
    results.fsync = await measure("fsync", () => measureFsync(opts));
    results.peers = await measure("peers", () => measurePeers());
    results.latency = await measure("latency", () => measureLatency(50, 150, false));
    results.warm = await measure("warm", () => measureWarm(progress));
    results.tracing = await measure("tracing", () => measureTracing(server, opts));
    results.scale = await measure("scale", () => measureScale(server, Number(process.env.SCALE_RUNS ?? 1_000_000)));
    results.year = await measure("year", () => measureYear(server, Number(process.env.YEAR_RUNS ?? 1_000_000)));
  } finally {
    await cleanup();
  }
  const rows = verdicts(results);
  console.log(formatTable(results, rows));
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, "latest.json");
  writeFileSync(file, `${JSON.stringify({ ...results, rows }, null, 2)}\n`);
  progress(`figures written to ${file}`);
  // A missed target is a result, not an error; a measurement that failed is.
  return rows.some((row) => row.verdict === "INVALID") || Object.keys(results.problems).length > 0 ? 1 : 0;
}

try {
  process.exit(await main());
} catch (error) {
  if (error instanceof UsageError) console.error(`bench: ${error.message}\n${HELP.split("\n")[0]}`);
  else console.error(`bench: ${(error as Error).stack ?? error}`);
  process.exit(2);
}
