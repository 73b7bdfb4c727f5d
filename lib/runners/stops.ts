/**
 * Stopping a launched step, the same for every runner and executor: which stop ended it
 * (StopReason), and that a graceful stop is asked once while `fenced` always kills at
 * once. How a stop reaches the step's processes (its process group, its systemd unit) is
 * the launch's (lib/runners/launch.ts), given here as two enders.
 */
import { readFileSync } from "node:fs";
import { statFields } from "./escapees.ts";
import type { StopReason } from "./types.ts";

/** How a launch ends what it started: gracefully (SIGTERM, SIGKILL after the kill grace) or now (SIGKILL). */
export type Enders = { graceful(): void; now(): void };

/** What the bookkeeping reads of a launched process. */
type Child = Pick<Bun.Subprocess, "pid" | "exitCode" | "signalCode">;

/** What a runner stops a launched step with. */
export type Stoppable = {
  /**
   * Stops the step for `reason`. After a first graceful stop another changes nothing;
   * `fenced` kills at once whatever came before. A step that already ended is left alone
   * and the stop is not its (a process that exited but was not reaped yet counts as ended).
   */
  stop(reason: StopReason): void;
  /** Ends a step its runner is done with (code-mode's app-server after its turn): gracefully, and no stop of the step's. */
  end(): void;
  /** The stop that ended the step: StepOutcome's `stoppedBy`. */
  readonly stoppedBy: StopReason | undefined;
};

/** The stop a request's `signal` asks for (StepRunRequest): "shutdown" when that is its abort reason, else "cancel". */
export function stopReasonOf(signal: AbortSignal): "cancel" | "shutdown" {
  return signal.reason === "shutdown" ? "shutdown" : "cancel";
}

/** The stop bookkeeping of one launched `child`, ending it with `enders`. */
export function stoppable(child: Child, enders: Enders): Stoppable {
  let stoppedBy: StopReason | undefined;
  let graceful = false;
  let killed = false;
  let done = false;
  return {
    stop(reason) {
      if (killed || hasEnded(child)) return;
      if (reason === "fenced") {
        killed = true;
        if (!done) stoppedBy = reason;
        enders.now();
      } else if (!graceful) {
        graceful = true;
        stoppedBy = reason;
        enders.graceful();
      }
    },
    end() {
      if (graceful || killed || hasEnded(child)) return;
      graceful = done = true;
      enders.graceful();
    },
    get stoppedBy() {
      return stoppedBy;
    },
  };
}

/** True once the child exited, also while it waits to be reaped (a zombie): a stop then would not be what ended it. */
export function hasEnded(child: Child): boolean {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  try {
    return statFields(readFileSync(`/proc/${child.pid}/stat`, "utf8"))[0] === "Z";
  } catch {
    return true; // reaped meanwhile
  }
}
