import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { executeStep } from "../lib/runners/index.ts";
import { currentIds, inSpan, SpanKind } from "../lib/tracing/tracing.ts";
import { stepTraceEnv } from "../services/executor/trace.ts";
import { FAKE_CODEX, stepRequest } from "./fixtures/request.ts";
import { useTracingSink } from "./support/tracing.ts";

// The code-mode runner's app-server gets the attempt's TRACEPARENT in its environment, as a
// spawned step does: the app-server protocol we speak has no trace field, so the
// environment is how a Codex session (or the tools it runs) can join the trace
// (docs/tracing.md). The app-server is the project's stand-in (test/fixtures/bin/fake-codex.ts),
// which lists its own environment through Code Mode's exec_command.
const WORKDIR = realpathSync(mkdtempSync(join(tmpdir(), "code-mode-trace-")));
useTracingSink("code-mode-test");
afterAll(() => rmSync(WORKDIR, { recursive: true, force: true }));

describe("a code-mode step's trace context", () => {
  test("given tracing on, when a code-mode attempt runs, then the app-server's environment holds TRACEPARENT naming the attempt span", async () => {
    mkdirSync(join(WORKDIR, "codex-home"), { recursive: true });
    const { ids, outcome } = await inSpan("attempt", { kind: SpanKind.CONSUMER }, async () => {
      const request = stepRequest("code-mode-env.js", {
        workingDirectory: WORKDIR,
        runner: "code-mode",
        // What the executor gives every attempt (services/executor/attempt.ts).
        env: {
          CODEX_FLOWS_ENABLE_CODE_MODE: "1",
          CODEX_APP_SERVER_CODEX_COMMAND: FAKE_CODEX,
          CODEX_HOME: join(WORKDIR, "codex-home"),
          ...stepTraceEnv(),
        },
      });
      return { ids: currentIds()!, outcome: await executeStep(request) };
    });
    expect(outcome.status).toBe("completed");
    expect(String(outcome.result?.message)).toContain(`TRACEPARENT=00-${ids.trace_id}-${ids.span_id}-01`);
  }, 30_000);
});
