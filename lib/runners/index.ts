import type { Flow, FlowStep } from "../manifest.ts";
import { runBunStep } from "./bun.ts";
import type { StepOutcome, StepRunRequest } from "./types.ts";

export { DEFAULT_KILL_GRACE_MS, DEFAULT_OUTPUT_CAP_BYTES, type ProcessStatus, type StepOutcome, type StepRunRequest } from "./types.ts";

const ENABLED_VALUES = new Set(["1", "true", "yes", "on"]);

/** True when CODEX_FLOWS_ENABLE_CODE_MODE is 1, true, yes or on (any case): Code Mode is opt-in (seed: flows.md). */
export function codeModeEnabled(env: Record<string, string | undefined> = process.env): boolean {
  return ENABLED_VALUES.has((env.CODEX_FLOWS_ENABLE_CODE_MODE ?? "").trim().toLowerCase());
}

/**
 * Executes one attempt of a step with the step's runner. Never throws for a step's
 * failure: a missing script, a crash, a timeout or a cancel all come back as a StepOutcome.
 */
export function runStep(request: StepRunRequest): Promise<StepOutcome> {
  const runner = request.step.runner;
  switch (runner) {
    case "bun":
      return runBunStep(request);
    case "code-mode":
      return Promise.resolve(codeModeUnavailable(request.flow, request.step, { ...process.env, ...request.env }));
    default: {
      const unknown: never = runner;
      throw new Error(`unknown runner: ${String(unknown)}`);
    }
  }
}

function codeModeUnavailable(flow: Flow, step: FlowStep, env: Record<string, string | undefined>): StepOutcome {
  const now = new Date().toISOString();
  const error = codeModeEnabled(env)
    ? "code-mode runner is not available in this build yet"
    : `code-mode runner is disabled: set CODEX_FLOWS_ENABLE_CODE_MODE=1 to run step "${step.name}" of flow "${flow.name}"`;
  return { status: "failed", exitCode: null, signal: null, error, stdout: "", stderr: "", stdoutTruncated: false, stderrTruncated: false, startedAt: now, finishedAt: now, durationMs: 0 };
}
