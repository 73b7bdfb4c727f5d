import { retryDelayMs, type StepPolicy } from "../../lib/flows/step-policy.ts";
import { type FlowResultStatus, isResultTooLarge } from "../../lib/protocol/flow-result.ts";
import type { StepOutcome } from "../../lib/runners/types.ts";

/** FLOW_RESULT statuses that are the step's own verdict: never retried. */
const VERDICTS: ReadonlySet<FlowResultStatus> = new Set(["needs_intervention", "blocked", "failed"]);

/**
 * Which failures are retried: a non-zero exit, a crash, a missing or invalid
 * FLOW_RESULT, a timeout. Not retried: success, a cancel, a FLOW_RESULT too large to
 * keep or publish (the same result would come back), and a FLOW_RESULT in which the
 * step itself said `needs_intervention`, `blocked` or `failed`.
 */
export function isRetryable(outcome: Pick<StepOutcome, "status" | "result" | "error">): boolean {
  if (outcome.status !== "failed" && outcome.status !== "timed_out") return false;
  if (isResultTooLarge(outcome.error)) return false;
  return !(outcome.result && VERDICTS.has(outcome.result.status));
}

/**
 * The delay before the next attempt, or undefined when the run ends here.
 * `failuresBefore` counts this command's earlier retryable failures (lost attempts,
 * whose executor died, are not failures of the step and do not count).
 */
export function retryAfter(
  outcome: Pick<StepOutcome, "status" | "result" | "error">,
  policy: StepPolicy,
  failuresBefore: number,
): number | undefined {
  if (!isRetryable(outcome)) return undefined;
  const retry = failuresBefore + 1;
  return retry <= policy.retries ? retryDelayMs(policy, retry) : undefined;
}
