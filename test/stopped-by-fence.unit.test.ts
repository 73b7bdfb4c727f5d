// Issue 20 item 4: the attempt decides whether a fenced step was stopped by the fence from
// the step's outcome (its runner's `stoppedBy`, or the guard's kill), never from the
// executor kind: stoppedByFence takes no executor.
import { describe, expect, test } from "bun:test";
import { stoppedByFence } from "../services/executor/record.ts";

describe("stopped by the fence, read from the outcome", () => {
  test("given a step its runner stopped for the fence, then it was, however its process ended (a direct group's SIGKILL, a systemd-run client's exit 255)", () => {
    expect(stoppedByFence({ stoppedBy: "fenced", signal: "SIGKILL" }, false)).toBe(true);
    expect(stoppedByFence({ stoppedBy: "fenced", signal: null }, false)).toBe(true);
  });

  test("given a systemd-run client that exited while fenced with no stop of the fence's, then it ended on its own (the executor kind once said otherwise)", () => {
    expect(stoppedByFence({ signal: null }, false)).toBe(false);
  });

  test("given a step its runner stopped gracefully (cancel, shutdown, timeout), then the fence did not stop it, even when the grace ended in SIGKILL", () => {
    for (const stoppedBy of ["cancel", "shutdown", "timeout"] as const)
      expect(stoppedByFence({ stoppedBy, signal: "SIGKILL" }, false)).toBe(false);
  });

  test("given a SIGKILL nobody of ours sent, then the fence did not stop it", () => {
    expect(stoppedByFence({ signal: "SIGKILL" }, false)).toBe(false);
  });

  test("given this host's guard killed the step while the executor was frozen, then the fence stopped it when it died of that SIGKILL, and not when it had exited on its own", () => {
    expect(stoppedByFence({ signal: "SIGKILL" }, true)).toBe(true);
    expect(stoppedByFence({ signal: null }, true)).toBe(false);
  });
});
