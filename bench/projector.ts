/**
 * The projector rows, in their own Bun process (prints one ProjectorReport as JSON on
 * stdout, progress on stderr). Publishes `--messages N` synthetic messages (workload.ts)
 * to a fresh stream made with the project's ensureStream, then, as asked by `--rows`:
 *   consume    an ordered consumer reads the N messages and applies nothing (the baseline)
 *   projector  startProjectorService into a fresh SQLite file, from sequence 1 to N
 *   rebuild    rebuildReadModel (services/projector/rebuild.ts) of the same N messages
 * With `--read-model-runs R` instead: publishes the workload up to R runs and rebuilds
 * D/read-model.sqlite from it for the GET /runs row (a ReadModelReport, with sample ids).
 * `--dir D` holds the files (the caller removes it); `--nats-pid P` charges nats-server's CPU.
 *   bun bench/projector.ts --nats URL --dir D [--messages 100000] [--rows consume,projector,rebuild]
 *   bun bench/projector.ts --nats URL --dir D --read-model-runs 100000 [--amplify 9]
 * `--without search,rollup` drops those triggers from the projector row's read model first
 * (what the search index and the overview's rollup cost the projector: docs/performance.md).
 * `--amplify K` then adds K copies of the rows with new ids (bench/amplify.ts): 10x the runs.
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DeliverPolicy } from "@nats-io/jetstream";
import { loadConfig } from "../lib/config.ts";
import { encodeMessage } from "../lib/protocol/messages.ts";
import { openReadModel, rawSqlite } from "../lib/read-model/database.ts";
import { encodeCursor } from "../services/ingress/paging.ts";
import { type RebuildProgress, rebuildReadModel } from "../services/projector/rebuild.ts";
import { searchBacklog } from "../services/projector/search-indexer.ts";
import { startProjectorService } from "../services/projector/service.ts";
import { connectContext, type ServiceContext } from "../services/runtime/context.ts";
import { amplifyReadModel } from "./amplify.ts";
import { cpuMs } from "./procs.ts";
import { emptyCounts, type WorkloadCounts, workload } from "./workload.ts";

/** One phase: how long, how fast, and the CPU this process and nats-server spent on it. */
export type Phase = { messages: number; elapsedMs: number; perSecond: number; cpuMs: { self: number; nats?: number } };
export type ProjectorReport = {
  workload: WorkloadCounts & { bytes: number; publishMs: number };
  consume?: Phase;
  projector?: Phase & { batches: number };
  rebuild?: Phase;
};
export type ReadModelReport = {
  workload: WorkloadCounts & { bytes: number; publishMs: number };
  build: Phase;
  /** With --amplify K: the ms it took to add K copies (bench/amplify.ts). */
  amplify?: { copies: number; ms: number };
  samples: {
    runs: number;
    events: number;
    eventIds: string[];
    deepCursor: string;
    page100: { runs: string; events: string; flow: string; type: string };
    byStatus: Record<string, number>;
    byEffectiveStatus: Record<string, number>;
    byFlow: Record<string, number>;
  };
};

const progress = (line: string) => console.error(`bench: ${line}`);

/** Publishes the workload in batches of un-awaited JetStream publishes (with the services' msg ids); checks the count. */
export async function publishWorkload(
  ctx: ServiceContext,
  limits: { maxMessages?: number; maxRuns?: number },
): Promise<WorkloadCounts & { bytes: number; publishMs: number }> {
  const started = performance.now();
  progress(
    `publishing ${limits.maxMessages ? `${limits.maxMessages} messages` : `messages up to ${limits.maxRuns} runs`} to ${ctx.config.stream}`,
  );
  const counts = emptyCounts();
  let bytes = 0;
  let batch: Promise<unknown>[] = [];
  for (const { subject, msgId, message } of workload({ subjects: ctx.subjects, ...limits }, counts)) {
    const body = encodeMessage(message);
    bytes += body.length;
    batch.push(ctx.js.publish(subject, body, { msgID: msgId, timeout: 30_000 }));
    if (batch.length >= 2_000) {
      await Promise.all(batch);
      batch = [];
      if (limits.maxRuns !== undefined && counts.messages % 100_000 === 0)
        progress(`published ${counts.messages} messages`);
    }
  }
  await Promise.all(batch);
  const state = (await ctx.jsm.streams.info(ctx.config.stream)).state;
  if (state.messages !== counts.messages)
    throw new Error(`the stream holds ${state.messages} messages, ${counts.messages} were published`);
  return { ...counts, bytes, publishMs: performance.now() - started };
}

/** Times `run` (which handles `messages` messages) with the CPU of this process and of nats-server. */
export async function phase<T>(
  messages: number,
  natsPid: number | undefined,
  run: () => Promise<T>,
): Promise<Phase & { value: T }> {
  const cpu0 = process.cpuUsage();
  const nats0 = natsPid ? cpuMs(natsPid) : undefined;
  const t0 = performance.now();
  const value = await run();
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const nats1 = natsPid ? cpuMs(natsPid) : undefined;
  const self = (cpu.user + cpu.system) / 1000;
  return {
    messages,
    elapsedMs,
    perSecond: messages / (elapsedMs / 1000),
    cpuMs: { self, ...(nats0 !== undefined && nats1 !== undefined ? { nats: nats1 - nats0 } : {}) },
    value,
  };
}

