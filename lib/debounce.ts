import type { FlowEvent } from "./event.ts";

/** A trigger's debounce: of events with the same key within `ms` of each other, only the last starts a run. */
export type Debounce = { ms: number; key: string };

export const DEBOUNCE_KEYS = ["debounce_ms", "debounce_key"];
export const MAX_DEBOUNCE_MS = 24 * 3600_000;
const KEY_PATH = /^(id|type|source|payload)(\.[A-Za-z0-9_-]+)*$/;

type Fail = (field: string, message: string) => never;

/** Reads `debounce_ms` and `debounce_key` of a `[steps.trigger]` table (both or neither). */
export function parseDebounce(trigger: Record<string, unknown>, field: string, fail: Fail): Debounce | undefined {
  const { debounce_ms: ms, debounce_key: key } = trigger;
  if (ms === undefined && key === undefined) return undefined;
  if (typeof ms !== "number" || !Number.isInteger(ms) || ms < 1 || ms > MAX_DEBOUNCE_MS) {
    return fail(`${field}.debounce_ms`, `expected an integer of milliseconds from 1 to ${MAX_DEBOUNCE_MS}, got ${JSON.stringify(ms)}`);
  }
  const path = key ?? "type";
  if (typeof path !== "string" || !KEY_PATH.test(path)) {
    return fail(`${field}.debounce_key`, `expected a path into the event such as "payload.repo" (id, type, source or payload, then .field...), got ${JSON.stringify(key)}`);
  }
  return { ms, key: path };
}

/** The debounce key of an event: the value at the path, as JSON (a missing value is `null`, one key). */
export function debounceKey(event: FlowEvent, path: string): string {
  let value: unknown = event;
  for (const part of path.split(".")) {
    value = typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[part] : undefined;
  }
  return typeof value === "string" ? value : JSON.stringify(value ?? null);
}

/** A waiting debounced run, as the decision sees it: when its event arrived. */
export type Arrival = { eventId: string; arrivedAt: string };
export type DebounceVerdict = { start: true } | { start: false; supersededBy: string };

/**
 * Whether a debounced run starts, once its wait is over: `next` is the first later
 * arrival with the same key (if any). A later arrival within `ms` supersedes it; one
 * that came after the wait ended does not (that one waits its own turn). Pure.
 */
export function debounceVerdict(mine: Arrival, next: Arrival | undefined, ms: number): DebounceVerdict {
  if (next && Date.parse(next.arrivedAt) - Date.parse(mine.arrivedAt) <= ms) return { start: false, supersededBy: next.eventId };
  return { start: true };
}

/** When a debounced run's wait is over. */
export function debounceDueAt(arrivedAt: string, ms: number): string {
  return new Date(Date.parse(arrivedAt) + ms).toISOString();
}
