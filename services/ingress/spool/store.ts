import {
  appendFileSync,
  closeSync,
  constants,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { HintError } from "../../../lib/hint.ts";
import { type DataDirLock, LockHeldError, lockDataDir } from "../../../lib/lock.ts";
import type { Logger } from "../../../lib/log.ts";
import {
  decodeProgress,
  decodeRecords,
  encodeProgress,
  encodeRecord,
  type Located,
  type SpoolRecord,
} from "./record.ts";

/** A spooled record not drained yet: where it is, and what /healthz and dedup need without reading it. */
export type Entry = { offset: number; end: number; msgID: string; spooledAt: number };

/**
 * The spool's files in its directory, owned by one process (flock on `spool.lock`):
 * `spool.log`, the records, appended and fsynced before a write is answered; and
 * `drained.log`, the offset the drain reached, appended and fsynced after each publish.
 * Once everything is drained both are cut to nothing, so the spool's disk use returns to 0.
 */
export type SpoolStore = {
  /** How many records are not drained yet. */
  depth(): number;
  /** The oldest record not drained yet. */
  oldest(): Entry | undefined;
  /** Whether a record with this message id waits in the spool. */
  holds(msgID: string): boolean;
  /** Appends records and fsyncs them (one fsync for the batch). */
  append(records: SpoolRecord[]): void;
  /** Reads a record back from the file. */
  read(entry: Entry): SpoolRecord;
  /** Records that the oldest record is drained (fsynced); cuts both files once none is left. */
  drained(entry: Entry): void;
  /** Keeps a record the stream refused for good, beside the spool, for the operator. */
  setAside(record: SpoolRecord): void;
  /** Bytes on disk (the records file). */
  bytes(): number;
  close(): void;
};

/** Opens (or creates) the spool in `dir`: reads what a previous process left undrained, dropping a torn last record. */
export function openSpoolStore(dir: string, log: Logger): SpoolStore {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = lockSpool(dir);
  const logPath = join(dir, "spool.log");
  const progressPath = join(dir, "drained.log");
  const flags = constants.O_RDWR | constants.O_CREAT | constants.O_APPEND;
  const records = openSync(logPath, flags, 0o600);
  const progress = openSync(progressPath, flags, 0o600);
  let size = fstatSync(records).size;
  let from = decodeProgress(readFileSync(progressPath));
  // Past the end: a crash between cutting the records and cutting the progress, after a full drain.
  if (from > size) {
    from = 0;
    ftruncateSync(progress, 0);
    fdatasyncSync(progress);
  }
  const scanned = decodeRecords(readFileSync(logPath).subarray(from), from);
  if (scanned.torn) {
    // The half-written record of a crash was never answered 202; kept aside, not replayed.
    const aside = `${logPath}.torn-${Date.now()}`;
    appendFileSync(aside, readFileSync(logPath).subarray(scanned.validEnd), { mode: 0o600 });
    ftruncateSync(records, scanned.validEnd);
    fdatasyncSync(records);
    log.warn("spool: dropped a torn last record (a write cut short by a crash, never answered)", {
      bytes: size - scanned.validEnd,
      keptAt: aside,
    });
    size = scanned.validEnd;
  }
  const entries: Entry[] = scanned.records.map(entryOf);
  let head = 0;
  // Message ids waiting, with how many records carry each (a repeat spooled before the dedup check saw the first).
  const waiting = new Map<string, number>();
  const count = (msgID: string, by: number) => {
    const n = (waiting.get(msgID) ?? 0) + by;
    if (n > 0) waiting.set(msgID, n);
    else waiting.delete(msgID);
  };
  for (const e of entries) count(e.msgID, 1);
  if (entries.length > 0) log.info("spool: resuming the drain", { records: entries.length, fromOffset: from });

  return {
    depth: () => entries.length - head,
    oldest: () => entries[head],
    holds: (msgID) => waiting.has(msgID),
    append(batch) {
      const encoded = batch.map(encodeRecord);
      const all = new Uint8Array(encoded.reduce((sum, e) => sum + e.byteLength, 0));
      const added: Entry[] = [];
      let at = 0;
      for (const [i, bytes] of encoded.entries()) {
        all.set(bytes, at);
        added.push({
          offset: size + at,
          end: size + at + bytes.byteLength,
          msgID: batch[i]!.msgID,
          spooledAt: batch[i]!.spooledAt,
        });
        at += bytes.byteLength;
      }
      try {
        writeAll(records, all);
        fdatasyncSync(records);
      } catch (error) {
        // Not answered, so not kept: cut what may have reached the file, so offsets stay true.
        ftruncateSync(records, size);
        throw error;
      }
      size += all.byteLength;
      for (const e of added) {
        entries.push(e);
        count(e.msgID, 1);
      }
    },
    read(entry) {
      const bytes = new Uint8Array(entry.end - entry.offset);
      readSync(records, bytes, 0, bytes.byteLength, entry.offset);
      const decoded = decodeRecords(bytes, entry.offset);
      if (decoded.records.length !== 1)
        throw new Error(`spool: the record at offset ${entry.offset} of ${logPath} no longer reads back`);
      return decoded.records[0]!.record;
    },
    drained(entry) {
      if (entries[head] !== entry) throw new Error("spool: drained out of order");
      head++;
      count(entry.msgID, -1);
      if (head < entries.length) {
        writeAll(progress, encodeProgress(entry.end));
        fdatasyncSync(progress);
        return;
      }
      // Everything is in the stream: cut the records first (a crash here leaves progress past the end, read as 0).
      ftruncateSync(records, 0);
      fdatasyncSync(records);
      ftruncateSync(progress, 0);
      fdatasyncSync(progress);
      entries.length = 0;
      head = 0;
      size = 0;
    },
    setAside(record) {
      appendFileSync(join(dir, "refused.log"), encodeRecord(record), { mode: 0o600 });
    },
    bytes: () => size,
    close() {
      closeSync(records);
      closeSync(progress);
      lock.release();
    },
  };
}

/** One ingress per spool: two would drain and cut the same files. */
function lockSpool(dir: string): DataDirLock {
  try {
    return lockDataDir(dir, "spool", "flow serve ingress");
  } catch (error) {
    if (error instanceof LockHeldError)
      throw new HintError(
        `the spool ${dir} is in use by ${error.who}: give each ingress its own CODEX_FLOW_INGRESS_SPOOL`,
      );
    throw error;
  }
}

function entryOf(located: Located): Entry {
  return { offset: located.offset, end: located.end, msgID: located.record.msgID, spooledAt: located.record.spooledAt };
}

/** write(2) may write less than asked: loop until every byte is out (bounded by the length). */
function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.byteLength; ) at += writeSync(fd, bytes, at, bytes.byteLength - at);
}
