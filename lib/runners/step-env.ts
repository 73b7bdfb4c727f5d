/**
 * Which of the executor's variables a step may see. One rule for both executors
 * (docs/runners.md "The step's environment"): the system's own secrets never reach a
 * step; an explicit forward list (CODEX_FLOW_BACKEND_FORWARD_ENV) narrows the rest.
 */

/** The variables the services read as secrets (lib/config.ts, bin/flow.ts). */
export const SYSTEM_SECRET_ENV: readonly string[] = ["CODEX_FLOW_BACKEND_SECRET", "CODEX_FLOW_BACKEND_TOKEN"];

/**
 * Every variable with one of these prefixes is withheld: NATS_URL may carry
 * `user:password@`, and NATS_USER, NATS_PASSWORD, NATS_TOKEN, NATS_CREDS, NATS_NKEY and
 * the like are connection credentials. A step that needs NATS gets its own variables.
 */
export const SYSTEM_SECRET_PREFIXES: readonly string[] = ["NATS_"];

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether a step must not see the variable: a system secret, or a name the operator denied (CODEX_FLOW_STEP_ENV_DENY). */
export function isWithheld(name: string, denied: readonly string[] = []): boolean {
  return SYSTEM_SECRET_ENV.includes(name) || SYSTEM_SECRET_PREFIXES.some((prefix) => name.startsWith(prefix)) || denied.includes(name);
}

/** Reads a comma-separated list of variable names; an empty or unset value is no list (undefined). */
export function parseEnvNames(value: string | undefined): string[] | undefined {
  const names = (value ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  return names.length > 0 ? names : undefined;
}

/** Whether every name of a list is a valid environment variable name. */
export function validEnvNames(names: readonly string[]): boolean {
  return names.every((name) => ENV_NAME.test(name));
}

/** `env` without the withheld variables (an `undefined` value is dropped too). */
export function withoutWithheld(env: Record<string, string | undefined>, denied: readonly string[] = []): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && !isWithheld(name, denied)) kept[name] = value;
  return kept;
}
