/**
 * Which of the executor's variables a step may see. One rule for both executors
 * (docs/runners.md "The step's environment"): the system's own secrets never reach a
 * step; a variable whose name looks like a secret reaches only the steps of a flow that
 * names it (`[env] secrets` in flow.toml); an explicit forward list
 * (CODEX_FLOW_BACKEND_FORWARD_ENV) narrows the rest.
 */

/** The variables the services read as secrets (lib/config.ts, bin/flow.ts). */
export const SYSTEM_SECRET_ENV: readonly string[] = [
  "CODEX_FLOW_BACKEND_SECRET",
  "CODEX_FLOW_BACKEND_TOKEN",
  "CODEX_FLOW_GITHUB_WEBHOOK_SECRET",
];

/**
 * Every variable with one of these prefixes is withheld: NATS_URL may carry
 * `user:password@`, and NATS_USER, NATS_PASSWORD, NATS_TOKEN, NATS_CREDS, NATS_NKEY and
 * the like are connection credentials. A step that needs NATS gets its own variables.
 */
export const SYSTEM_SECRET_PREFIXES: readonly string[] = ["NATS_"];

/**
 * A name that looks like a secret (any case): one ending in `_SECRET`, `_TOKEN`,
 * `_PASSWORD`, `_PASSWD`, `_PASSPHRASE`, `_KEY`, `_CREDENTIALS` or `_CREDS`, or one of
 * those words alone (GH_TOKEN, OPENAI_API_KEY, AWS_SECRET_ACCESS_KEY, NOTIFY_WEBHOOK_SECRET); or the OTLP exporter's headers (OTLP_HEADERS).
 */
const SECRET_NAME = /(?:^|_)(?:SECRET|TOKEN|PASSWORD|PASSWD|PASSPHRASE|KEY|CREDENTIALS|CREDS)$/i;

/** The OTLP exporter's headers (OTEL_EXPORTER_OTLP_HEADERS, ..._TRACES_HEADERS): they carry a tracing backend's API key, so they count as a secret too. */
const OTLP_HEADERS = /^OTEL_EXPORTER_OTLP_(?:[A-Z]+_)?HEADERS$/i;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether the variable is one of the system's own secrets, which no step gets, whatever a flow or forward list names. */
export function isSystemSecret(name: string): boolean {
  return SYSTEM_SECRET_ENV.includes(name) || SYSTEM_SECRET_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/** Whether the variable's name looks like a secret (SECRET_NAME): a step gets it only when its flow names it. */
export function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name) || OTLP_HEADERS.test(name);
}

/**
 * Whether a step must not see the variable: a system secret, a name the operator denied
 * (CODEX_FLOW_STEP_ENV_DENY), or a secret-looking name its flow does not name (`passed`).
 */
export function isWithheld(name: string, denied: readonly string[] = [], passed: readonly string[] = []): boolean {
  return isSystemSecret(name) || denied.includes(name) || (looksSecret(name) && !passed.includes(name));
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
export function withoutWithheld(
  env: Record<string, string | undefined>,
  denied: readonly string[] = [],
  passed: readonly string[] = [],
): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(env))
    if (value !== undefined && !isWithheld(name, denied, passed)) kept[name] = value;
  return kept;
}
