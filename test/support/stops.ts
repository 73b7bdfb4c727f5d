// The stops every runner kind must honour (issue 20 item 4: runners own stopping), as one
// suite each runner's test file registers with its own way of building a request:
// `fenced` kills a step that ignores SIGTERM at once, a graceful stop gives it the kill
// grace, and the outcome's `stoppedBy` names the stop that ended it.
import { expect, test } from "bun:test";
import { executeStep, type StepOutcome, type StepRunRequest } from "../../lib/runners/index.ts";
import { isRunning, type RequestOptions } from "../fixtures/request.ts";

/** The kill grace of the graceful stops here: far from systemd's default TimeoutStopSec (5 s) and the stand-in's (90 s). */
export const STOP_GRACE_MS = 1_000;
/** How soon after stop("fenced") a step that ignores SIGTERM must be gone ("a few hundred ms"). */
export const FENCED_GONE_MS = 500;

type Build = (script: string, options: Partial<RequestOptions>) => StepRunRequest;
type Stopped = { outcome: StepOutcome; goneMs: number };

/**
 * Runs `script` (a step that prints `trapped <pid>` and ignores SIGTERM), calls `stop`
 * once it printed, and measures from that call until its process is gone.
 */
async function stopOnceTrapped(
  build: Build,
  script: string,
  options: Partial<RequestOptions>,
  stop: () => void,
): Promise<Stopped> {
  const trapped = Promise.withResolvers<{ pid: number; at: number }>();
  const outcome = executeStep(
    build(script, {
      ...options,
      onOutput: ({ text }) => {
        const pid = /trapped (\d+)/.exec(text)?.[1];
        if (pid === undefined) return;
        const at = performance.now();
        stop();
        trapped.resolve({ pid: Number(pid), at });
      },
    }),
  );
  const { pid, at } = await Promise.race([
    trapped.promise,
    outcome.then((o) => Promise.reject(new Error(`the step ended before it trapped SIGTERM: ${JSON.stringify(o)}`))),
  ]);
  // Bounded: the step is SIGKILLed after the grace at the latest.
  while (isRunning(pid) && performance.now() - at < 30_000) await Bun.sleep(2);
  return { outcome: await outcome, goneMs: performance.now() - at };
}

/** Registers the stop suite for one runner kind; `trap` is its fixture step that ignores SIGTERM. */
export function stopSuite(kind: string, build: Build, trap: string): void {
  const graceful = { killGraceMs: STOP_GRACE_MS, timeoutMs: 60_000 };

  test(`${kind}: stop("fenced") kills a step that ignores SIGTERM within ${FENCED_GONE_MS} ms, and the outcome says fenced`, async () => {
    const fence = new AbortController();
    const { outcome, goneMs } = await stopOnceTrapped(build, trap, { ...graceful, kill: fence.signal }, () =>
      fence.abort(),
    );
    console.log(`${kind}: gone ${goneMs.toFixed(0)} ms after stop("fenced")`);
    expect(goneMs).toBeLessThan(FENCED_GONE_MS);
    expect(outcome.stdout).not.toContain("ignoring SIGTERM");
    expect(outcome).toMatchObject({ status: "failed", stoppedBy: "fenced" });
  });

  test(`${kind}: stop("cancel") gives a step that ignores SIGTERM the configured grace (${STOP_GRACE_MS} ms), then kills it`, async () => {
    const cancel = new AbortController();
    const { outcome, goneMs } = await stopOnceTrapped(build, trap, { ...graceful, signal: cancel.signal }, () =>
      cancel.abort("cancel"),
    );
    console.log(`${kind}: gone ${goneMs.toFixed(0)} ms after stop("cancel") with a ${STOP_GRACE_MS} ms grace`);
    expect(goneMs).toBeGreaterThanOrEqual(STOP_GRACE_MS - 20);
    expect(goneMs).toBeLessThan(STOP_GRACE_MS + 1_500);
    expect(outcome.stdout).toContain("ignoring SIGTERM");
    expect(outcome).toMatchObject({ status: "canceled", error: "canceled", stoppedBy: "cancel" });
  });

  test(`${kind}: a fence during a cancel's grace kills at once and is the stop that ended the step`, async () => {
    const [cancel, fence] = [new AbortController(), new AbortController()];
    const stop = () => {
      cancel.abort();
      setTimeout(() => fence.abort(), 200);
    };
    const { outcome, goneMs } = await stopOnceTrapped(
      build,
      trap,
      { ...graceful, signal: cancel.signal, kill: fence.signal },
      stop,
    );
    expect(goneMs).toBeLessThan(200 + FENCED_GONE_MS);
    expect(outcome.stdout).toContain("ignoring SIGTERM");
    expect(outcome.stoppedBy).toBe("fenced");
  });

  test(`${kind}: shutdown and timeout stop gracefully and say so; a step that ends on its own has no stoppedBy`, async () => {
    const shutdown = new AbortController();
    const short = { killGraceMs: 200, timeoutMs: 60_000 };
    const handedBack = await stopOnceTrapped(build, trap, { ...short, signal: shutdown.signal }, () =>
      shutdown.abort("shutdown"),
    );
    expect(handedBack.outcome).toMatchObject({ status: "canceled", stoppedBy: "shutdown" });
    expect(handedBack.outcome.stdout).toContain("ignoring SIGTERM");

    const timedOut = await executeStep(build(trap, { killGraceMs: 200, timeoutMs: 500 }));
    expect(timedOut).toMatchObject({ status: "timed_out", stoppedBy: "timeout" });
    expect(timedOut.stdout).toContain("ignoring SIGTERM");

    const finished = await executeStep(build("echo.ts", {}));
    expect(finished.status).toBe("completed");
    expect(finished.stoppedBy).toBeUndefined();
  });
}