/** The baseline: an ordered consumer, as the projector makes it, reading up to `last` without applying anything. */
async function consumeOnly(ctx: ServiceContext, last: number): Promise<number> {
  const consumer = await ctx.js.consumers.get(ctx.config.stream, {
    filter_subjects: ctx.subjects.all,
    deliver_policy: DeliverPolicy.All,
  });
  const messages = await consumer.consume({ max_messages: 1_000 });
  let bytes = 0;
  for await (const m of messages) {
    bytes += m.data.length;
    if (m.seq >= last) break;
  }
  void messages.close().catch(() => undefined);
  return bytes;
}

/** Triggers of the read model a `--without` name drops. */
const TRIGGERS: Record<string, string[]> = {
  search: ["events", "runs"].flatMap((t) => ["insert", "update", "delete"].map((op) => `${t}_search_${op}`)),
  rollup: ["insert", "update", "delete"].map((op) => `runs_rollup_${op}`),
};
let without: string[] = [];

async function dropTriggers(path: string, names: string[]): Promise<void> {
  const db = await openReadModel(path);
  try {
    for (const name of names.flatMap((n) => TRIGGERS[n] ?? [])) rawSqlite(db).exec(`drop trigger ${name}`);
  } finally {
    await db.destroy();
  }
}

/** Rows 1 to 3 over the first N messages of the workload. */
async function projectorRows(
  ctx: ServiceContext,
  dir: string,
  maxMessages: number,
  rows: string[],
  natsPid?: number,
): Promise<ProjectorReport> {
  const published = await publishWorkload(ctx, { maxMessages });
  const n = published.messages;
  progress(
    `published ${n} messages (${published.events} events, ${published.runs} runs, ${Math.round(published.bytes / n)} B each) in ${Math.round(published.publishMs)} ms`,
  );
  const report: ProjectorReport = { workload: published };
  if (rows.includes("consume")) {
    const { value: _bytes, ...figures } = await phase(n, natsPid, () => consumeOnly(ctx, n));
    report.consume = figures;
    progress(`consume: ${n} messages in ${Math.round(figures.elapsedMs)} ms = ${Math.round(figures.perSecond)}/s`);
  }
  if (rows.includes("projector")) {
    // From start (a new file) until message N is committed; stopping is not counted.
    const path = join(dir, "projector.sqlite");
    if (without.length > 0) await dropTriggers(path, without);
    const service = await startProjectorService(ctx, path);
    try {
      let batches = 0;
      service.projector.onApplied(() => batches++);
      const { value: _applied, ...figures } = await phase(n, natsPid, async () => {
        while (!(await service.projector.waitFor(n, 60_000)))
          progress(`projector: applied ${service.projector.appliedSeq()} of ${n}`);
      });
      report.projector = { ...figures, batches };
      progress(
        `projector: ${n} messages in ${Math.round(figures.elapsedMs)} ms = ${Math.round(figures.perSecond)}/s (${batches} commits)`,
      );
      const behind = searchBacklog(rawSqlite(service.db));
      const started = performance.now();
      while (searchBacklog(rawSqlite(service.db)) > 0 && performance.now() - started < 60_000) await Bun.sleep(5);
      progress(
        `search index: ${behind} rows behind when the projector was done, caught up ${Math.round(performance.now() - started)} ms later`,
      );
    } finally {
      await service.stop();
    }
  }
  if (rows.includes("rebuild")) {
    const onProgress = (p: RebuildProgress) =>
      progress(
        p.stage === "indexing"
          ? "rebuild: building the indexes"
          : `rebuild: applied ${p.applied} of ${p.target} (${Math.round((100 * p.applied) / p.target)}%) in ${(p.elapsedMs / 1000).toFixed(1)} s`,
      );
    const { value: _done, ...figures } = await phase(n, natsPid, () =>
      rebuildReadModel(ctx, join(dir, "rebuild.sqlite"), n >= 500_000 ? { onProgress } : {}),
    );
    report.rebuild = figures;
    progress(`rebuild: ${n} messages in ${Math.round(figures.elapsedMs)} ms`);
  }
  return report;
}

