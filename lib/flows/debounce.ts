import type { FlowEvent } from "../protocol/event.ts";
import type { RunDeferred, RunStep } from "../protocol/messages.ts";

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
    return fail(
      `${field}.debounce_ms`,
      `expected an integer of milliseconds from 1 to ${MAX_DEBOUNCE_MS}, got ${JSON.stringify(ms)}`,
    );
  }
  const path = key ?? "type";
  if (typeof path !== "string" || !KEY_PATH.test(path)) {
    return fail(
      `${field}.debounce_key`,
      `expected a path into the event such as "payload.repo" (id, type, source or payload, then .field...), got ${JSON.stringify(key)}`,
    );
  }
  return { ms, key: path };
}

/** The debounce key of an event: the value at the path, as JSON (a missing value is `null`, one key). */
export function debounceKey(event: FlowEvent, path: string): string {
  let value: unknown = event;
  for (const part of path.split(".")) {
    value =
      typeof value === "object" && value !== null && !Array.isArray(value)
        ? (value as Record<string, unknown>)[part]
        : undefined;
  }
  return typeof value === "string" ? value : JSON.stringify(value ?? null);
}

/**
 * A debounced run's event, as the decision sees it: its id, its stream sequence (the
 * order events were stored, the only order two matchers agree on) and when it arrived.
 */
export type Arrival = { eventId: string; seq: number; arrivedAt: string };
export type DebounceVerdict = { start: true } | { start: false; supersededBy: string };

/** How long a due run waits, at most, for a matcher that has not matched events that may supersede it. */
export const MAX_MATCHER_LAG_MS = 60_000;
/** How often a due run that waits for the matcher looks again. */
export const MATCHER_POLL_MS = 250;

/**
 * Whether a debounced run starts, once its wait is over, given the other deferred runs
 * with its key (`others`, in any order: matchers publish them in the order they
 * finish, not the order their events were stored). Only an event stored after mine
 * (a higher stream sequence) that arrived within `ms` of mine supersedes it, and the
 * first such one (by sequence) is named; an event stored before mine never does,
 * whatever its time says. Arrival times only measure the gap, so a later-stored event
 * stamped a little earlier by another ingress's clock is within the window. Pure.
 */
export function debounceVerdict(mine: Arrival, others: Arrival[], ms: number): DebounceVerdict {
  let next: Arrival | undefined;
  for (const other of others) {
    if (other.seq <= mine.seq || Date.parse(other.arrivedAt) - Date.parse(mine.arrivedAt) > ms) continue;
    if (!next || other.seq < next.seq) next = other;
  }
  return next ? { start: false, supersededBy: next.eventId } : { start: true };
}

/**
 * How long a due run waits for the matchers before it is decided (0: decide now).
 * `unmatched` is the oldest event the matchers have not finished: while it arrived
 * within `ms` after mine (or before mine), a run that would supersede mine may not be
 * deferred yet, so mine waits, at most MAX_MATCHER_LAG_MS past its due time (a stuck
 * matcher then delays debounced runs by that much, and no more). Pure: `now` in ms.
 */
export function matcherWait(
  mine: Arrival,
  dueAt: string,
  unmatched: Pick<Arrival, "arrivedAt"> | undefined,
  ms: number,
  now: number,
): number {
  if (!unmatched || Date.parse(unmatched.arrivedAt) - Date.parse(mine.arrivedAt) > ms) return 0;
  return now - Date.parse(dueAt) < MAX_MATCHER_LAG_MS ? MATCHER_POLL_MS : 0;
}

/** When a debounced run's wait is over. */
export function debounceDueAt(arrivedAt: string, ms: number): string {
  return new Date(Date.parse(arrivedAt) + ms).toISOString();
}

/**
 * The run.deferred message of a debounced step's run: it waits on its key's subject
 * until its debounce time passed (services/matcher/debouncer.ts). `eventSeq` is the
 * stream sequence of its event, by which the debouncer decides which run is the latest. Pure.
 */
export function deferredRun(command: RunStep, debounce: Debounce, arrivedAt: string, eventSeq: number): RunDeferred {
  const key = debounceKey(command.event, debounce.key);
  return {
    v: 1,
    kind: "run.deferred",
    runId: command.runId,
    command,
    key,
    debounceMs: debounce.ms,
    arrivedAt,
    dueAt: debounceDueAt(arrivedAt, debounce.ms),
    eventSeq,
  };
}
