import { Cron } from "croner";
import { EVENT_TYPE_MAX, EVENT_TYPE_PATTERN, type FlowEvent } from "../protocol/event.ts";

/** What to do with ticks that passed while no scheduler ran. */
export type CatchUp = "latest" | "none" | "all";
export const CATCH_UP_MODES: readonly CatchUp[] = ["latest", "none", "all"];
/** At most this many due ticks (the newest) are emitted or recorded one by one; older ones are recorded as one skipped tick. */
export const MAX_CATCH_UP = 100;

/** One `[[schedules]]` table of a flow: a cron expression in a time zone that emits an event per tick. */
export type Schedule = {
  name: string;
  cron: string;
  timezone: string;
  event: { type: string; payload: unknown };
  catchUp: CatchUp;
  /** `skip` (default): a tick whose previous tick's runs are still going is skipped. */
  overlap: "skip" | "allow";
};

export const SCHEDULE_KEYS = ["name", "cron", "timezone", "event", "catch_up", "overlap"];
const NAME = /^[A-Za-z0-9._-]+$/;
const EVENT_TYPE = new RegExp(EVENT_TYPE_PATTERN);

type Fail = (field: string, message: string) => never;

/** Reads one `[[schedules]]` table; `fail` names the field at fault (an unknown time zone or a bad cron included). */
export function parseSchedule(table: Record<string, unknown>, field: string, fail: Fail): Schedule {
  for (const key of Object.keys(table))
    if (!SCHEDULE_KEYS.includes(key))
      fail(`${field}.${key}`, `unknown key "${key}" (expected one of ${SCHEDULE_KEYS.join(", ")})`);
  const name = table.name;
  if (typeof name !== "string" || !NAME.test(name))
    fail(`${field}.name`, `expected a name of letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
  const cron = table.cron;
  if (typeof cron !== "string")
    return fail(`${field}.cron`, `expected a cron expression such as "0 3 * * *", got ${JSON.stringify(cron)}`);
  const timezone = table.timezone ?? "UTC";
  if (typeof timezone !== "string" || !isTimeZone(timezone))
    fail(`${field}.timezone`, `expected an IANA time zone such as "Europe/Berlin", got ${JSON.stringify(timezone)}`);
  try {
    new Cron(cron, { timezone: timezone as string });
  } catch (error) {
    fail(`${field}.cron`, `"${cron}" is not a cron expression: ${(error as Error).message}`);
  }
  const event = table.event;
  if (typeof event !== "object" || event === null || Array.isArray(event))
    return fail(`${field}.event`, "expected a table { type = ..., payload = {...} }");
  const { type, payload, ...rest } = event as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra) fail(`${field}.event.${extra}`, `unknown key "${extra}" (expected type, payload)`);
  if (typeof type !== "string" || type.length > EVENT_TYPE_MAX || !EVENT_TYPE.test(type)) {
    fail(
      `${field}.event.type`,
      `expected dot-separated segments of letters, digits and _ - : / @ + (e.g. nightly.cleanup), got ${JSON.stringify(type)}`,
    );
  }
  const catchUp = table.catch_up ?? "latest";
  if (!CATCH_UP_MODES.includes(catchUp as CatchUp))
    fail(`${field}.catch_up`, `expected "latest", "none" or "all", got ${JSON.stringify(catchUp)}`);
  const overlap = table.overlap ?? "skip";
  if (overlap !== "skip" && overlap !== "allow")
    fail(`${field}.overlap`, `expected "skip" or "allow", got ${JSON.stringify(overlap)}`);
  return {
    name: name as string,
    cron,
    timezone: timezone as string,
    event: { type: type as string, payload: payload ?? {} },
    catchUp: catchUp as CatchUp,
    overlap: overlap as "skip" | "allow",
  };
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The first tick strictly after `after`, or undefined when the expression has no more. */
export function nextTick(schedule: Pick<Schedule, "cron" | "timezone">, after: Date): Date | undefined {
  return new Cron(schedule.cron, { timezone: schedule.timezone }).nextRun(after) ?? undefined;
}

/** Ticks to emit now, and missed ticks recorded as skipped (with why), oldest first. */
export type DueTicks = { emit: Date[]; skip: { tick: Date; reason: string }[] };

/**
 * The ticks due at `now` given the last tick recorded for the schedule. `firstSeen` is
 * when this scheduler began watching the schedule (its first pass over it): a schedule
 * never ticked before starts there, so a new schedule does not replay its past.
 *
 * A tick after `firstSeen` came due while this scheduler was running: it is owed, and
 * emitted however late the pass is (a busy host). Only ticks up to `firstSeen` were
 * missed while no scheduler ran, and `catch_up` decides those (latest: the newest only,
 * the others recorded as skipped; none: all recorded as skipped; all: every one).
 *
 * At most MAX_CATCH_UP ticks (the newest) are emitted or recorded one by one; the older
 * ones are recorded together as one skipped tick (the newest of them) whose reason
 * gives how many and since when. Pure: the clock arrives as `now`; bounded by
 * 11 * MAX_CATCH_UP steps (a longer gap jumps to its newest ticks).
 */
export function dueTicks(
  schedule: Pick<Schedule, "cron" | "timezone" | "catchUp">,
  last: Date | undefined,
  firstSeen: Date,
  now: Date,
): DueTicks {
  const cron = new Cron(schedule.cron, { timezone: schedule.timezone });
  let due: Date[] = [];
  const dropped: Dropped = { count: 0, more: false };
  let cursor: Date | null = last ?? firstSeen;
  for (;;) {
    cursor = cron.nextRun(cursor);
    if (!cursor || cursor.getTime() > now.getTime()) break;
    due.push(cursor);
    if (due.length <= MAX_CATCH_UP) continue;
    const old = due.shift()!;
    dropped.first ??= old;
    dropped.newest = old;
    dropped.count++;
    // Very old gaps: jump to the end instead of walking every tick (bounded work).
    if (dropped.count >= 10 * MAX_CATCH_UP) {
      // previousRuns looks strictly before its reference (to the second): a second on includes a tick at `now`.
      due = cron
        .previousRuns(MAX_CATCH_UP + 1, new Date(now.getTime() + 1_000))
        .filter((tick) => tick.getTime() <= now.getTime())
        .reverse();
      dropped.newest = due.shift();
      dropped.more = true;
      break;
    }
  }
  const summary = dropped.newest ? [{ tick: dropped.newest, reason: droppedReason(dropped, firstSeen) }] : [];
  const missed = due.filter((tick) => tick.getTime() <= firstSeen.getTime());
  const owed = due.slice(missed.length);
  const caught = catchUp(schedule.catchUp, missed, dropped.count > 0);
  return { emit: [...caught.emit, ...owed], skip: [...summary, ...caught.skip] };
}

/** Ticks past the newest MAX_CATCH_UP: how many (`more`: at least that many), the first and the newest of them. */
type Dropped = { count: number; more: boolean; first?: Date; newest?: Date };

function droppedReason(dropped: Dropped, firstSeen: Date): string {
  const why =
    dropped.newest!.getTime() <= firstSeen.getTime()
      ? "missed while no scheduler ran"
      : "owed by a late scheduler pass";
  const count = dropped.more ? `more than ${dropped.count}` : `${dropped.count}`;
  return `${why}: ${count} ticks from ${dropped.first!.toISOString()} up to this one are not emitted (at most the newest ${MAX_CATCH_UP} are caught up)`;
}

/** What `catch_up` does with ticks missed while no scheduler ran; a single tick due now (nothing older) is simply emitted. */
function catchUp(mode: CatchUp, missed: Date[], older: boolean): DueTicks {
  if (missed.length <= 1 && !older) return { emit: missed, skip: [] };
  const skipped = (ticks: Date[]) =>
    ticks.map((tick) => ({ tick, reason: `missed while no scheduler ran (catch_up = ${mode})` }));
  switch (mode) {
    case "latest":
      return { emit: missed.slice(-1), skip: skipped(missed.slice(0, -1)) };
    case "none":
      return { emit: [], skip: skipped(missed) };
    case "all":
      return { emit: missed, skip: [] };
    default: {
      const unknown: never = mode;
      throw new Error(`unknown catch_up ${String(unknown)}`);
    }
  }
}

/** The deterministic id of a tick's event: every scheduler computes the same one, so dedup keeps one per tick. */
export function tickEventId(flow: string, schedule: string, tick: Date): string {
  return `schedule:${flow}:${schedule}:${tick.toISOString()}`;
}

/** The FlowEvent a tick emits: the schedule's type and payload, with the tick in `occurredAt`. */
export function tickEvent(flow: string, schedule: Schedule, tick: Date, now: Date): FlowEvent {
  return {
    id: tickEventId(flow, schedule.name, tick),
    type: schedule.event.type,
    source: `schedule:${flow}/${schedule.name}`,
    occurredAt: tick.toISOString(),
    receivedAt: now.toISOString(),
    payload: schedule.event.payload,
  };
}
