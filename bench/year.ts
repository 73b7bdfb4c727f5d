/**
 * Row year (opt-in): a million runs over 365 days under a 30-day retention (failures 90),
 * written straight into the stream a month at a time (test/support/year.ts, each day
 * followed by its retention tick) and applied by the real projector, which deletes and
 * gives pages back as it goes; after each month but the last, a snapshot and a trim of
 * the stream up to it, as an operator's monthly job would. Then a rebuild from the last
 * snapshot and the tail, compared row for row. test/year.int.test.ts is the same at 20k.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { loadConfig, readModelPath } from "../lib/config.ts";
import type { EmbeddedNats } from "../lib/nats/nats-server.ts";
import { streamStart, trimHistory } from "../lib/nats/stream-history.ts";
import { fullVacuum, incrementalVacuum, openReadModel, rawSqlite } from "../lib/read-model/database.ts";
import type { PurgeOutcome } from "../lib/read-model/purge.ts";
import { pruneSnapshots, snapshotsDir, takeSnapshot } from "../lib/read-model/snapshot.ts";
import { rebuildReadModel } from "../services/projector/rebuild.ts";
import { startProjectorService } from "../services/projector/service.ts";
import { connectContext } from "../services/runtime/context.ts";
import { snapshotOf } from "../test/support/snapshot.ts";
import { publishYear, type YearPlan, yearKept } from "../test/support/year.ts";
import { progress, tempDir } from "./rows.ts";
import { round } from "./stats.ts";
import type { Row } from "./table.ts";

const DAY = 86_400_000;

export type YearFigures = {
  runs: number;
  kept: number;
  elapsedS: number;
  purge: { runs: number; rounds: number; ms: number; runsPerS: number };
  readModel: { bytes: number; tombstoneBytes: number; bytesPer100kKept: number; bound: number };
  stream: { messages: number; bytes: number };
  vacuum: { incrementalMs: number; fullMs: number; fullBytesBefore: number; fullBytesAfter: number };
  rebuild: { ms: number; equal: boolean };
};

/** The stated bound (docs/operations.md, "A year"): bytes of read model per kept run and per tombstone, plus a fixed part. */
export const YEAR_BOUND = { perKeptRun: 4_096, perTombstone: 128, fixed: 1 << 20 };

