// The code-mode runner against the project's own app-server stand-in
// (test/fixtures/bin/fake-codex.ts), which speaks the app-server's JSON-RPC over stdio
// and runs the source with text(), exit() and tools.exec_command. The real upstream
// app-server is exercised in test/codex-app-server.int.test.ts.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { executeStep, type StepRunRequest } from "../lib/runners/index.ts";
import { FAKE_CODEX, type RequestOptions, stepRequest, waitUntilGone } from "./fixtures/request.ts";

const WORKDIR = realpathSync(mkdtempSync(join(tmpdir(), "code-mode-int-")));
afterAll(() => rmSync(WORKDIR, { recursive: true, force: true }));
let records = 0;

/** A code-mode request against the stand-in; `mode` sets FAKE_CODEX_MODE; the stand-in's record lands in `record`. */
function codeMode(
  script: string,
  options: Partial<RequestOptions> & { mode?: string } = {},
): { request: StepRunRequest; record: string } {
  const record = join(WORKDIR, `record-${++records}.json`);
  const { mode = "", env, ...rest } = options;
  const request = stepRequest(script, {
    runner: "code-mode",
    workingDirectory: WORKDIR,
    ...rest,
    env: {
      CODEX_FLOWS_ENABLE_CODE_MODE: "1",
      CODEX_APP_SERVER_CODEX_COMMAND: FAKE_CODEX,
      CODEX_HOME: join(WORKDIR, "codex-home"),
      FAKE_CODEX_MODE: mode,
      FAKE_CODEX_RECORD: record,
      ...env,
    },
  });
  return { request, record };
}

const readRecord = (path: string) =>
  JSON.parse(readFileSync(path, "utf8")) as {
    argv: string[];
    cwd: string;
    codexHome: string;
    methods: string[];
    answers: { error?: { code: number; message: string } }[];
  };

