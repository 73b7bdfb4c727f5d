import { parseEnvNames, validEnvNames } from "./runners/step-env.ts";

/** A configuration value that is not what its variable expects; the message names both. */
export class ConfigError extends Error {}

export type Env = Record<string, string | undefined>;

/** Reads typed values from environment variables; a bad value is a ConfigError naming the variable, its value and what was expected. */
export function reader(env: Env) {
  const fail = (name: string, value: string, expected: string): never => {
    throw new ConfigError(`${name}=${JSON.stringify(value)} is invalid: expected ${expected}`);
  };
  return {
    string(name: string, fallback: string): string {
      return env[name] || fallback;
    },
    int(name: string, fallback: number, min: number, max: number): number {
      const raw = env[name];
      if (raw === undefined || raw === "") return fallback;
      const value = Number(raw);
      if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
        return fail(name, raw, `an integer from ${min} to ${max}`);
      }
      return value;
    },
    oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
      const raw = env[name];
      if (raw === undefined || raw === "") return fallback;
      return allowed.includes(raw as T) ? (raw as T) : fail(name, raw, `one of ${allowed.join(", ")}`);
    },
    list(name: string, pattern: RegExp, expected: string): string[] {
      const raw = env[name];
      if (raw === undefined || raw.trim() === "") return [];
      const items = raw
        .split(",")
        .map((item) => item.trim())
        .filter((item) => item !== "");
      return items.every((item) => pattern.test(item)) ? items : fail(name, raw, expected);
    },
    names(name: string): string[] | undefined {
      const names = parseEnvNames(env[name]);
      return names === undefined || validEnvNames(names)
        ? names
        : fail(name, env[name]!, "comma-separated environment variable names");
    },
    matching(name: string, fallback: string, pattern: { test(value: string): boolean }, expected: string): string {
      const raw = env[name];
      if (raw === undefined || raw === "") return fallback;
      return pattern.test(raw) ? raw : fail(name, raw, expected);
    },
  };
}
