import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../lib/log.ts";

type Entry = { pid: number; executorPid: number; runId: string; attempt: number; cmdline: string };

/**
 * The step processes this host's executor started, one file each under
 * `<data dir>/executor/<host>/`. A step leads its own process group, so an executor that
 * is killed leaves its steps running; the next executor on the host ends the groups
 * whose executor is gone (and whose process is still the one recorded, not a reused pid).
 */
export function processLedger(dataDir: string, hostId: string, log: Logger) {
  const dir = join(dataDir, "executor", hostId);
  mkdirSync(dir, { recursive: true });
  return {
    record(pid: number, runId: string, attempt: number): void {
      const entry: Entry = { pid, executorPid: process.pid, runId, attempt, cmdline: cmdlineOf(pid) ?? "" };
      writeFileSync(join(dir, String(pid)), JSON.stringify(entry));
    },
    forget(pid: number): void {
      rmSync(join(dir, String(pid)), { force: true });
    },
    /** Ends the step process groups left by executors that died; returns how many. */
    reapOrphans(): number {
      let reaped = 0;
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        let entry: Entry;
        try {
          entry = JSON.parse(readFileSync(path, "utf8"));
        } catch {
          rmSync(path, { force: true });
          continue;
        }
        if (entry.executorPid !== process.pid && cmdlineOf(entry.executorPid) !== undefined) continue; // its executor still runs
        if (entry.cmdline !== "" && cmdlineOf(entry.pid) === entry.cmdline) {
          try {
            process.kill(-entry.pid, "SIGKILL");
            reaped++;
            log.warn("ended a step left running by an executor that died", { runId: entry.runId, attempt: entry.attempt, pid: entry.pid });
          } catch {
            // Gone between the look and the kill: nothing left to end.
          }
        }
        rmSync(path, { force: true });
      }
      return reaped;
    },
  };
}

function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return undefined;
  }
}
