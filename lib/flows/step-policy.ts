/**
 * Where and how persistently a step runs: its retries and their backoff, the queue it
 * waits on (`runs_on`), and the concurrency group no two of whose runs overlap.
 */
export type StepPolicy = {
  /** Attempts after the first (default 0). */
  retries: number;
  /** Delay before each retry: `exponential` doubles from `baseMs` up to `maxMs`; a list gives each one. */
  backoff: { kind: "exponential"; baseMs: number; maxMs: number } | { kind: "list"; delaysMs: number[] };
  /** A host id or an executor label; absent: any executor. */
  runsOn?: string;
  /** Runs of steps naming the same group never overlap, across all hosts. */
  concurrency?: string;
};

export const MAX_RETRIES = 20;
export const DEFAULT_BACKOFF_MS = 1_000;
export const DEFAULT_BACKOFF_MAX_MS = 300_000;
export const SHARED_QUEUE = "any";
/** Queue names (and so `runs_on` and `concurrency` values) become one subject token and part of a consumer name. */
export const QUEUE_NAME = /^[A-Za-z0-9_-]{1,48}$/;
const QUEUE_RULE = "expected 1-48 letters, digits, _ or -";
export const STEP_POLICY_KEYS = ["retries", "retry_backoff_ms", "retry_backoff_max_ms", "runs_on", "concurrency"];

type Fail = (field: string, message: string) => never;

/** Reads the policy fields of one `[[steps]]` table; `fail` names the field at fault. */
export function parseStepPolicy(step: Record<string, unknown>, field: string, fail: Fail): StepPolicy {
  const retries = step.retries ?? 0;
  if (typeof retries !== "number" || !Number.isInteger(retries) || retries < 0 || retries > MAX_RETRIES) {
    fail(`${field}.retries`, `expected an integer from 0 to ${MAX_RETRIES}, got ${JSON.stringify(retries)}`);
  }
  const maxMs = step.retry_backoff_max_ms ?? DEFAULT_BACKOFF_MAX_MS;
  if (!isDelay(maxMs))
    fail(
      `${field}.retry_backoff_max_ms`,
      `expected a non-negative integer of milliseconds, got ${JSON.stringify(maxMs)}`,
    );
  const raw = step.retry_backoff_ms ?? DEFAULT_BACKOFF_MS;
  let backoff: StepPolicy["backoff"];
  if (Array.isArray(raw)) {
    if (raw.length === 0 || !raw.every(isDelay))
      fail(`${field}.retry_backoff_ms`, "expected a non-empty list of non-negative integers of milliseconds");
    backoff = { kind: "list", delaysMs: raw as number[] };
  } else if (isDelay(raw)) {
    backoff = { kind: "exponential", baseMs: raw, maxMs: maxMs as number };
  } else {
    return fail(
      `${field}.retry_backoff_ms`,
      `expected milliseconds (exponential from there) or a list of them, got ${JSON.stringify(raw)}`,
    );
  }
  const policy: StepPolicy = { retries: retries as number, backoff };
  for (const [key, name] of [
    ["runs_on", "runsOn"],
    ["concurrency", "concurrency"],
  ] as const) {
    const value = step[key];
    if (value === undefined) continue;
    if (typeof value !== "string" || !QUEUE_NAME.test(value))
      fail(`${field}.${key}`, `${QUEUE_RULE}, got ${JSON.stringify(value)}`);
    policy[name] = value as string;
  }
  return policy;
}

/** The delay before retry number `retry` (1-based). */
export function retryDelayMs(policy: StepPolicy, retry: number): number {
  const { backoff } = policy;
  if (backoff.kind === "list") return backoff.delaysMs[Math.min(retry, backoff.delaysMs.length) - 1]!;
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** (retry - 1));
}

/** The queue a step's runs wait on: its host or label (or `any`), and its concurrency group. */
export function queueFor(policy: Pick<StepPolicy, "runsOn" | "concurrency">): string {
  const base = policy.runsOn ?? SHARED_QUEUE;
  return policy.concurrency ? `${base}--${policy.concurrency}` : base;
}

/** The host or label part of a queue name (what an executor must serve to take its runs). */
export function queueBase(queue: string): string {
  return queue.split("--")[0]!;
}

/** Whether the queue is a concurrency group's (served one run at a time across all hosts). */
export function isGroupQueue(queue: string): boolean {
  return queue.includes("--");
}

function isDelay(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

/** The policy of a step that sets none of the policy fields. */
export const DEFAULT_STEP_POLICY: StepPolicy = {
  retries: 0,
  backoff: { kind: "exponential", baseMs: DEFAULT_BACKOFF_MS, maxMs: DEFAULT_BACKOFF_MAX_MS },
};
