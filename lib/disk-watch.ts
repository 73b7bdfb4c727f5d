import { statfs } from "node:fs/promises";
import {
  type DiskState,
  type DiskThresholds,
  decideDisk,
  lowDiskMessage,
  unreadableDisk,
  type WatchedDir,
} from "./disk.ts";
import type { Logger } from "./log.ts";

/** How often the guard reads the disks: statfs is a few microseconds, and a disk fills in seconds at the earliest. */
export const DISK_CHECK_MS = 1_000;

/** The free space under the watched directories, read on a timer. */
export type DiskWatch = {
  /** The latest state of every watched directory. */
  states(): DiskState[];
  /** The first directory whose disk is low, if any. */
  low(): DiskState | undefined;
  stop(): void;
};

/** Reads one directory's free space (as an unprivileged writer sees it) and decides. */
export async function readDisk(dir: WatchedDir, thresholds: DiskThresholds): Promise<DiskState> {
  try {
    const fs = await statfs(dir.dir);
    return decideDisk({ ...dir, freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize }, thresholds);
  } catch (error) {
    return unreadableDisk(dir, error, thresholds);
  }
}

/** Who watches: its logger, and what it does while a disk is low (said in the log). */
export type DiskWatcher = { log: Logger; whileLow: string; whenBack: string; intervalMs?: number };

/**
 * Watches `dirs` every `intervalMs` (one read at a time, so a slow file system never
 * piles reads up) and logs each change: low, back above the threshold, unreadable.
 * Resolves after the first reading, so a service starts knowing where it stands.
 */
export async function watchDisk(
  dirs: readonly WatchedDir[],
  thresholds: DiskThresholds,
  watcher: DiskWatcher,
): Promise<DiskWatch> {
  let states: DiskState[] = dirs.map((dir) => ({
    ...dir,
    freeBytes: null,
    totalBytes: null,
    thresholdBytes: 0,
    low: false,
  }));
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = async () => {
    const next = await Promise.all(dirs.map((dir) => readDisk(dir, thresholds)));
    next.forEach((state, i) => {
      report(states[i]!, state, watcher);
    });
    states = next;
    if (!stopped) timer = setTimeout(check, watcher.intervalMs ?? DISK_CHECK_MS);
    // The watch never holds a process open: the service's stop ends it, an exit anyway.
    timer?.unref?.();
  };
  await check();
  return {
    states: () => states,
    low: () => states.find((state) => state.low),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function report(before: DiskState, now: DiskState, { log, whileLow, whenBack }: DiskWatcher): void {
  if (now.low && !before.low) log.warn(`${lowDiskMessage(now)}: ${whileLow} until space returns`);
  else if (before.low && !now.low && !now.error)
    log.info(`the ${now.role}'s disk has space again under ${now.dir}: ${whenBack}`);
  if (now.error && now.error !== before.error)
    log.warn(`cannot read the free space under ${now.dir} (${now.role}); the disk guard does not watch it`, {
      error: now.error,
    });
}
