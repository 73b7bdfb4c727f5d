import { parseEnvNames, withoutWithheld } from "./step-env.ts";
import { unitEnvironment } from "./systemd.ts";
import type { StepRunRequest } from "./types.ts";

/**
 * The step's environment: the executor's, then the request's (`undefined` removes a
 * variable), then the step's own CODEX_FLOW_EVENT_ID, CODEX_FLOW_RUN_ID and
 * CODEX_FLOW_ATTEMPT, which are also returned alone as `stepEnv`. The system's secrets,
 * the operator's denied names and the secret-looking names the step's flow does not name
 * (lib/runners/step-env.ts) are never in it; a direct
 * step with an explicit forward list gets only those names (a systemd unit gets only them
 * anyway, see launchStep), the request's and its own.
 */
export function stepEnvironment(request: StepRunRequest): {
  env: Record<string, string>;
  stepEnv: Record<string, string>;
} {
  const own = {
    CODEX_FLOW_EVENT_ID: request.event.id,
    CODEX_FLOW_RUN_ID: request.runId,
    CODEX_FLOW_ATTEMPT: String(request.attempt),
  };
  const merged: Record<string, string | undefined> = { ...process.env, ...request.env, ...own };
  const denied = request.envDeny ?? parseEnvNames(merged.CODEX_FLOW_STEP_ENV_DENY) ?? [];
  // Secret-looking variables reach only the steps of a flow that names them (flow.toml `[env] secrets`).
  const passed = request.flow.env?.secrets ?? [];
  const env = withoutWithheld(merged, denied, passed);
  // The request's own variables reach a systemd unit too, as explicitly as the step's.
  const stepEnv = { ...withoutWithheld(request.env ?? {}, denied, passed), ...own };
  const forward = request.forwardEnv ?? parseEnvNames(merged.CODEX_FLOW_BACKEND_FORWARD_ENV);
  if (request.executor === "systemd-run" || forward === undefined) return { env, stepEnv };
  return { env: { ...unitEnvironment(env, forward, {}), ...stepEnv }, stepEnv };
}
