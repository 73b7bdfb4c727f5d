import { FLOW_RESULT_STATUSES } from "./flow-result.ts";

/**
 * The statuses of the stream's vocabulary, each list written once; every other set (the
 * API's filters, the dashboard, retention's classes, the read model's column types) is
 * derived from these.
 */

/** How a step's process ended (`run.finished`'s status). */
export const PROCESS_STATUSES = ["completed", "failed", "timed_out", "canceled"] as const;
export type ProcessStatus = (typeof PROCESS_STATUSES)[number];

/**
 * Every status a run can have in the read model. `superseded` is final: a debounced run
 * that a later event replaced never starts. `awaiting_approval`: a person must approve it
 * (its step's `[steps.approval]`, or its FLOW_RESULT held its `next` events); `rejected`
 * is final: the approval was refused (or expired with `on_timeout = "reject"`).
 */
export const RUN_STATUSES = [
  "queued",
  "running",
  "awaiting_approval",
  ...PROCESS_STATUSES,
  "superseded",
  "rejected",
] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/**
 * Every status one attempt of a run can have: running, how its process ended, or how it
 * ended without a result: `lost` (its executor stopped mid-step and another attempt
 * began), `released` (handed back at a shutdown), `fenced` (its executor was cut off and
 * killed the step so that another host could take the run).
 */
export const ATTEMPT_STATUSES = ["running", ...PROCESS_STATUSES, "lost", "released", "fenced"] as const;
export type AttemptStatus = (typeof ATTEMPT_STATUSES)[number];

/** Run statuses that still change by themselves: waiting on a queue, running, or waiting for a person. */
export const LIVE_STATUSES = statusSet<RunStatus>(["queued", "running", "awaiting_approval"]);

/** Run statuses after which a run does not change unless a new attempt starts: all but the live ones. */
export const FINAL_STATUSES: ReadonlySet<string> & { readonly list: readonly RunStatus[] } = statusSet(
  RUN_STATUSES.filter((status) => !LIVE_STATUSES.has(status)),
);

/** What a run shows: the step's verdict (FLOW_RESULT status) when it gave one, else its run status. */
export const EFFECTIVE_STATUSES = [...new Set<string>([...RUN_STATUSES, ...FLOW_RESULT_STATUSES])] as readonly (
  | RunStatus
  | (typeof FLOW_RESULT_STATUSES)[number]
)[];
export type EffectiveStatus = (typeof EFFECTIVE_STATUSES)[number];

/** Effective statuses that ask a person to look (the original backend's later clients, seed/http-contract.md, derive the same); retention keeps them apart. */
export const ATTENTION = statusSet<EffectiveStatus>(["needs_intervention", "blocked", "failed", "timed_out"]);

/** Whether a string is one of a status list (input from outside: a query, a row). */
export function isOneOf<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}

/** A set of statuses that `has` any string (input from outside) and keeps its typed list for queries. */
function statusSet<T extends string>(list: readonly T[]): ReadonlySet<string> & { readonly list: readonly T[] } {
  return Object.assign(new Set<string>(list), { list });
}
