import { dirname } from "node:path";
import { readModelPath } from "../../lib/config.ts";
import { lowDiskMessage } from "../../lib/disk.ts";
import { watchDisk } from "../../lib/disk-watch.ts";
import { flowCatalog } from "../../lib/flows/catalog.ts";
import { HintError } from "../../lib/hint.ts";
import { streamStart } from "../../lib/nats/stream-history.ts";
import { openReadModel, type ReadModel, rawSqlite, readCheckpoint } from "../../lib/read-model/database.ts";
import type { Service, ServiceContext } from "../runtime/context.ts";
import { type Indexers, startIndexers } from "./indexers.ts";
import { type Projector, type ProjectorOptions, startProjector } from "./projector.ts";
import { type Retainer, startRetention } from "./retention.ts";
import { threadWriter, type Writer } from "./writer.ts";

export type ProjectorService = Service & { projector: Projector; db: ReadModel };

export type ProjectorServiceOptions = {
  /** The most messages applied in one transaction. */
  maxBatch?: number;
  /** A file only this service uses, thrown away if it fails (openReadModel's `scratch`). */
  scratch?: boolean;
  /** Apply batches on a thread of their own (writer.ts threadWriter) instead of this one. */
  thread?: boolean;
  /** The writing connection's SQLite page cache, in KiB (SQLite's default: 2,000). */
  cacheKiB?: number;
  /** Also told of the purge rounds each commit applied (the bench's purge rate). */
  onPurged?: ProjectorOptions["onPurged"];
};

/** Builds this host's SQLite read model from the stream until stopped. */
export async function startProjectorService(
  ctx: ServiceContext,
  path = readModelPath(ctx.config),
  options: ProjectorServiceOptions = {},
): Promise<ProjectorService> {
  const { config, js, subjects, log } = ctx;
  const { scratch, cacheKiB } = options;
  // With a writer thread this connection only reads the checkpoint: the page cache is the thread's.
  const db = await openReadModel(path, { scratch, cacheKiB: options.thread ? undefined : cacheKiB });
  let writer: Writer | undefined;
  try {
    await refuseGap(ctx, path, await readCheckpoint(db));
    if (options.thread)
      writer = await threadWriter({ path, scratch, cacheKiB, outputRetentionBytes: config.outputRetentionBytes });
  } catch (error) {
    await db.destroy();
    throw error;
  }
  // Only the read model's own disk pauses it: the projector writes nowhere else.
  const thresholds = { minFreeBytes: config.diskMinFreeBytes, minFreePercent: config.diskMinFreePercent };
  const disk = await watchDisk([{ role: "read model", dir: dirname(path) }], thresholds, {
    log,
    whileLow: "the projector pauses",
    whenBack: "the projector goes on",
  });
  const pausedBy = () => {
    const low = disk.low();
    return low && lowDiskMessage(low);
  };
  // A rebuild (scratch) publishes nothing: the purges it applies are in the stream already.
  const retainer: Retainer | undefined = scratch
    ? undefined
    : startRetention(ctx, db, flowCatalog(config.cwd, log, { reportProblems: false }));
  const onPurged: ProjectorOptions["onPurged"] = (outcomes) => {
    retainer?.purged(outcomes);
    options.onPurged?.(outcomes);
  };
  const projector = await startProjector({
    js,
    db,
    stream: config.stream,
    filterSubject: subjects.all,
    log,
    maxBatch: options.maxBatch,
    outputRetentionBytes: config.outputRetentionBytes,
    writer,
    pausedBy,
    onPurged,
  }).catch(async (error: unknown) => {
    await retainer?.stop();
    disk.stop();
    await writer?.close();
    await db.destroy();
    throw error;
  });
  // The search index follows the projector's writes on the writing connection: here, or on the writer thread
  // (writer-worker.ts). A rebuild (scratch) indexes once at its end (rebuild.ts).
  const indexer: Indexers | undefined =
    scratch || options.thread
      ? undefined
      : startIndexers(rawSqlite(db), {
          onError: (error) => log.warn("search indexing failed; it tries again", { error: String(error) }),
        });
  if (indexer) projector.onApplied(() => indexer.busy());
  log.info(
    `projecting ${config.stream} into ${path} from sequence ${projector.appliedSeq() + 1}${options.thread ? " (writing on its own thread)" : ""}`,
  );
  return {
    name: "projector",
    projector,
    db,
    async stop() {
      await retainer?.stop();
      await projector.stop();
      indexer?.stop();
      disk.stop();
      await writer?.close();
      await db.destroy();
    },
  };
}

/**
 * A read model behind the stream's start would silently miss what was trimmed (max_age,
 * max_bytes, `flow stream trim`): refused, with the way out.
 */
async function refuseGap(ctx: ServiceContext, path: string, checkpoint: number): Promise<void> {
  const start = await streamStart(ctx.jsm, ctx.config.stream, ctx.subjects);
  if (start <= checkpoint + 1) return;
  throw new HintError(
    `read model ${path} is at sequence ${checkpoint} but stream ${ctx.config.stream} now starts at ${start} (trimmed): projecting on would miss sequences ${checkpoint + 1}-${start - 1}; ` +
      "rebuild it from a snapshot the stream still covers (flow projector rebuild; copy one from another host's snapshots directory if this host has none), or restore the stream from a backup (docs/operations.md)",
  );
}