describe("code-mode runner (app-server stand-in)", () => {
  test("an attempt that cannot start ends as a bun step's does: an aborted signal cancels, a missing script fails, the app-server never starts", async () => {
    const aborted = codeMode("code-mode-happy.js", { signal: AbortSignal.abort() });
    expect(await executeStep(aborted.request)).toMatchObject({
      status: "canceled",
      error: "canceled",
      exitCode: null,
      stdout: "",
    });
    const scriptPath = join(WORKDIR, "no-such-step.js");
    const missing = codeMode("no-such-step.js", { scriptPath });
    expect(await executeStep(missing.request)).toMatchObject({
      status: "failed",
      error: `script not found: ${scriptPath}`,
      exitCode: null,
    });
    for (const { record } of [aborted, missing]) expect(existsSync(record)).toBe(false);
  });

  test("runs the source behind the prelude and parses result() like a bun step's FLOW_RESULT", async () => {
    const chunks: string[] = [];
    const { request, record } = codeMode("code-mode-happy.js", {
      onOutput: ({ stream, text }) => stream === "stdout" && chunks.push(text),
    });
    const outcome = await executeStep(request);

    expect(outcome.error).toBeUndefined();
    expect(outcome.status).toBe("completed");
    expect(outcome.result).toEqual({
      status: "changed",
      message: "did it",
      artifacts: { exit: 0, output: `${WORKDIR}\nrun=run-1`, version: 2, eventId: "evt-1" },
    });
    expect(outcome.codexThreadId).toMatch(/^[0-9a-f-]{36}$/);
    expect(outcome.stdout).toContain("hi 1 from example-flow/do-work\n");
    expect(outcome.stdout).toContain(`\nFLOW_RESULT {"status":"changed"`);
    expect(outcome.stdout).not.toContain("must not run");
    expect(chunks.join("")).toBe(outcome.stdout);
    expect(outcome).toMatchObject({ exitCode: null, signal: null });

    const seen = readRecord(record);
    expect(seen.argv).toEqual([
      "app-server",
      "--listen",
      "stdio://",
      "--enable",
      "code_mode",
      "--enable",
      "code_mode_only",
    ]);
    expect(seen.codexHome).toBe(join(WORKDIR, "codex-home"));
    expect(seen.methods).toEqual([
      "initialize",
      "initialized",
      "thread/start",
      "thread/codeMode/execute",
      "thread/read",
    ]);
    expect(await waitUntilGone(outcome.pid!)).toBe(true);
  });

  test("exec_command answers in Code Mode's shape: exit_code once ended, session_id while running past yield_time_ms, output cut to max_output_tokens", async () => {
    const { request } = codeMode("code-mode-exec-shape.js");
    const outcome = await executeStep(request);
    expect(outcome.status).toBe("completed");
    const { done, running, long } = outcome.result!.artifacts as Record<string, Record<string, unknown>>;
    expect(done).toMatchObject({
      exit_code: 4,
      output: "/\nerr\n",
      chunk_id: expect.any(String),
      wall_time_seconds: expect.any(Number),
    });
    expect(done!.session_id).toBeUndefined();
    expect(running).toMatchObject({ session_id: expect.any(String), output: "started\n" });
    expect(running!.exit_code).toBeUndefined();
    expect(running!.wall_time_seconds as number).toBeLessThan(2);
    expect(long!.exit_code).toBe(0);
    expect(long!.original_token_count).toBe(100);
    expect(long!.output).toBe(`Total output lines: 1\n\n${"x".repeat(20)}…90 tokens truncated…${"x".repeat(20)}`);
  });

  test("answers a server request it cannot handle with an error, and the turn goes on", async () => {
    const { request, record } = codeMode("code-mode-happy.js", { mode: "server-request" });
    const outcome = await executeStep(request);
    expect(outcome.status).toBe("completed");
    expect(readRecord(record).answers[0]?.error).toMatchObject({
      code: -32601,
      message: expect.stringContaining("item/tool/requestUserInput"),
    });
  });

  test("a step that never calls result() fails and says so", async () => {
    const { request } = codeMode("code-mode-no-result.js");
    const outcome = await executeStep(request);
    expect(outcome.status).toBe("failed");
    expect(outcome.error).toStartWith(
      "the step ended without calling result(...): no FLOW_RESULT line in the thread's agent messages",
    );
    expect(outcome.stdout).toBe("did some work but forgot result()\n");
  });

  test("a turn that fails keeps the result it printed and reports the turn's error", async () => {
    const { request } = codeMode("code-mode-throws.js");
    const outcome = await executeStep(request);
    expect(outcome).toMatchObject({
      status: "failed",
      error: "the Code Mode turn failed: Error: disk full",
      result: { status: "blocked", message: "partial" },
    });
  });

  test("a server whose thread/read cannot list turns falls back to the completed agent messages", async () => {
    const { request } = codeMode("code-mode-happy.js", { mode: "no-thread-read" });
    const outcome = await executeStep(request);
    expect(outcome).toMatchObject({ status: "completed", result: { status: "changed" } });
  });

  test("a step that runs past timeout_ms is timed out and the app-server ended", async () => {
    const { request } = codeMode("code-mode-hang.js", { timeoutMs: 1500, killGraceMs: 500 });
    const outcome = await executeStep(request);
    expect(outcome).toMatchObject({ status: "timed_out", error: "step timed out after 1500 ms" });
    expect(outcome.stdout).toBe("waiting for ever\n");
    expect(outcome.durationMs).toBeLessThan(1500 + 2000);
    expect(await waitUntilGone(outcome.pid!)).toBe(true);
  });

  test("aborting the signal cancels the step", async () => {
    const controller = new AbortController();
    const { request } = codeMode("code-mode-hang.js", {
      signal: controller.signal,
      onOutput: ({ text }) => text.includes("waiting") && controller.abort(),
    });
    const outcome = await executeStep(request);
    expect(outcome).toMatchObject({ status: "canceled", error: "canceled" });
    expect(await waitUntilGone(outcome.pid!)).toBe(true);
  });

  test("an app-server that crashes fails the run with its exit code and last stderr line", async () => {
    const { request } = codeMode("code-mode-happy.js", { mode: "crash" });
    const outcome = await executeStep(request);
    expect(outcome).toMatchObject({
      status: "failed",
      exitCode: 3,
      error: "codex app-server exited with code 3 before the step finished: fake-codex: panicked on purpose",
    });
  });

  test("a build without thread/codeMode/execute fails with what is missing and the variable to set", async () => {
    const { request } = codeMode("code-mode-happy.js", { mode: "no-code-mode" });
    const outcome = await executeStep(request);
    expect(outcome.status).toBe("failed");
    expect(outcome.error).toBe(
      `this Codex build (codex 0.0.0-standin) lacks thread/codeMode/execute, the fork-only Code Mode method: set CODEX_APP_SERVER_CODEX_COMMAND to a Codex build that has it (now: ${FAKE_CODEX})`,
    );
  });

  test("a Codex command that does not exist is named in the error", async () => {
    const { request } = codeMode("code-mode-happy.js", {
      env: { CODEX_APP_SERVER_CODEX_COMMAND: join(WORKDIR, "no-such-codex") },
    });
    const outcome = await executeStep(request);
    expect(outcome.status).toBe("failed");
    expect(outcome.error).toStartWith(`could not start ${join(WORKDIR, "no-such-codex")}: no such file`);
    expect(outcome.error).toContain("CODEX_APP_SERVER_CODEX_COMMAND");
  });

  test("is off unless CODEX_FLOWS_ENABLE_CODE_MODE is set, and says which variable", async () => {
    const { request, record } = codeMode("code-mode-happy.js", { env: { CODEX_FLOWS_ENABLE_CODE_MODE: "0" } });
    const outcome = await executeStep(request);
    expect(outcome.error).toBe(
      'code-mode runner is disabled: set CODEX_FLOWS_ENABLE_CODE_MODE=1 to run step "do-work" of flow "example-flow"',
    );
    expect(() => readFileSync(record)).toThrow(); // nothing was started
  });
});
