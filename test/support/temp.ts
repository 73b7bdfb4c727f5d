import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];

/**
 * Removes every directory tempDir made so far. bun test does not emit the process's
 * "exit" event, so test/support/preload.ts (bunfig.toml's test preload) calls this in a
 * global afterAll: a run leaves nothing behind in the temporary directory (Bun reads every
 * directory above a script it starts, so a crowded /tmp slows every step a test spawns).
 */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A child process still writing there: the directory is left, not the run failed.
    }
  }
}
process.on("exit", removeTempDirs);

/** A temporary directory, removed after the test run (or when its process exits). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
