import { closeSync, openSync, statfsSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { tempDir } from "./temp.ts";

/** Whether this test process may mount a tmpfs (root). */
export const canMount = process.getuid?.() === 0;

/** A small tmpfs of its own (mounting one needs root); `cleanup` registers its lazy unmount, to run once the processes are gone. */
export function smallDisk(prefix: string, size: string, cleanup: (fn: () => unknown) => void): string {
  const dir = tempDir(prefix);
  const mounted = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  if (mounted.exitCode !== 0) throw new Error(`mount failed: ${mounted.stderr.toString()}`);
  cleanup(() => Bun.spawnSync(["umount", "-l", dir]));
  return dir;
}

/** Free bytes under `dir`, as an unprivileged writer sees them. */
export function freeBytes(dir: string): number {
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}

/**
 * Writes zeros into `path` until its file system has `leaveFree` bytes free or fewer,
 * or (`leaveFree` 0) until it says it is full.
 */
export function fill(path: string, leaveFree = 0): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (let i = 0; i < 100_000; i++) {
      const room = freeBytes(dirname(path)) - leaveFree;
      if (leaveFree > 0 && room <= 0) return;
      writeSync(fd, chunk, 0, leaveFree > 0 ? Math.min(chunk.length, room) : chunk.length);
    }
    throw new Error(`${path}: never filled up`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    closeSync(fd);
  }
}
