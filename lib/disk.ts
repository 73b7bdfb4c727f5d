/**
 * The disk guard's decision, apart from the file system: given what statfs says of a
 * watched directory and the configured thresholds, is its disk low, and what do we tell
 * the caller. No I/O here (lib/disk-watch.ts reads the disks).
 */

/** CODEX_FLOW_DISK_MIN_FREE_BYTES and CODEX_FLOW_DISK_MIN_FREE_PERCENT; either 0 turns the guard off. */
export type DiskThresholds = { minFreeBytes: number; minFreePercent: number };

/** A directory the guard watches and what it holds ("read model", "NATS store"). */
export type WatchedDir = { role: string; dir: string };

/** One reading: bytes free to an unprivileged writer, and the file system's size. */
export type DiskReading = WatchedDir & { freeBytes: number; totalBytes: number };

/** What the guard concluded for one directory; `error` when statfs failed (then never low). */
export type DiskState = WatchedDir & {
  freeBytes: number | null;
  totalBytes: number | null;
  thresholdBytes: number;
  low: boolean;
  error?: string;
};

/**
 * The free space under which a disk counts as low: the smaller of the two thresholds, so
 * the default (1 GiB or 5 %) asks for 1 GiB of a large disk and 5 % of a small one, and
 * never trips on a machine with a gigabyte to spare.
 */
export function thresholdBytes(totalBytes: number, thresholds: DiskThresholds): number {
  return Math.min(thresholds.minFreeBytes, Math.floor((totalBytes * thresholds.minFreePercent) / 100));
}

/** Decides whether a reading is low. */
export function decideDisk(reading: DiskReading, thresholds: DiskThresholds): DiskState {
  const threshold = thresholdBytes(reading.totalBytes, thresholds);
  return { ...reading, thresholdBytes: threshold, low: reading.freeBytes < threshold };
}

/** A directory statfs could not read: reported, never low (the guard does not refuse on a guess). */
export function unreadableDisk(dir: WatchedDir, error: unknown, thresholds: DiskThresholds): DiskState {
  return {
    ...dir,
    freeBytes: null,
    totalBytes: null,
    thresholdBytes: thresholds.minFreeBytes,
    low: false,
    error: error instanceof Error ? error.message : String(error),
  };
}

/** "the read model's disk is low: 1.2 MiB free under /srv/data, below the threshold of 2.0 MiB" */
export function lowDiskMessage(state: DiskState): string {
  return `the ${state.role}'s disk is low: ${formatBytes(state.freeBytes ?? 0)} free under ${state.dir}, below the threshold of ${formatBytes(state.thresholdBytes)} (CODEX_FLOW_DISK_MIN_FREE_BYTES / CODEX_FLOW_DISK_MIN_FREE_PERCENT)`;
}

/** Bytes for a person: exact below 1 KiB, else one decimal in KiB, MiB, GiB or TiB. */
export function formatBytes(bytes: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
