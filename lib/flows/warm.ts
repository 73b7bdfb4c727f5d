/**
 * `warm` of a `[[steps]]` table: the step is served by long-lived Bun workers that import
 * its module once (lib/runners/warm/, docs/runners.md "Warm steps"). `warm = true` takes
 * the defaults; a table `[steps.warm]` sets `workers`, `max_runs` and `max_rss_mb`.
 */
export type WarmOptions = {
  /** Most workers of the step at once (per executor); a run beyond them waits for one. */
  workers: number;
  /** A worker is replaced after this many runs. */
  maxRuns: number;
  /** A worker is replaced once its resident memory exceeds this, checked after each run. */
  maxRssMb: number;
};

export const DEFAULT_WARM: WarmOptions = { workers: 4, maxRuns: 1000, maxRssMb: 256 };
const LIMITS = { workers: 64, max_runs: 1_000_000, max_rss_mb: 65_536 } as const;
const WARM_KEYS = Object.keys(LIMITS);

type Fail = (field: string, message: string) => never;

/** Reads a step's `warm` (absent or false: a spawned step); `fail` names the field at fault. */
export function parseWarm(value: unknown, runner: string, field: string, fail: Fail): WarmOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (runner !== "bun")
    fail(field, `warm applies to runner = "bun" steps only (a module-style script), not "${runner}"`);
  if (value === true) return { ...DEFAULT_WARM };
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Date)
    return fail(field, `expected true, false or a table [steps.warm], got ${JSON.stringify(value)}`);
  const table = value as Record<string, unknown>;
  for (const key of Object.keys(table))
    if (!WARM_KEYS.includes(key))
      fail(`${field}.${key}`, `unknown key "${key}" (expected one of ${WARM_KEYS.join(", ")})`);
  const read = (key: keyof typeof LIMITS, fallback: number): number => {
    const raw = table[key] ?? fallback;
    if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 1 || raw > LIMITS[key])
      fail(`${field}.${key}`, `expected an integer from 1 to ${LIMITS[key]}, got ${JSON.stringify(raw)}`);
    return raw as number;
  };
  return {
    workers: read("workers", DEFAULT_WARM.workers),
    maxRuns: read("max_runs", DEFAULT_WARM.maxRuns),
    maxRssMb: read("max_rss_mb", DEFAULT_WARM.maxRssMb),
  };
}
