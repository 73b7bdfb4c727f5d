import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "../../lib/log.ts";
import { fenceAfterMs, renewEveryMs } from "../../lib/nats/lease.ts";
import { LocalWriteError } from "./local-write.ts";

/** The guard's program (bash: POSIX sh cannot time out a read, and a Bun process would cost 20 MB). */
const GUARD = resolve(import.meta.dir, "guard.sh");

/** One step: its process (the systemd-run client under systemd-run, with `unit`), its executor and run. */
type Entry = { pid: number; executorPid: number; runId: string; attempt: number; cmdline: string; unit?: string };

/** The executor's variables `systemctl --user` needs to reach the user manager; the guard gets these and nothing else of it. */
const USER_MANAGER_ENV = ["HOME", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS"];

/**
 * The step processes this host's executor started, one file each under
 * `<data dir>/executor/<host>/`. A step leads its own process group, so an executor that
 * is killed or frozen leaves its steps running: its guard (services/executor/guard.sh, a
 * process watching a pipe only the executor holds) ends their groups the moment it dies,
 * even by SIGKILL, or once its heartbeat has been silent for the fence time (frozen), so
 * its lease can pass to another host without the step running twice at once; the next executor on the
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
    record(pid: number, runId: string, attempt: number, unit?: string): void {
      const entry: Entry = {
        pid,
        executorPid: process.pid,
        runId,
        attempt,
        cmdline: cmdlineOf(pid) ?? "",
        ...(unit ? { unit } : {}),
      };
      writeEntry(join(dir, String(pid)), JSON.stringify(entry));
    },
    forget(pid: number): void {
      rmSync(join(dir, String(pid)), { force: true });
      rmSync(join(dir, `fenced-${pid}`), { force: true });
    },
    /** How long the executor had been silent when its guard killed step `pid` (it was frozen), or undefined when the guard did not. */
    guardFenced(pid: number): number | undefined {
      try {
        return (JSON.parse(readFileSync(join(dir, `fenced-${pid}`), "utf8")) as { silentMs: number }).silentMs;
      } catch {
        return undefined;
      }
    },
    /**
     * Starts this executor's guard, with a heartbeat on its pipe every renewEveryMs(leaseMs):
     * after fenceAfterMs(leaseMs) without one it kills this executor's steps.
     * `end()` retires it without touching any step (a graceful stop).
     */
    guard(leaseMs: number): { end(): void } {
      const managerEnv = Object.fromEntries(
        USER_MANAGER_ENV.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])),
      );
      const guard = Bun.spawn(["bash", GUARD], {
        env: {
          ...managerEnv,
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          CODEX_FLOWS_LEDGER: dir,
          CODEX_FLOWS_EXECUTOR_PID: String(process.pid),
          CODEX_FLOWS_FENCE_MS: String(fenceAfterMs(leaseMs)),
        },
        stdin: "pipe",
        stdout: "ignore",
        stderr: "ignore",
        // Its own session: a terminal's Ctrl-C must not end it before the executor's graceful stop.
        detached: true,
      });
      guard.unref();
      guards.add(guard);
      let lost = false;
      const guardGone = (error: unknown) => {
        if (lost) return;
        lost = true;
        log.error("the executor's guard is gone: a step of this executor is not fenced if it freezes or dies", {
          error,
        });
      };
      const beat = setInterval(() => {
        // Writing to a guard that is gone fails silently: its exit is what tells.
        if (guard.exitCode !== null || guard.signalCode !== null)
          return guardGone(`exited with ${guard.signalCode ?? guard.exitCode}`);
        try {
          guard.stdin.write("beat\n");
          Promise.resolve(guard.stdin.flush()).catch(guardGone);
        } catch (error) {
          guardGone(error);
        }
      }, renewEveryMs(leaseMs));
      beat.unref();
      return {
        end() {
          clearInterval(beat);
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
        // A guard's note on a step it fenced goes with the step's entry.
        if (name.startsWith("fenced-")) {
          if (!existsSync(join(dir, name.slice("fenced-".length)))) rmSync(path, { force: true });
          continue;
        }
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
            log.warn("ended a step left running by an executor that died", {
              runId: entry.runId,
              attempt: entry.attempt,
              pid: entry.pid,
            });
          } catch {
            // Gone between the look and the kill: nothing left to end.
          }
        }
        rmSync(path, { force: true });
        rmSync(join(dir, `fenced-${name}`), { force: true });
      }
      return reaped;
    },
  };
}

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