/** The read model of row 4, built the real way: the workload up to `runs` runs, then rebuildReadModel into `out`. */
async function buildReadModel(
  ctx: ServiceContext,
  out: string,
  runs: number,
  natsPid?: number,
  copies = 0,
): Promise<ReadModelReport> {
  const published = await publishWorkload(ctx, { maxRuns: runs });
  progress(
    `published ${published.messages} messages (${published.events} events, ${published.runs} runs) in ${Math.round(published.publishMs)} ms; building the read model`,
  );
  let said = 0;
  const onProgress = (p: RebuildProgress) => {
    if (p.elapsedMs - said < 10_000) return;
    said = p.elapsedMs;
    progress(`read model: applied ${p.applied} of ${p.target}`);
  };
  const { value: _done, ...figures } = await phase(published.messages, natsPid, () =>
    rebuildReadModel(ctx, out, { onProgress }),
  );
  progress(
    `read model of ${published.runs} runs built from ${published.messages} messages in ${Math.round(figures.elapsedMs)} ms`,
  );
  let amplify: ReadModelReport["amplify"];
  if (copies > 0) {
    progress(`adding ${copies} copies of every event, run, attempt and match (bench/amplify.ts)`);
    amplify = { copies, ms: amplifyReadModel(out, copies) };
    progress(`amplified in ${Math.round(amplify.ms)} ms`);
  }
  return { workload: published, build: figures, ...(amplify ? { amplify } : {}), samples: readModelSamples(out) };
}

/** What the GET /runs queries ask for: some events with runs, a cursor 90% down the list, and how the runs spread. */
function readModelSamples(path: string): ReadModelReport["samples"] {
  const db = new Database(path, { readonly: true });
  try {
    const eventIds = db
      .query<{ event_id: string }, []>("SELECT DISTINCT event_id FROM runs WHERE rowid % 997 = 0 LIMIT 60")
      .all()
      .map((r) => r.event_id);
    const total = db.query<{ n: number }, []>("SELECT count(*) AS n FROM runs").get()!.n;
    const deep = db
      .query<{ created_at: string; id: string }, [number]>(
        "SELECT created_at, id FROM runs ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ?",
      )
      .get(Math.floor(total * 0.9))!;
    // Page 100 of a filter: the cursor the 99th page's answer gives (its last row).
    const flow = "triage";
    const type = "github.issue.opened";
    const runAt = db
      .query<{ created_at: string; id: string }, [string]>(
        "SELECT created_at, id FROM runs WHERE flow_name = ? ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET 4949",
      )
      .get(flow)!;
    const eventAt = db
      .query<{ seq: number }, [string]>("SELECT seq FROM events WHERE type = ? ORDER BY seq DESC LIMIT 1 OFFSET 4949")
      .get(type)!;
    const page100 = {
      runs: encodeCursor([runAt.created_at, runAt.id]),
      events: encodeCursor([eventAt.seq]),
      flow,
      type,
    };
    const events = db.query<{ n: number }, []>("SELECT count(*) AS n FROM events").get()!.n;
    const count = (column: string) =>
      Object.fromEntries(
        db
          .query<{ k: string; n: number }, []>(
            `SELECT ${column} AS k, count(*) AS n FROM runs GROUP BY 1 ORDER BY 2 DESC`,
          )
          .all()
          .map((r) => [r.k, r.n]),
      );
    return {
      runs: total,
      events,
      page100,
      eventIds,
      deepCursor: encodeCursor([deep.created_at, deep.id]),
      byStatus: count("status"),
      byEffectiveStatus: count("coalesce(result_status, status)"),
      byFlow: count("flow_name"),
    };
  } finally {
    db.close();
  }
}

async function main(): Promise<ProjectorReport | ReadModelReport> {
  const { values } = parseArgs({
    options: {
      nats: { type: "string" },
      dir: { type: "string" },
      messages: { type: "string", default: "100000" },
      rows: { type: "string", default: "consume,projector,rebuild" },
      "read-model-runs": { type: "string" },
      amplify: { type: "string", default: "0" },
      "nats-pid": { type: "string" },
      without: { type: "string", default: "" },
    },
  });
  without = values.without.split(",").filter(Boolean);
  const unknown = without.filter((n) => !TRIGGERS[n]);
  if (unknown.length > 0) throw new Error(`--without: unknown ${unknown.join(", ")}; expected search, rollup`);
  if (!values.nats || !values.dir) throw new Error("usage: see the head of bench/projector.ts");
  const natsPid = values["nats-pid"] ? Number(values["nats-pid"]) : undefined;
  const config = loadConfig(
    {},
    {
      stream: `BENCH_DATA_${process.pid}`,
      subjectPrefix: `benchdata${process.pid}`,
      dataDir: values.dir,
      hostId: "bench",
    },
  );
  const ctx = await connectContext(config, values.nats, "bench-projector");
  try {
    const runs = values["read-model-runs"];
    if (runs)
      return await buildReadModel(
        ctx,
        join(values.dir, "read-model.sqlite"),
        Number(runs),
        natsPid,
        Number(values.amplify),
      );
    return await projectorRows(ctx, values.dir, Number(values.messages), values.rows.split(","), natsPid);
  } finally {
    await ctx.jsm.streams.delete(config.stream).catch(() => undefined);
    await ctx.nc.drain().catch(() => ctx.nc.close());
  }
}

if (import.meta.main) {
  console.log(JSON.stringify(await main()));
  // A stopped projector leaves a timer behind (its stop's bound); nothing else is pending.
  process.exit(0);
}
