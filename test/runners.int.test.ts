import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManifestError, parseManifest, RUNNERS } from "../lib/flows/manifest.ts";
import { TailBuffer } from "../lib/runners/capture.ts";
import {
  codeModeEnabled,
  DEFAULT_OUTPUT_CAP_BYTES,
  executeStep,
  RUNNER_IMPLEMENTATIONS,
  type StepRunRequest,
} from "../lib/runners/index.ts";
import { EVENT, isRunning, type RequestOptions, STEPS, stepRequest, waitUntilGone } from "./fixtures/request.ts";

const WORKDIR = realpathSync(mkdtempSync(join(tmpdir(), "runners-int-")));
afterAll(() => rmSync(WORKDIR, { recursive: true, force: true }));

/** A request for a fixture step, run in this file's temporary working directory. */
function request(script: string, options: Partial<RequestOptions> = {}): StepRunRequest {
  return stepRequest(script, { workingDirectory: WORKDIR, ...options });
}

function grandchildPid(stdout: string): number {
  const match = /GRANDCHILD (\d+)/.exec(stdout);
  if (!match) throw new Error(`no GRANDCHILD line in stdout: ${stdout}`);
  return Number(match[1]);
}

describe("bun runner", () => {
  test("hands over the seed's stdin, env and working directory, and streams output", async () => {
    const chunks: { stream: string; text: string }[] = [];
    process.env.REMOVED_VAR = "should not arrive";
    const outcome = await executeStep(
      request("echo.ts", { env: { EXTRA_VAR: "extra", REMOVED_VAR: undefined }, onOutput: (c) => chunks.push(c) }),
    ).finally(() => delete process.env.REMOVED_VAR);

    expect(outcome.status).toBe("completed");
    expect(outcome.exitCode).toBe(0);
    expect(outcome.error).toBeUndefined();
    const result = outcome.result as Record<string, unknown>;
    expect(result.status).toBe("completed");
    expect(result.stdin).toBe(
      JSON.stringify({
        flow: {
          name: "example-flow",
          version: 2,
          root: STEPS,
          step: "do-work",
          config: { greeting: "hi" },
          event: EVENT,
        },
      }),
    );
    expect(result.env).toEqual({ eventId: "evt-1", runId: "run-1", attempt: "3", extra: "extra", removed: null });
    expect(result.cwd).toBe(WORKDIR);
    expect(
      chunks
        .filter((c) => c.stream === "stdout")
        .map((c) => c.text)
        .join(""),
    ).toBe(outcome.stdout);
    expect(
      chunks
        .filter((c) => c.stream === "stderr")
        .map((c) => c.text)
        .join(""),
    ).toBe("echo: starting\n");
    expect(outcome.pid).toBeGreaterThan(0);
    expect(Date.parse(outcome.finishedAt) - Date.parse(outcome.startedAt)).toBe(outcome.durationMs);
  });

  test("a step's own failed verdict is still a completed process", async () => {
    const outcome = await executeStep(request("echo.ts", { env: { RESULT_STATUS: "blocked" } }));
    expect(outcome.status).toBe("completed");
    expect(outcome.result?.status).toBe("blocked");
  });

  test("exit 0 without a FLOW_RESULT line fails with the reason", async () => {
    const outcome = await executeStep(request("no-result.ts"));
    expect(outcome.status).toBe("failed");
    expect(outcome.exitCode).toBe(0);
    expect(outcome.error).toContain("the step printed no FLOW_RESULT line");
    expect(outcome.result).toBeUndefined();
  });

  test("invalid FLOW_RESULT JSON fails with the parse error", async () => {
    const outcome = await executeStep(request("invalid-result.ts"));
    expect(outcome.status).toBe("failed");
    expect(outcome.error).toStartWith("FLOW_RESULT is not valid JSON");
  });

  test("a crash reports the error line and the source before it, not Bun's version banner", async () => {
    const outcome = await executeStep(request("crash.ts"));
    expect(outcome.status).toBe("failed");
    expect(outcome.error).toStartWith("exited with code 1: TypeError: cannot read the config");
    expect(outcome.error).toContain('throw new TypeError("cannot read the config")');
    expect(outcome.error).not.toContain("Bun v");
  });

  test("a non-zero exit fails with the code and the last stderr line, keeping the printed result", async () => {
    const outcome = await executeStep(request("fail-exit.ts"));
    expect(outcome.status).toBe("failed");
    expect(outcome.exitCode).toBe(3);
    expect(outcome.error).toBe("exited with code 3: boom: disk full");
    expect(outcome.result).toEqual({ status: "failed", message: "partial work" });
  });

  test("a signal the runner did not send is reported", async () => {
    const outcome = await executeStep(request("self-kill.ts"));
    expect(outcome).toMatchObject({ status: "failed", exitCode: null, signal: "SIGKILL", error: "killed by SIGKILL" });
  });

  test("a missing script fails before spawning, naming the path", async () => {
    const scriptPath = join(STEPS, "does-not-exist.ts");
    const outcome = await executeStep(request("does-not-exist.ts", { scriptPath }));
    expect(outcome).toMatchObject({ status: "failed", error: `script not found: ${scriptPath}` });
    expect(outcome.pid).toBeUndefined();
  });

  test("a missing working directory fails with a clear message", async () => {
    const outcome = await executeStep(request("echo.ts", { workingDirectory: join(WORKDIR, "missing") }));
    expect(outcome.status).toBe("failed");
    expect(outcome.error).toContain(`working directory not found: ${join(WORKDIR, "missing")}`);
  });

  test("a timeout kills the whole group, grandchildren included", async () => {
    let seenAlive = false;
    const outcome = await executeStep(
      request("grandchild.ts", {
        timeoutMs: 500,
        killGraceMs: 1000,
        onOutput: ({ text }) => {
          const match = /GRANDCHILD (\d+)/.exec(text);
          if (match) seenAlive = isRunning(Number(match[1]));
        },
      }),
    );
    expect(outcome).toMatchObject({ status: "timed_out", error: "step timed out after 500 ms", signal: "SIGTERM" });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(500);
    expect(outcome.durationMs).toBeLessThan(500 + 1000);
    expect(seenAlive).toBe(true);
    expect(await waitUntilGone(grandchildPid(outcome.stdout))).toBe(true);
  });

  test("a grandchild orphaned by a leader that exited is killed too", async () => {
    const outcome = await executeStep(request("grandchild.ts", { env: { LEADER_EXITS: "1" } }));
    expect(outcome.status).toBe("completed");
    expect(await waitUntilGone(grandchildPid(outcome.stdout))).toBe(true);
  });

  test("a process that escaped the group (setsid) is ended with the step: by its inherited marker, or by parentage", async () => {
    for (const env of [{}, { ESCAPE_VIA_CHILD: "1" }]) {
      const started = performance.now();
      const outcome = await executeStep(request("escape-group.ts", { env }));
      const escaped = Number(/ESCAPED (\d+)/.exec(outcome.stdout)?.[1]);
      expect(escaped).toBeGreaterThan(0);
      expect({ env, gone: await waitUntilGone(escaped, 1_000) }).toEqual({ env, gone: true });
      expect(outcome).toMatchObject({ status: "completed", result: { status: "completed" } });
      expect(outcome.error).toBeUndefined();
      expect(performance.now() - started).toBeLessThan(2_000);
    }
  });

  test("a process that escaped the group and scrubbed its environment cannot hold the runner past the drain limit", async () => {
    const outcome = await executeStep(request("escape-group.ts", { env: { SCRUB_ENV: "1" } }));
    const escaped = Number(/ESCAPED (\d+)/.exec(outcome.stdout)?.[1]);
    if (escaped > 0) process.kill(escaped, "SIGKILL");
    expect(outcome).toMatchObject({ status: "completed", result: { status: "completed" } });
    expect(outcome.error).toContain("output still open 2000 ms after exit");
  });

  test("a step that ignores SIGTERM is SIGKILLed after the grace", async () => {
    const outcome = await executeStep(request("trap-term.ts", { timeoutMs: 800, killGraceMs: 300 }));
    expect(outcome).toMatchObject({ status: "timed_out", signal: "SIGKILL", exitCode: null });
    expect(outcome.stdout).toContain("ignoring SIGTERM");
    expect(outcome.durationMs).toBeGreaterThanOrEqual(800 + 300);
    expect(outcome.durationMs).toBeLessThan(800 + 300 + 1000);
  });

  test("issue 18: aborting `kill` (fencing) SIGKILLs the whole group at once, whatever the grace", async () => {
    const fence = new AbortController();
    const outcome = await executeStep(
      request("trap-term.ts", {
        timeoutMs: 60_000,
        killGraceMs: 30_000,
        kill: fence.signal,
        onOutput: ({ text }) => text.includes("trapped") && fence.abort(),
      }),
    );
    expect(outcome).toMatchObject({ status: "failed", signal: "SIGKILL", exitCode: null, error: "killed by SIGKILL" });
    expect(outcome.stdout).not.toContain("ignoring SIGTERM");
    expect(outcome.durationMs).toBeLessThan(30_000);
  });

  test("aborting the signal cancels the step", async () => {
    const controller = new AbortController();
    const outcome = await executeStep(
      request("sleep.ts", {
        signal: controller.signal,
        onOutput: ({ text }) => text.includes("sleeping") && controller.abort(),
      }),
    );
    expect(outcome).toMatchObject({ status: "canceled", error: "canceled", signal: "SIGTERM" });
  });

  test("a cancel that comes while the step is being launched still stops it", async () => {
    const controller = new AbortController();
    const running = executeStep(request("sleep.ts", { signal: controller.signal, timeoutMs: 30_000 }));
    controller.abort();
    const outcome = await running;
    expect(outcome).toMatchObject({ status: "canceled", error: "canceled" });
    expect(outcome.durationMs).toBeLessThan(5_000);
  });

  test("an already aborted signal cancels without spawning", async () => {
    const outcome = await executeStep(request("sleep.ts", { signal: AbortSignal.abort() }));
    expect(outcome).toMatchObject({ status: "canceled", error: "canceled" });
    expect(outcome.pid).toBeUndefined();
  });

  test("output is capped to its tail and the final FLOW_RESULT still parses", async () => {
    const outcome = await executeStep(request("big-output.ts"));
    expect(outcome.status).toBe("completed");
    expect(outcome.result).toEqual({ status: "changed", message: "big" });
    expect(outcome.stdoutTruncated).toBe(true);
    expect(outcome.stderrTruncated).toBe(false);
    expect(outcome.stdout.length).toBeLessThanOrEqual(DEFAULT_OUTPUT_CAP_BYTES);
    expect(Buffer.byteLength(outcome.stdout)).toBeGreaterThan(DEFAULT_OUTPUT_CAP_BYTES - 4);
    expect(outcome.stdout).not.toContain("\uFFFD");
  });
});

