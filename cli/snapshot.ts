import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Config, readModelPath } from "../lib/config.ts";
import { HintError } from "../lib/hint.ts";
import { durableConsumers, streamStart, trimHistory, trimPoint } from "../lib/nats/stream-history.ts";
import {
  listSnapshots,
  pruneSnapshots,
  type SnapshotManifest,
  snapshotsDir,
  takeSnapshot,
  usableSnapshot,
} from "../lib/read-model/snapshot.ts";
import type { ServiceContext } from "../services/runtime/context.ts";
import { UsageError } from "./args.ts";
import { connectForCommand } from "./nats-url.ts";

/** Runs `work` with a connection to NATS (closed after). */
export async function withContext<T>(
  config: Config,
  name: string,
  work: (ctx: ServiceContext) => Promise<T>,
): Promise<T> {
  const ctx = await connectForCommand(config, name);
  try {
    return await work(ctx);
  } finally {
    await ctx.nc.close();
  }
}

/**
 * `flow projector snapshot [--keep N]`: a consistent copy of this host's read model with
 * the stream sequence it reflects, in the data directory's snapshots/ (the projector may
 * go on running); --keep N removes all but the newest N.
 */
export async function snapshotCommand(config: Config, keep: string | undefined): Promise<number> {
  const keepN = keep === undefined ? undefined : Number(keep);
  if (keepN !== undefined && (!Number.isSafeInteger(keepN) || keepN < 1))
    throw new UsageError(`--keep: expected a whole number >= 1, got ${JSON.stringify(keep)}`);
  const path = readModelPath(config);
  if (!existsSync(path))
    throw new HintError(`no read model at ${path} (is CODEX_FLOW_BACKEND_DATA_DIR right, and has the projector run?)`);
  const firstSeq = await withContext(config, "snapshot", (ctx) => streamStart(ctx.jsm, config.stream, ctx.subjects));
  const dir = snapshotsDir(config.dataDir);
  const manifest = takeSnapshot(path, dir, { name: config.stream, firstSeq });
  console.log(`snapshot of ${path} at sequence ${manifest.seq}: ${join(dir, manifest.file)} (${manifest.bytes} bytes)`);
  for (const gone of keepN ? pruneSnapshots(dir, config.stream, keepN) : [])
    console.log(`removed the older snapshot at sequence ${gone.seq}`);
  return 0;
}

/**
 * The snapshot a rebuild of `config`'s read model starts from, or undefined for sequence
 * 1; refuses (HintError) when the stream no longer holds what the rebuild would need.
 */
export async function rebuildStart(ctx: ServiceContext, fromScratch: boolean): Promise<SnapshotManifest | undefined> {
  const { config } = ctx;
  const start = await streamStart(ctx.jsm, config.stream, ctx.subjects);
  const dir = snapshotsDir(config.dataDir);
  const snapshots = listSnapshots(dir, config.stream);
  const trimmed = `stream ${config.stream} starts at sequence ${start} (it was trimmed)`;
  if (fromScratch) {
    if (start <= 1) return undefined;
    throw new HintError(
      `--from-scratch: ${trimmed}, so a rebuild from sequence 1 would miss sequences 1-${start - 1}; drop --from-scratch to start from a snapshot, or restore the stream from a backup (docs/operations.md)`,
    );
  }
  const snapshot = usableSnapshot(snapshots, start);
  if (snapshot || start <= 1) return snapshot;
  const newest = snapshots[0]
    ? `the newest snapshot in ${dir} is at sequence ${snapshots[0].seq}`
    : `there is no snapshot in ${dir}`;
  throw new HintError(
    `cannot rebuild: ${trimmed} and ${newest}; a rebuild would miss sequences ${(snapshots[0]?.seq ?? 0) + 1}-${start - 1}. ` +
      "Copy a newer snapshot (read-model-*.sqlite and its .json) from another host's snapshots directory into this one, or restore the stream from a backup (nats stream restore, docs/operations.md)",
  );
}

/**
 * `flow stream trim --to-snapshot [--dry-run]`: purges the history (events, decisions,
 * commands, run records) the newest snapshot already holds, and no further than every
 * durable consumer has acked; state messages (pauses, held and debounced runs,
 * schedules, purge rounds) stay.
 */
export async function trimCommand(
  config: Config,
  action: string | undefined,
  toSnapshot: boolean,
  dryRun: boolean,
): Promise<number> {
  if (action !== "trim" || !toSnapshot)
    throw new UsageError(
      `expected: flow stream trim --to-snapshot [--dry-run]${action && action !== "trim" ? ` (not "${action}")` : ""}`,
    );
  return await withContext(config, "trim", async (ctx) => {
    const dir = snapshotsDir(config.dataDir);
    const snapshot = listSnapshots(dir, config.stream)[0];
    if (!snapshot)
      throw new HintError(`no snapshot of stream ${config.stream} in ${dir}: take one first (flow projector snapshot)`);
    const { upTo, limitedBy } = trimPoint(snapshot.seq, await durableConsumers(ctx.jsm, config.stream));
    const start = await streamStart(ctx.jsm, config.stream, ctx.subjects);
    const why = limitedBy
      ? ` (not up to ${snapshot.seq + 1}: consumer ${limitedBy.consumer} has acked only up to ${limitedBy.ackFloor})`
      : "";
    if (upTo <= start) {
      console.log(`nothing to trim: stream ${config.stream} starts at ${start}, the trim could reach ${upTo}${why}`);
      return 0;
    }
    const { state } = await ctx.jsm.streams.info(config.stream);
    console.log(
      `${dryRun ? "would remove" : "removing"} the history below sequence ${upTo}${why}, held by snapshot ${snapshot.file}; the stream holds ${state.messages} messages, ${state.bytes} bytes`,
    );
    if (dryRun) return 0;
    const purged = await trimHistory(ctx.jsm, config.stream, ctx.subjects, upTo);
    const after = (await ctx.jsm.streams.info(config.stream)).state;
    console.log(`removed ${purged} messages; the stream holds ${after.messages} messages, ${after.bytes} bytes`);
    return 0;
  });
}
