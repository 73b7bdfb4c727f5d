import type { Runner } from "../flows/manifest.ts";
import { runBunStep } from "./bun.ts";
import { runCodeModeStep } from "./code-mode.ts";
import type { StepOutcome, StepRunRequest } from "./types.ts";

export { codeModeEnabled } from "./code-mode.ts";
export { DEFAULT_FORWARD_ENV, parseForwardEnv, unitNameFor } from "./systemd.ts";
export {
  DEFAULT_KILL_GRACE_MS,
  DEFAULT_OUTPUT_CAP_BYTES,
  type ProcessStatus,
  type StepOutcome,
  type StepRunRequest,
  type StopReason,
} from "./types.ts";
export { stopWarmPools } from "./warm/pool.ts";

/**
 * Every runner a manifest may name, and its implementation. Runner selection is one
 * mechanism: lib/flows/manifest.ts's RUNNERS is the list a manifest is checked against when
 * it is loaded (an unknown runner is a ManifestError naming `steps[i].runner`), and
 * this table must implement exactly that list, which the type checker enforces
 * (`Record<Runner, ...>`) and test/runners.int.test.ts checks at run time.
 */
export const RUNNER_IMPLEMENTATIONS: Readonly<Record<Runner, (request: StepRunRequest) => Promise<StepOutcome>>> = {
  bun: runBunStep,
  "code-mode": runCodeModeStep,
};

/**
 * Executes one attempt of a step with the step's runner. Never throws for a step's
 * failure: a missing script, a crash, a timeout or a cancel all come back as a StepOutcome.
 */
export function executeStep(request: StepRunRequest): Promise<StepOutcome> {
  const runner = request.step.runner;
  switch (runner) {
    case "bun":
    case "code-mode":
      return RUNNER_IMPLEMENTATIONS[runner](request);
    default: {
      // Unreachable: a step comes from a loaded manifest, which only names RUNNERS.
      const unknown: never = runner;
      throw new Error(`unknown runner: ${String(unknown)}`);
    }
  }
}