export async function measureYear(server: EmbeddedNats, runs = 1_000_000): Promise<YearFigures> {
  const started = Date.now();
  const config = loadConfig(
    {},
    {
      stream: "YEAR",
      subjectPrefix: "year",
      dataDir: tempDir("year"),
      port: 0,
      hostId: "bench",
      purgeRoundRuns: 10_000,
    },
  );
  const ctx = await connectContext(config, server.url, "bench-year");
  const plan: YearPlan = {
    runs,
    days: 365,
    start: Date.now() - 366 * DAY,
    failEvery: 20,
    flows: ["billing", "reports", "sync"],
    policy: { days: 30, failedDays: 90 },
    tombstoneDays: 400,
  };
  const purges: PurgeOutcome[] = [];
  const service = await startProjectorService(ctx, readModelPath(config), {
    onPurged: (outcomes) => purges.push(...outcomes),
  });
  const caughtUp = async () => {
    const last = (await ctx.jsm.streams.info(config.stream)).state.last_seq;
    while (!(await service.projector.waitFor(last, 60_000)))
      progress(`year: the projector is at ${service.projector.appliedSeq()} of ${last}`);
  };
  let snapshot: ReturnType<typeof takeSnapshot> | undefined;
  try {
    for (let month = 0; month * 30 < 365; month++) {
      const [from, to] = [month * 30, Math.min(month * 30 + 30, 365)];
      await publishYear(ctx, plan, from, to);
      await caughtUp();
      progress(`year: days ${from}-${to - 1} applied (${Math.round((Date.now() - started) / 1000)} s)`);
      if (to === 365) break;
      const dir = snapshotsDir(config.dataDir);
      snapshot = takeSnapshot(readModelPath(config), dir, {
        name: config.stream,
        firstSeq: await streamStart(ctx.jsm, config.stream, ctx.subjects),
      });
      pruneSnapshots(dir, config.stream, 2);
      await trimHistory(ctx.jsm, config.stream, ctx.subjects, snapshot.seq + 1);
    }
    const incrementalStarted = performance.now();
    await incrementalVacuum(service.db);
    const incrementalMs = performance.now() - incrementalStarted;
    const sqlite = rawSqlite(service.db);
    const tombstoneBytes =
      (
        sqlite
          .query(
            "SELECT sum(pgsize) AS bytes FROM dbstat WHERE name IN ('tombstones', 'sqlite_autoindex_tombstones_1')",
          )
          .get() as { bytes: number | null }
      ).bytes ?? 0;
    const { state } = await ctx.jsm.streams.info(config.stream);
    await service.stop();
    const bytes = statSync(readModelPath(config)).size;
    let kept = 0;
    for (let i = 0; i < runs; i++) if (yearKept(plan, i, 364)) kept++;
    progress("year: rebuilding from the last snapshot and the tail");
    const rebuildStarted = performance.now();
    const rebuilt = join(config.dataDir, "rebuilt.sqlite");
    await rebuildReadModel(ctx, rebuilt, { snapshot: join(snapshotsDir(config.dataDir), snapshot!.file) });
    const rebuildMs = performance.now() - rebuildStarted;
    const equal = (await snapshotOf(rebuilt)) === (await snapshotOf(readModelPath(config)));
    const db = await openReadModel(readModelPath(config));
    const fullStarted = performance.now();
    fullVacuum(db);
    const fullMs = performance.now() - fullStarted;
    await db.destroy();
    const purgedRuns = purges.reduce((n, p) => n + p.runs, 0);
    const purgeMs = purges.reduce((n, p) => n + p.ms, 0);
    return {
      runs,
      kept,
      elapsedS: Math.round((Date.now() - started) / 1000),
      purge: {
        runs: purgedRuns,
        rounds: purges.length,
        ms: round(purgeMs),
        runsPerS: Math.round((purgedRuns / purgeMs) * 1000),
      },
      readModel: {
        bytes,
        tombstoneBytes,
        bytesPer100kKept: Math.round(((bytes - tombstoneBytes) / kept) * 100_000),
        bound: YEAR_BOUND.fixed + kept * YEAR_BOUND.perKeptRun + (runs - kept) * YEAR_BOUND.perTombstone,
      },
      stream: { messages: state.messages, bytes: state.bytes },
      vacuum: {
        incrementalMs: round(incrementalMs),
        fullMs: round(fullMs),
        fullBytesBefore: bytes,
        fullBytesAfter: statSync(readModelPath(config)).size,
      },
      rebuild: { ms: round(rebuildMs), equal },
    };
  } finally {
    await ctx.nc.close();
  }
}

/** Measured, not judged (verdict "-"), but a rebuild that differs or a read model over its bound is INVALID. */
export function yearRows(f: YearFigures): Row[] {
  const mb = (n: number) => `${round(n / 1e6)} MB`;
  const within = f.readModel.bytes <= f.readModel.bound && f.rebuild.equal;
  return [
    {
      row: "year: purge",
      rps: f.purge.runsPerS,
      target: "(runs deleted/s)",
      verdict: "-",
      note: `${f.purge.runs} of ${f.runs} runs in ${f.purge.rounds} daily rounds, ${round(f.purge.ms / 1000)} s inside the projector's transactions`,
    },
    {
      row: "year: kept",
      target: "(bytes/100k runs)",
      verdict: "-",
      note: `${mb(f.readModel.bytesPer100kKept)} per 100k runs kept (${f.kept} kept, with events, attempts, output); tombstones ${mb(f.readModel.tombstoneBytes)}`,
    },
    {
      row: "year: vacuum",
      target: "(time)",
      verdict: "-",
      note: `incremental at the end ${round(f.vacuum.incrementalMs)} ms (the projector gave pages back after each round); full VACUUM ${round(f.vacuum.fullMs / 1000)} s, ${mb(f.vacuum.fullBytesBefore)} to ${mb(f.vacuum.fullBytesAfter)}`,
    },
    {
      row: "year: bounds",
      target: "(read model <= bound)",
      verdict: within ? "-" : "INVALID",
      note: `read model ${mb(f.readModel.bytes)} (bound ${mb(f.readModel.bound)}); stream ${f.stream.messages} messages, ${mb(f.stream.bytes)}; rebuild from snapshot + tail ${round(f.rebuild.ms / 1000)} s, ${f.rebuild.equal ? "equal row for row" : "DIFFERENT"}; ${f.elapsedS} s in all`,
    },
  ];
}
