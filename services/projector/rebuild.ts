import { Database } from "bun:sqlite";
import { chmodSync, copyFileSync, existsSync, renameSync, rmSync } from "node:fs";
import { openReadModel } from "../../lib/read-model/database.ts";
import type { ServiceContext } from "../runtime/context.ts";
import { catchUpIndexes } from "./indexers.ts";
import { startProjectorService } from "./service.ts";

/** The rebuild's SQLite page cache (KiB). */
const REBUILD_CACHE_KIB = 128 * 1024;

/** Where a rebuild is: applying messages (`applied` of `target`), then building the indexes. */
export type RebuildProgress = { stage: "applying" | "indexing"; applied: number; target: number; elapsedMs: number };

/**
 * Builds a read model from stream sequence 1 (or from a snapshot's copy and the messages
 * after its sequence: lib/read-model/snapshot.ts) into a new file until it has caught up
 * with the stream's last sequence as of the start: one self-contained file (written
 * without a WAL). With `swapInto`, renames it over that path (and drops the old file's
 * WAL side files). Returns the path of the new read model.
 */
export async function rebuildReadModel(
  ctx: ServiceContext,
  output: string,
  options: { swapInto?: string; snapshot?: string; onProgress?: (p: RebuildProgress) => void } = {},
): Promise<{ path: string; applied: number; elapsedMs: number }> {
  const started = Date.now();
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${output}${suffix}`, { force: true });
  const target = (await ctx.jsm.streams.info(ctx.config.stream)).state.last_seq;
  // A snapshot has its indexes, and only the tail is applied: it keeps them.
  const indexes = options.snapshot ? [] : await createWithoutIndexes(output);
  if (options.snapshot) {
    copyFileSync(options.snapshot, output);
    chmodSync(output, 0o600);
  }
  // A rebuild that fails is thrown away, so it need not survive a power cut on the way,
  // and nothing reads it before it is done: no WAL to copy back into the file at the end.
  // Its SQLite work runs on a thread of its own while this one takes messages from NATS,
  // with a bigger page cache: the default 2 MB made every lookup of a million-message
  // rebuild a read (half the rate of a 100k one; docs/performance.md).
  const service = await startProjectorService(ctx, output, {
    maxBatch: 2_000,
    scratch: true,
    thread: true,
    cacheKiB: REBUILD_CACHE_KIB,
  });
  const report = (stage: RebuildProgress["stage"]) =>
    options.onProgress?.({ stage, applied: service.projector.appliedSeq(), target, elapsedMs: Date.now() - started });
  const ticker = setInterval(() => report("applying"), 1_000);
  try {
    // However long it takes: progress is reported every second meanwhile.
    while (!(await service.projector.waitFor(target, 60_000)));
    await service.projector.stop();
  } finally {
    clearInterval(ticker);
    await service.stop();
  }
  report("applying");
  report("indexing");
  if (indexes.length > 0) createIndexes(output, indexes);
  indexSearch(output);
  let path = output;
  if (options.swapInto) {
    renameSync(output, options.swapInto);
    for (const suffix of ["-wal", "-shm"])
      if (existsSync(`${options.swapInto}${suffix}`)) rmSync(`${options.swapInto}${suffix}`);
    path = options.swapInto;
  }
  return { path, applied: target, elapsedMs: Date.now() - started };
}

/**
 * Makes a new read model at `path` and drops its indexes (all but those of primary keys,
 * through which alone the projector reads), returning their CREATE statements. Building
 * an index once from a million rows costs less than adding each row to it as it comes: a
 * rebuild of 1,000,000 messages took 6% less time and 7% less CPU (docs/performance.md).
 */
async function createWithoutIndexes(path: string): Promise<string[]> {
  await (await openReadModel(path, { scratch: true })).destroy();
  const sqlite = new Database(path);
  try {
    const indexes = sqlite
      .query<{ name: string; sql: string }, []>(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
      )
      .all();
    for (const { name } of indexes) sqlite.exec(`DROP INDEX "${name}"`);
    return indexes.map((index) => index.sql);
  } finally {
    sqlite.close();
  }
}

/** Writes the search index of every row the rebuild wrote (services/projector/search-indexer.ts), in one pass at the end. */
function indexSearch(path: string): void {
  const sqlite = new Database(path);
  try {
    sqlite.exec(`PRAGMA cache_size = -${REBUILD_CACHE_KIB}`);
    catchUpIndexes(sqlite);
  } finally {
    sqlite.close();
  }
}

/** Builds the indexes createWithoutIndexes dropped, once every row is in (each from one sort). */
function createIndexes(path: string, statements: string[]): void {
  const sqlite = new Database(path);
  try {
    sqlite.exec(`PRAGMA cache_size = -${REBUILD_CACHE_KIB}`);
    for (const sql of statements) sqlite.exec(sql);
  } finally {
    sqlite.close();
  }
}
