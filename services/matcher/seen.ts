import { existsSync } from "node:fs";
import { readModelPath } from "../../lib/config.ts";
import { openReadModel, type ReadModel, rawSqlite, tombstoneKey } from "../../lib/read-model/database.ts";
import type { ServiceContext } from "../runtime/context.ts";

/** What this host's read model knows of an event id: its row (first sequence, latest matched generation), or its tombstone. */
export type Prior = { seq: number; matchedGeneration: number | null; deleted: false } | { seq: number; deleted: true };

/**
 * Whether an accepted event at stream sequence `seq` and `generation` was handled before,
 * by the read model alone: its id was deleted by retention or a purge (a tombstone), or
 * it was accepted at an earlier sequence and already matched at this generation or a
 * later one. A replay (a higher generation) is not. Pure.
 */
export function seenBefore(prior: Prior | undefined, seq: number, generation: number): boolean {
  if (!prior) return false;
  if (prior.deleted) return true;
  return prior.seq < seq && prior.matchedGeneration !== null && prior.matchedGeneration >= generation;
}

/** Looks an event id up in the read model (its events row, else its tombstone). */
export function priorOf(db: ReadModel, eventId: string): Prior | undefined {
  const sqlite = rawSqlite(db);
  const row = sqlite
    .query<{ seq: number; matched_generation: number | null }, [string]>(
      "SELECT seq, matched_generation FROM events WHERE id = ?",
    )
    .get(eventId);
  if (row) return { seq: row.seq, matchedGeneration: row.matched_generation, deleted: false };
  const tombstone = sqlite
    .query<{ seq: number }, [Uint8Array]>("SELECT seq FROM tombstones WHERE id_hash = ?")
    .get(tombstoneKey(eventId));
  return tombstone ? { seq: tombstone.seq, deleted: true } : undefined;
}

/**
 * The read model the matcher's second duplicate guard asks: the projector's in this
 * process, else this host's file when a projector keeps one here. None (a host that runs
 * no projector): only the stream's guard, which lasts as long as the stream keeps the
 * event's decision.
 */
export async function guardReadModel(
  ctx: ServiceContext,
  shared?: ReadModel,
): Promise<{ db?: ReadModel; close(): Promise<void> }> {
  if (shared) return { db: shared, close: async () => undefined };
  const path = readModelPath(ctx.config);
  if (!existsSync(path)) {
    ctx.log.warn(
      `no read model at ${path}: an event published into the stream again after a trim is matched again (docs/operations.md)`,
    );
    return { close: async () => undefined };
  }
  const db = await openReadModel(path);
  return { db, close: () => db.destroy() };
}
