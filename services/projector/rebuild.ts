import { existsSync, renameSync, rmSync } from "node:fs";
import type { ServiceContext } from "../context.ts";
import { startProjectorService } from "./service.ts";

/** The rebuild's SQLite page cache (KiB). */
const REBUILD_CACHE_KIB = 128 * 1024;

export type RebuildProgress = { applied: number; target: number; elapsedMs: number };

/**
 * Builds a read model from stream sequence 1 into a new file until it has caught up with
 * the stream's last sequence as of the start: one self-contained file (written without a
 * WAL). With `swapInto`, renames it over that path (and drops the old file's WAL side
 * files). Returns the path of the new read model.
 */
export async function rebuildReadModel(ctx: ServiceContext, output: string, options: { swapInto?: string; onProgress?: (p: RebuildProgress) => void } = {}): Promise<{ path: string; applied: number; elapsedMs: number }> {
  const started = Date.now();
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${output}${suffix}`, { force: true });
  const target = (await ctx.jsm.streams.info(ctx.config.stream)).state.last_seq;
  // A rebuild that fails is thrown away, so it need not survive a power cut on the way,
  // and nothing reads it before it is done: no WAL to copy back into the file at the end.
  // Its SQLite work runs on a thread of its own while this one takes messages from NATS,
  // with a bigger page cache: the default 2 MB made every lookup of a million-message
  // rebuild a read (half the rate of a 100k one; docs/performance.md).
  const service = await startProjectorService(ctx, output, { maxBatch: 2_000, scratch: true, thread: true, cacheKiB: REBUILD_CACHE_KIB });
  const report = () => options.onProgress?.({ applied: service.projector.appliedSeq(), target, elapsedMs: Date.now() - started });
  const ticker = setInterval(report, 1_000);
  try {
    // However long it takes: progress is reported every second meanwhile.
    while (!(await service.projector.waitFor(target, 60_000)));
    await service.projector.stop();
  } finally {
    clearInterval(ticker);
    await service.stop();
  }
  report();
  let path = output;
  if (options.swapInto) {
    renameSync(output, options.swapInto);
    for (const suffix of ["-wal", "-shm"]) if (existsSync(`${options.swapInto}${suffix}`)) rmSync(`${options.swapInto}${suffix}`);
    path = options.swapInto;
  }
  return { path, applied: target, elapsedMs: Date.now() - started };
}
