import { Database } from "bun:sqlite";
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { CHECKPOINT } from "./database.ts";

/** What a snapshot reflects: the stream sequence its rows are up to, and the stream as it was then. */
export type SnapshotManifest = {
  v: 1;
  /** The projector's checkpoint inside the copy: every message up to it is applied, none after. */
  seq: number;
  at: string;
  stream: string;
  /** The first sequence the stream still held when the copy was taken (streamStart). */
  firstSeq: number;
  file: string;
  bytes: number;
};

/** Where a data directory keeps its snapshots. */
export function snapshotsDir(dataDir: string): string {
  return join(dataDir, "snapshots");
}

const name = (seq: number) => `read-model-${String(seq).padStart(12, "0")}`;

/**
 * Copies the read model at `path` into `dir` with SQLite's VACUUM INTO: one read
 * transaction, so the copy is consistent while the projector goes on writing, and it
 * holds the checkpoint row, so it says itself which sequence it reflects. The copy is
 * written under a temporary name and renamed (0600), then its manifest likewise: a
 * snapshot without a manifest is one that did not finish and is never used.
 */
export function takeSnapshot(
  path: string,
  dir: string,
  stream: { name: string; firstSeq: number },
  now = new Date(),
): SnapshotManifest {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.taking-${process.pid}.sqlite`);
  rmSync(temp, { force: true });
  // VACUUM INTO wants a file that is missing or empty; made here so it is never readable by others.
  closeSync(openSync(temp, "w", 0o600));
  try {
    const source = new Database(path, { readwrite: true });
    try {
      source.exec("PRAGMA busy_timeout = 5000");
      source.query("VACUUM INTO ?").run(temp);
    } finally {
      source.close();
    }
    const copy = new Database(temp, { readwrite: true });
    let seq: number;
    try {
      seq =
        copy.query<{ seq: number }, [string]>("SELECT seq FROM projector_state WHERE name = ?").get(CHECKPOINT)?.seq ??
        0;
    } finally {
      copy.close();
    }
    const file = `${name(seq)}.sqlite`;
    renameSync(temp, join(dir, file));
    const manifest: SnapshotManifest = {
      v: 1,
      seq,
      at: now.toISOString(),
      stream: stream.name,
      firstSeq: stream.firstSeq,
      file,
      bytes: statSync(join(dir, file)).size,
    };
    const manifestTemp = join(dir, `.taking-${process.pid}.json`);
    writeFileSync(manifestTemp, `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });
    renameSync(manifestTemp, join(dir, `${name(seq)}.json`));
    return manifest;
  } finally {
    rmSync(temp, { force: true });
  }
}

/** The finished snapshots in `dir` of `stream`, newest (highest sequence) first. */
export function listSnapshots(dir: string, stream: string): SnapshotManifest[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  const found: SnapshotManifest[] = [];
  for (const file of files) {
    if (!/^read-model-\d{12}\.json$/.test(file)) continue;
    const manifest = JSON.parse(readFileSync(join(dir, file), "utf8")) as SnapshotManifest;
    if (manifest.stream === stream && statSync(join(dir, manifest.file), { throwIfNoEntry: false }))
      found.push(manifest);
  }
  return found.sort((a, b) => b.seq - a.seq);
}

/** Removes all but the newest `keep` snapshots of `stream` in `dir`; returns those removed. */
export function pruneSnapshots(dir: string, stream: string, keep: number): SnapshotManifest[] {
  const gone = listSnapshots(dir, stream).slice(Math.max(keep, 1));
  for (const manifest of gone) {
    rmSync(join(dir, `${name(manifest.seq)}.json`), { force: true });
    rmSync(join(dir, manifest.file), { force: true });
  }
  return gone;
}

/**
 * The snapshot a rebuild starts from: the newest whose tail the stream still holds whole
 * (`start`, the first sequence the stream holds, at most one past its sequence). Pure.
 */
export function usableSnapshot(snapshots: readonly SnapshotManifest[], start: number): SnapshotManifest | undefined {
  return snapshots.find((s) => start <= s.seq + 1);
}
