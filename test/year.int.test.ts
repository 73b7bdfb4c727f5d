import { expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { readModelPath } from "../lib/config.ts";
import { streamStart, trimHistory } from "../lib/nats/stream-history.ts";
import { acceptedSeq, isTombstoned, type ReadModel, rawSqlite } from "../lib/read-model/database.ts";
import { snapshotsDir, takeSnapshot } from "../lib/read-model/snapshot.ts";
import { rebuildReadModel } from "../services/projector/rebuild.ts";
import { searchBacklog } from "../services/projector/search-indexer.ts";
import { startProjectorService } from "../services/projector/service.ts";
import { connectContext } from "../services/runtime/context.ts";
import { eventually, testConfig, useNatsServer } from "./support/nats.ts";
import { snapshotOf } from "./support/snapshot.ts";
import { publishYear, type YearPlan, yearKept, yearRun } from "./support/year.ts";

const nats = useNatsServer();
/** Scaled down for CI: `bun run bench --only year` runs the million (docs/performance.md). */
const RUNS = 20_000;
const DAY = 86_400_000;
/** The stated bounds (docs/operations.md, "A year"): bytes of read model per run kept and per tombstone, plus a fixed part. */
const BOUND = { perKeptRun: 4_096, perTombstone: 128, fixed: 1 << 20 };

const count = async (db: ReadModel, table: "events" | "runs" | "attempts" | "output" | "matches" | "tombstones") =>
  Number(
    (
      await db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  );

test(`a year: ${RUNS} runs over 365 days under a 30-day retention (failures 90) end within the stated bound, every kept run intact, deleted ids still duplicates, and a rebuild from snapshot and tail equal row for row`, async () => {
  const config = testConfig({ purgeRoundRuns: 10_000 });
  const ctx = await connectContext(config, nats.url, "year");
  nats.cleanup(() => ctx.nc.close());
  const plan: YearPlan = {
    runs: RUNS,
    days: 365,
    start: Date.now() - 366 * DAY,
    failEvery: 20,
    flows: ["billing", "reports", "sync"],
    policy: { days: 30, failedDays: 90 },
    tombstoneDays: 400,
  };
  const service = await startProjectorService(ctx);
  const caughtUp = async () => {
    const last = (await ctx.jsm.streams.info(config.stream)).state.last_seq;
    await eventually(
      () => service.projector.appliedSeq() >= last || undefined,
      120_000,
      `the projector to reach ${last}`,
    );
  };
  let stopped = false;
  try {
    // Ten months, a snapshot, and the stream trimmed up to it; then the last two months on top.
    await publishYear(ctx, plan, 0, 300);
    await caughtUp();
    const snapshot = takeSnapshot(readModelPath(config), snapshotsDir(config.dataDir), {
      name: config.stream,
      firstSeq: 1,
    });
    const trimmed = await trimHistory(ctx.jsm, config.stream, ctx.subjects, snapshot.seq + 1);
    expect(trimmed).toBeGreaterThan(0);
    expect(await streamStart(ctx.jsm, config.stream, ctx.subjects)).toBe(snapshot.seq + 1);
    const tail = await publishYear(ctx, plan, 300, 365);
    await caughtUp();

    const db = service.db;
    const kept = Array.from({ length: RUNS }, (_, i) => i).filter((i) => yearKept(plan, i, 364));
    const runIds = (await db.selectFrom("runs").select("id").orderBy("id").execute()).map((r) => r.id);
    expect(runIds).toEqual(kept.map((i) => yearRun(plan, i).runId).sort());
    // Every kept run whole: its event, decision, attempt and output.
    for (const table of ["events", "matches", "attempts", "output"] as const)
      expect(await count(db, table)).toBe(kept.length);
    expect(await count(db, "tombstones")).toBe(RUNS - kept.length);
    const gone = [0, 1, Math.floor(RUNS / 2)].map((i) => yearRun(plan, i).eventId);
    for (const id of gone) {
      expect(isTombstoned(db, id)).toBe(true);
      expect(acceptedSeq(db, id)).toBeGreaterThan(0);
    }

    // The stated bounds: the read model by what it keeps; the stream by what came after the snapshot.
    // Measured once the projector's indexers have caught up and given back the WAL their
    // small transactions grew (services/projector/indexers.ts), as they do when it is idle.
    const sqlite = rawSqlite(db);
    await eventually(
      () =>
        (searchBacklog(sqlite) === 0 &&
          (sqlite.query("select count(*) as n from duration_deltas").get() as { n: number }).n === 0 &&
          (statSync(`${readModelPath(config)}-wal`, { throwIfNoEntry: false })?.size ?? 0) <= 4 << 20) ||
        undefined,
      60_000,
      "the indexers to catch up and give back the WAL",
    );
    const bytes =
      statSync(readModelPath(config)).size +
      (statSync(`${readModelPath(config)}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    expect(bytes).toBeLessThanOrEqual(
      BOUND.fixed + kept.length * BOUND.perKeptRun + (RUNS - kept.length) * BOUND.perTombstone,
    );
    const { state } = await ctx.jsm.streams.info(config.stream);
    // The tail, plus the state messages a trim keeps (the 300 retention ticks before it).
    expect(state.messages).toBeLessThanOrEqual(tail + 300);

    await service.stop();
    stopped = true;
    const rebuilt = join(config.dataDir, "rebuilt.sqlite");
    await rebuildReadModel(ctx, rebuilt, { snapshot: join(snapshotsDir(config.dataDir), snapshot.file) });
    expect(await snapshotOf(rebuilt)).toBe(await snapshotOf(readModelPath(config)));
    console.log(
      JSON.stringify({
        runs: RUNS,
        kept: kept.length,
        readModelBytes: bytes,
        streamMessages: state.messages,
        streamBytes: state.bytes,
      }),
    );
  } finally {
    if (!stopped) await service.stop();
  }
}, 120_000);
