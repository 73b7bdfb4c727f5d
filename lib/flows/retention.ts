import type { PurgeRule } from "../protocol/messages.ts";

/**
 * How long runs are kept: per flow (`[retention]` in flow.toml) over the environment's
 * defaults (CODEX_FLOW_RETENTION_*). A run goes once it is older than `days` or beyond
 * the newest `runs` of its flow; failures and runs that need attention count apart,
 * with `failed_days` / `failed_runs`. Unset (or 0): kept for ever on that count.
 */
export type Retention = { days?: number; runs?: number; failedDays?: number; failedRuns?: number };

/** The keys of flow.toml's `[retention]` table, and which field each sets. */
export const RETENTION_KEYS = {
  days: "days",
  runs: "runs",
  failed_days: "failedDays",
  failed_runs: "failedRuns",
} as const;

/**
 * One cut the projector makes (lib/protocol/messages.ts), resolved to times so that applying it
 * needs no clock: final runs of `flow` (absent: of every flow but those in `except`) in
 * `class` (absent: both) created before `before`, or beyond the newest `keepRuns` of
 * their flow and class.
 */
export type { PurgeRule };

/** The class a run's retention counts in: `attention` (failed, timed out, needs intervention, blocked) or `other`. */
export type RetentionClass = NonNullable<PurgeRule["class"]>;

/** Reads flow.toml's `[retention]` table; `fail` names the first bad key. */
export function parseRetention(
  table: Record<string, unknown>,
  field: string,
  fail: (field: string, message: string) => never,
): Retention {
  const retention: Retention = {};
  for (const [key, value] of Object.entries(table)) {
    const name = RETENTION_KEYS[key as keyof typeof RETENTION_KEYS];
    if (!name) fail(`${field}.${key}`, `unknown key; expected one of ${Object.keys(RETENTION_KEYS).join(", ")}`);
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0)
      fail(`${field}.${key}`, `expected an integer >= 0 (0: kept for ever), got ${JSON.stringify(value)}`);
    if (value > 0) retention[name] = value;
  }
  return retention;
}

/** A flow's retention: its own keys over the defaults; failures default to the flow's own counts. */
export function effectiveRetention(defaults: Retention, own: Retention = {}): Retention {
  const merged = { ...defaults, ...own };
  return {
    days: merged.days,
    runs: merged.runs,
    failedDays: merged.failedDays ?? merged.days,
    failedRuns: merged.failedRuns ?? merged.runs,
  };
}

const DAY_MS = 86_400_000;

/** The rules of one class (none when that class is kept for ever). */
function classRule(
  scope: { flow: string } | { except: string[] },
  cls: RetentionClass,
  days: number | undefined,
  runs: number | undefined,
  now: number,
): PurgeRule[] {
  if (!days && !runs) return [];
  return [
    {
      ...scope,
      class: cls,
      ...(days ? { before: new Date(now - days * DAY_MS).toISOString() } : {}),
      ...(runs ? { keepRuns: runs } : {}),
    },
  ];
}

/**
 * The cuts a retention tick at `now` (ms) makes: one per flow with a policy of its own
 * and class, and the defaults for every other flow. Pure: the tick's message carries
 * them, so every projector (and a rebuild) deletes the same rows.
 */
export function retentionRules(defaults: Retention, flows: ReadonlyMap<string, Retention>, now: number): PurgeRule[] {
  const rules: PurgeRule[] = [];
  const add = (scope: { flow: string } | { except: string[] }, retention: Retention) => {
    rules.push(
      ...classRule(scope, "other", retention.days, retention.runs, now),
      ...classRule(scope, "attention", retention.failedDays, retention.failedRuns, now),
    );
  };
  for (const [flow, own] of flows) add({ flow }, effectiveRetention(defaults, own));
  // A flow with a policy of its own is never cut by the defaults (not even when it keeps everything).
  add({ except: [...flows.keys()].sort() }, effectiveRetention(defaults));
  return rules;
}

/** Whether a tick has anything to cut. */
export function keepsEverything(defaults: Retention, flows: ReadonlyMap<string, Retention>): boolean {
  return retentionRules(defaults, flows, 0).length === 0;
}

/** Events that started no run go with the defaults' `days` (none: kept for ever). */
export function eventsBefore(defaults: Retention, now: number): string | undefined {
  return defaults.days ? new Date(now - defaults.days * DAY_MS).toISOString() : undefined;
}
