// Helpers every release flow step needs: the version in a tag, boolean flags that the
// environment can override, `*_env` settings, and the step's stdin. Self-contained
// (no imports outside this package), because the package is copied into other repositories.

/** A step's outcome, thrown to end the step early with that status (not an error). */
export class Outcome extends Error {
  constructor(
    readonly status: "changed" | "skipped" | "blocked" | "failed" | "needs_intervention",
    message: string,
    readonly artifacts: Record<string, unknown> = {},
    /** More FLOW_RESULT fields: `approval` and the `next` events it holds. */
    readonly fields: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "Outcome";
  }
}

type Env = Record<string, string | undefined>;
type Config = Record<string, unknown>;

const SEMVER = /(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?/;

/** The first MAJOR.MINOR.PATCH[-prerelease] in a release tag (`rust-v0.169.0` -> `0.169.0`); a tag without one is `failed`. */
export function versionFromTag(tag: string): string {
  const match = SEMVER.exec(tag);
  if (!match)
    throw new Outcome(
      "failed",
      `release tag "${tag}" holds no MAJOR.MINOR.PATCH version (expected e.g. rust-v0.169.0)`,
      { tag },
    );
  // A trailing "-" or "." belongs to the tag's punctuation, not to the prerelease.
  return match[0].replace(/[-.]+$/, "");
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

/**
 * A boolean setting: `CODEX_FLOW_<NAME>` when set (1/true/yes/on or 0/false/no/off),
 * else the config key, else `fallback`. Any other value is `failed` naming it, since a
 * typo in CODEX_FLOW_PUSH must not quietly mean "no".
 */
export function flag(config: Config, env: Env, name: string, fallback: boolean): boolean {
  const variable = `CODEX_FLOW_${name.toUpperCase()}`;
  const raw = env[variable];
  if (raw !== undefined && raw.trim() !== "") {
    const value = raw.trim().toLowerCase();
    if (TRUE.has(value)) return true;
    if (FALSE.has(value)) return false;
    throw new Outcome("failed", `${variable}="${raw}" is not a boolean (expected 1/true/yes/on or 0/false/no/off)`);
  }
  const configured = config[name];
  if (configured === undefined) return fallback;
  if (typeof configured !== "boolean")
    throw new Outcome("failed", `config ${name} must be true or false, got ${JSON.stringify(configured)}`);
  return configured;
}

/** A string setting; a present value that is not a non-empty string is `failed` naming the key. */
export function text(config: Config, name: string, fallback: string): string;
export function text(config: Config, name: string, fallback?: string): string | undefined;
export function text(config: Config, name: string, fallback?: string): string | undefined {
  const value = config[name];
  if (value === undefined) return fallback;
  if (typeof value !== "string" || value.trim() === "")
    throw new Outcome("failed", `config ${name} must be a non-empty string, got ${JSON.stringify(value)}`);
  return value.trim();
}

/**
 * The `*_env` convention: the variable named by `<name>_env` wins when it is set and
 * not empty, else `<name>` itself. Returns where the value came from, for messages.
 */
export function fromEnvOrConfig(config: Config, env: Env, name: string): { value: string; from: string } | undefined {
  const variable = text(config, `${name}_env`);
  const fromEnv = variable === undefined ? undefined : env[variable]?.trim();
  if (variable !== undefined && fromEnv) return { value: fromEnv, from: `$${variable}` };
  const value = text(config, name);
  return value === undefined ? undefined : { value, from: `config ${name}` };
}

export type StepInput = {
  name: string;
  version: number;
  root: string;
  step: string;
  config: Config;
  event: { id: string; type: string; payload: Record<string, unknown> };
};

/** The seed's stdin, `{"flow": {name, version, root, step, config, event}}`, checked enough to use. */
export function parseStepInput(raw: string): StepInput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new Outcome("failed", `stdin is not JSON: ${(error as Error).message}`);
  }
  const flow = (parsed as { flow?: unknown } | null)?.flow as Partial<StepInput> | undefined;
  if (!flow || typeof flow !== "object") throw new Outcome("failed", 'stdin must be {"flow": {...}}');
  const config = flow.config ?? {};
  if (typeof config !== "object" || config === null || Array.isArray(config))
    throw new Outcome("failed", "flow.config must be a table");
  const payload = flow.event?.payload;
  if (typeof payload !== "object" || payload === null || Array.isArray(payload))
    throw new Outcome("failed", "flow.event.payload must be an object");
  return { ...(flow as StepInput), config };
}

/** The release tag from the event payload. */
export function releaseTag(input: StepInput): string {
  const tag = input.event.payload.tag;
  if (typeof tag !== "string" || tag.trim() === "")
    throw new Outcome("failed", `event payload.tag must be a non-empty string, got ${JSON.stringify(tag)}`);
  return tag.trim();
}
