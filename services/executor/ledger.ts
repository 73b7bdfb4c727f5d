import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../lib/log.ts";
import { LocalWriteError } from "./local-write.ts";

type Entry = { pid: number; executorPid: number; runId: string; attempt: number; cmdline: string };

/**
 * The step processes this host's executor started, one file each under
 * `<data dir>/executor/<host>/`. A step leads its own process group, so an executor that
 * is killed leaves its steps running: its guard (a shell watching a pipe only the
 * executor holds) ends their groups the moment it dies, even by SIGKILL, so its lease can
 * pass to another host without the step running twice at once; the next executor on the
 * host ends whatever is left of groups whose executor is gone (and whose process is still
 * the one recorded, not a reused pid).
 */
export function processLedger(dataDir: string, hostId: string, log: Logger) {
  const dir = join(dataDir, "executor", hostId);
  mkdirSync(dir, { recursive: true });
  return {
    /** Writes an entry like the step's will be, and removes it: a full or failing disk is found before the step starts. */
    probe(runId: string, attempt: number): void {
      const entry: Entry = { pid: 0, executorPid: process.pid, runId, attempt, cmdline: "" };
      writeEntry(join(dir, `.probe-${runId}-${attempt}`), `${JSON.stringify(entry)}${" ".repeat(256)}`);
      rmSync(join(dir, `.probe-${runId}-${attempt}`), { force: true });
    },
    /** Throws a LocalWriteError when the entry cannot be written (the caller ends the step at once). */
    record(pid: number, runId: string, attempt: number): void {
      const entry: Entry = { pid, executorPid: process.pid, runId, attempt, cmdline: cmdlineOf(pid) ?? "" };
      writeEntry(join(dir, String(pid)), JSON.stringify(entry));
    },
    forget(pid: number): void {
      rmSync(join(dir, String(pid)), { force: true });
    },
    /** Starts this executor's guard; `end()` retires it without touching any step (a graceful stop). */
    guard(): { end(): void } {
      const guard = Bun.spawn(["sh", "-c", GUARD], {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CODEX_FLOWS_LEDGER: dir, CODEX_FLOWS_EXECUTOR_PID: String(process.pid) },
        stdin: "pipe",
        stdout: "ignore",
        stderr: "ignore",
        // Its own session: a terminal's Ctrl-C must not end it before the executor's graceful stop.
        detached: true,
      });
      guard.unref();
      guards.add(guard);
      return {
        end() {
          guards.delete(guard);
          guard.stdin.write("stop\n");
          void guard.stdin.end();
        },
      };
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

/**
 * The guard: waits on its stdin. The word `stop` (a graceful stop) ends it quietly; an end
 * without it means the executor died (the kernel closed its end of the pipe), and the
 * guard kills the process group of every step the ledger lists for that executor. The
 * ledger files stay for the next executor, which finds them ended.
 */
const GUARD = `IFS= read -r word
[ "$word" = stop ] && exit 0
for f in "$CODEX_FLOWS_LEDGER"/*; do
  pid=\${f##*/}
  case "$pid" in ''|*[!0-9]*) continue ;; esac
  grep -q "\\"executorPid\\":$CODEX_FLOWS_EXECUTOR_PID," "$f" 2>/dev/null || continue
  kill -s KILL -- "-$pid" 2>/dev/null
done`;

/** Every live guard's process: its stdin pipe must stay open (not collected) while the executor runs. */
const guards = new Set<Bun.Subprocess<"pipe", "ignore", "ignore">>();

function writeEntry(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (error) {
    // A half-written entry would be read as garbage by the guard and the next executor.
    rmSync(path, { force: true });
    throw new LocalWriteError(path, "the executor's process ledger", error);
  }
}

function cmdlineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return undefined;
  }
}