describe("TailBuffer", () => {
  test("keeps the last bytes and drops a character split at the cut", () => {
    const tail = new TailBuffer(5);
    tail.push(Buffer.from("ab"));
    expect(tail.truncated).toBe(false);
    tail.push(Buffer.from("éé")); // 4 bytes: keeps "b" + "éé"
    expect([tail.text(), tail.truncated]).toEqual(["béé", true]);
    tail.push(Buffer.from("x")); // drops "b"
    expect(tail.text()).toBe("ééx");
    tail.push(Buffer.from("y")); // cut lands inside the first "é"
    expect(tail.text()).toBe("éxy");
    tail.push(Buffer.from("123456")); // one chunk larger than the cap
    expect(tail.text()).toBe("23456");
  });
});

describe("code-mode runner", () => {
  test("is disabled unless the variable is set, and says which variable", async () => {
    const outcome = await executeStep(
      request("echo.ts", { runner: "code-mode", env: { CODEX_FLOWS_ENABLE_CODE_MODE: undefined } }),
    );
    expect(outcome).toMatchObject({
      status: "failed",
      error:
        'code-mode runner is disabled: set CODEX_FLOWS_ENABLE_CODE_MODE=1 to run step "do-work" of flow "example-flow"',
    });
  });

  test("codeModeEnabled accepts 1, true, yes, on in any case", () => {
    for (const value of ["1", "true", "TRUE", "yes", "On"])
      expect(codeModeEnabled({ CODEX_FLOWS_ENABLE_CODE_MODE: value })).toBe(true);
    for (const value of [undefined, "", "0", "false", "off", "enabled"])
      expect(codeModeEnabled({ CODEX_FLOWS_ENABLE_CODE_MODE: value })).toBe(false);
  });
});

describe("runner selection", () => {
  test("the runners a manifest may name are exactly the runners implemented", () => {
    expect(Object.keys(RUNNER_IMPLEMENTATIONS).sort()).toEqual([...RUNNERS].sort());
  });

  test("an unknown runner is a manifest error when the flow is loaded, naming the field and the choices", () => {
    const toml =
      'name = "f"\n[[steps]]\nname = "s"\nrunner = "python"\nscript = "exec/s.py"\n[steps.trigger]\ntype = "t"\n';
    expect(() => parseManifest(toml, join(WORKDIR, "flow.toml"))).toThrow(ManifestError);
    expect(() => parseManifest(toml, join(WORKDIR, "flow.toml"))).toThrow(
      'steps[0].runner: expected one of "bun", "code-mode", got string "python"',
    );
  });
});
