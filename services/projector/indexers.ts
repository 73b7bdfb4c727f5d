import type { Database as Sqlite } from "bun:sqlite";
import { statSync } from "node:fs";
import { foldDurationsBatch } from "./fold-durations.ts";
import { indexSearchBatch } from "./search-indexer.ts";

/**
 * The work that follows the projector's writes instead of sitting in them: the search
 * index (search-indexer.ts) and the overview's duration histograms (fold-durations.ts).
 * Runs on the projector's own connection (its thread, or its writer thread), between the
 * projector's transactions, every `everyMs`, each batch one transaction of its own. While
 * the projector is busy (it committed within `everyMs`) a turn takes at most `busyBatch`
 * rows a job, so the projector keeps its pace (the index falls behind during a long burst);
 * when it is idle, batches of `batch` rows until nothing waits.
 */
const JOBS = [indexSearchBatch, foldDurationsBatch];

/** The WAL size over which a caught-up, idle turn checkpoints and truncates it (the projector's own writes leave it short after a purge; these small transactions would grow it up to the autocheckpoint's 64 MB). */
const WAL_TRUNCATE_BYTES = 4 << 20;

function giveBackWal(sqlite: Sqlite): void {
  if (sqlite.filename === ":memory:" || sqlite.inTransaction) return;
  const wal = statSync(`${sqlite.filename}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  if (wal > WAL_TRUNCATE_BYTES) sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

/** Does all of it (a rebuild's end, a bench's read model); returns how many rows. */
export function catchUpIndexes(sqlite: Sqlite, batch = 50_000): number {
  let total = 0;
  for (const job of JOBS) {
    // Bounded: each round takes `batch` rows or ends; new rows come only from writes, which wait for this thread.
    for (let round = 0; round < 1_000_000; round++) {
      const n = job(sqlite, batch);
      total += n;
      if (n < batch) break;
    }
  }
  return total;
}

export type IndexersOptions = {
  /** How often it looks for rows to index or fold (ms). */
  everyMs?: number;
  /** The most rows one transaction indexes while the projector is idle. */
  batch?: number;
  /** While the projector committed in the last `everyMs`: the most rows a job takes in a turn, so the projector keeps its pace. */
  busyBatch?: number;
  /** The most time one idle turn spends before it lets the projector go on (ms); the next turn comes at once when rows wait. */
  turnMs?: number;
  /** Told of a batch that failed (a full disk): the rows wait and the next turn tries again. */
  onError?: (error: unknown) => void;
};

/** `busy()`: the projector just committed (call it after each commit). */
export type Indexers = { busy(): void; stop(): void };

/** Starts them on `sqlite` (the projector's connection). */
export function startIndexers(sqlite: Sqlite, options: IndexersOptions = {}): Indexers {
  const { everyMs = 100, batch = 2_000, busyBatch = 200, turnMs = 20, onError } = options;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  let lastBusy = Number.NEGATIVE_INFINITY;
  /** Rows written since the WAL was last looked at. */
  let wrote = 0;
  const turn = () => {
    if (stopped) return;
    let more = false;
    // A transaction open on this connection is the projector's (its batch awaits in between): not now.
    if (!sqlite.inTransaction) {
      const started = performance.now();
      try {
        if (started - lastBusy < everyMs) for (const job of JOBS) wrote += job(sqlite, busyBatch);
        else {
          for (const job of JOBS)
            for (let n = batch; n === batch && !(more = performance.now() - started >= turnMs); )
              wrote += n = job(sqlite, batch);
          // Caught up and idle after writing: the WAL those small transactions grew goes back.
          if (wrote > 0 && !more) {
            giveBackWal(sqlite);
            wrote = 0;
          }
        }
      } catch (error) {
        more = false;
        onError?.(error);
      }
    }
    timer = setTimeout(turn, more ? 0 : everyMs);
  };
  timer = setTimeout(turn, everyMs);
  return {
    busy() {
      lastBusy = performance.now();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
