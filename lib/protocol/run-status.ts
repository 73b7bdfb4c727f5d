/**
 * Every process status a run can have in the read model, the one list: the API's filters,
 * the dashboard and the final set below all come from it. `superseded` is final: a
 * debounced run that a later event replaced never starts.
 */
export const RUN_STATUSES = ["queued", "running", "completed", "failed", "timed_out", "canceled", "superseded"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Process statuses after which a run does not change unless a new attempt starts: all but queued and running. */
export const FINAL_STATUSES: ReadonlySet<string> = new Set(RUN_STATUSES.filter((status) => status !== "queued" && status !== "running"));
