import { EFFECTIVE_STATUSES, isOneOf } from "../lib/protocol/status.ts";
import { UsageError } from "./args.ts";
import { type ApiTarget, apiFailure, callApi } from "./client.ts";
import { age, type Column, duration, type Format, printRows, time } from "./output.ts";

/** What `flow runs` and `flow events` take besides --format. */
export type ListFlags = {
  event?: string;
  flow?: string;
  step?: string;
  status?: string;
  host?: string;
  type?: string;
  source?: string;
  since?: string;
  until?: string;
  limit?: string;
};

/** The most a listing reads (pages of the API's 500 at most). */
const MAX_LIMIT = 10_000;
const PAGE = 500;

/** `--since`: an ISO-8601 time, or a duration back from now (90s, 30m, 2h, 7d). */
export function sinceTime(raw: string | undefined, flag = "--since", now = Date.now()): string | undefined {
  if (raw === undefined) return undefined;
  const ago = raw.match(/^(\d{1,9})(s|m|h|d)$/);
  if (ago)
    return new Date(
      now - Number(ago[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as "s"],
    ).toISOString();
  if (Number.isNaN(Date.parse(raw)))
    throw new UsageError(
      `${flag} ${raw}: expected an ISO-8601 time (2026-12-07T10:00:00Z) or a duration back from now (30m, 2h, 7d)`,
    );
  return raw;
}

/** `--status a,b`: effective statuses (docs/cli.md), checked here so a typo is a usage error. */
function statusList(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const unknown = raw.split(",").filter((s) => !isOneOf(EFFECTIVE_STATUSES, s.trim()));
  if (unknown.length > 0)
    throw new UsageError(
      `--status ${raw}: ${unknown.map((s) => JSON.stringify(s)).join(", ")} is not a status; expected comma-separated statuses from ${EFFECTIVE_STATUSES.join(", ")}`,
    );
  return raw;
}

function limitOf(raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const limit = Number(raw);
  if (!/^\d+$/.test(raw) || limit < 1 || limit > MAX_LIMIT)
    throw new UsageError(`--limit ${raw}: expected an integer from 1 to ${MAX_LIMIT}`);
  return limit;
}

/** A filter of the other listing (`flow events --flow F`) is a usage mistake, not silently ignored. */
function refuseOthers(command: string, flags: ListFlags, takes: (keyof ListFlags)[]): void {
  const other = (Object.keys(flags) as (keyof ListFlags)[]).find(
    (key) => flags[key] !== undefined && !takes.includes(key),
  );
  if (other)
    throw new UsageError(
      `flow ${command} has no --${other} filter (it takes ${takes.map((t) => `--${t}`).join(", ")})`,
    );
}

/** Up to `limit` items of a paged listing, following nextCursor (bounded by the limit). */
async function readPages(
  target: ApiTarget,
  path: string,
  params: URLSearchParams,
  key: string,
  limit: number,
): Promise<unknown[] | undefined> {
  const items: unknown[] = [];
  let cursor: string | undefined;
  do {
    params.set("limit", String(Math.min(PAGE, limit - items.length)));
    if (cursor) params.set("cursor", cursor);
    const answer = await callApi(target, "GET", `${path}?${params}`);
    if (apiFailure(answer)) return undefined;
    items.push(...answer.body[key]);
    cursor = answer.body.nextCursor;
  } while (cursor && items.length < limit);
  return items;
}

type Run = Record<string, any>;

const RUN_COLUMNS: Column<Run>[] = [
  { header: "RUN", cell: (r) => r.id },
  { header: "FLOW/STEP", cell: (r) => `${r.flowName}/${r.stepName}` },
  {
    header: "STATUS",
    cell: (r) => (r.cancelRequestedAt && !r.completedAt ? `${r.effectiveStatus} (canceling)` : r.effectiveStatus),
  },
  { header: "ATTEMPT", cell: (r) => r.attempt },
  { header: "HOST", cell: (r) => r.host },
  { header: "EVENT", cell: (r) => r.eventId },
  { header: "AGE", cell: (r) => age(r.createdAt) },
  { header: "DURATION", cell: (r) => duration(r.durationMs) },
  // What went wrong, else what the step said (a verdict's message).
  { header: "MESSAGE", cell: (r) => r.error ?? r.result?.message, flexible: true },
];

/** The fields of `flow runs --json`, in order (docs/cli.md): the API's names, without output tails and compatibility aliases. */
const RUN_FIELDS = [
  "id",
  "eventId",
  "flowName",
  "stepName",
  "status",
  "effectiveStatus",
  "needsAttention",
  "attempt",
  "generation",
  "host",
  "queue",
  "createdAt",
  "startedAt",
  "completedAt",
  "durationMs",
  "exitCode",
  "error",
  "result",
] as const;

/** `row`'s `fields`, in their order; one with no value is null (docs/cli.md), never left out. */
function record<F extends string>(fields: readonly F[], row: Record<string, unknown>): Record<F, unknown> {
  return Object.fromEntries(fields.map((field) => [field, row[field] ?? null])) as Record<F, unknown>;
}

/** A run as `flow runs --json` prints it. */
export function runRecord(r: Run): Record<(typeof RUN_FIELDS)[number], unknown> {
  return record(RUN_FIELDS, r);
}

/** `flow runs [--event ID] [--flow F] [--step S] [--status S,..] [--host H] [--since T] [--until T] [--limit N]`: newest first (an event's oldest first). */
export async function listRuns(target: ApiTarget, flags: ListFlags, format: Format): Promise<number> {
  refuseOthers("runs", flags, ["event", "flow", "step", "status", "host", "since", "until", "limit"]);
  const params = new URLSearchParams();
  const set = (key: string, value: string | undefined) => value !== undefined && params.set(key, value);
  set("eventId", flags.event);
  set("flow", flags.flow);
  set("step", flags.step);
  // The status a table shows: the step's verdict when it gave one, else how the run ended.
  set("effectiveStatus", statusList(flags.status));
  set("host", flags.host);
  set("since", sinceTime(flags.since));
  set("until", sinceTime(flags.until, "--until"));
  const runs = await readPages(target, "/runs", params, "runs", limitOf(flags.limit, flags.event ? MAX_LIMIT : 20));
  if (!runs) return 1;
  const filtered = Object.entries(flags).some(([k, v]) => v !== undefined && k !== "limit");
  printRows(
    format,
    runs as Run[],
    RUN_COLUMNS,
    runRecord,
    flags.event ? `no runs for event ${flags.event}` : filtered ? "no runs match" : "no runs yet",
  );
  return 0;
}

type Event = Record<string, any>;

const EVENT_COLUMNS: Column<Event>[] = [
  { header: "EVENT", cell: (e) => e.id },
  { header: "TYPE", cell: (e) => e.type },
  { header: "SOURCE", cell: (e) => e.source },
  { header: "AGE", cell: (e) => age(e.acceptedAt) },
  { header: "GEN", cell: (e) => e.generation },
  { header: "DEPTH", cell: (e) => e.chainDepth },
  { header: "RUNS", cell: (e) => e.runIds.length },
  { header: "PARENT", cell: (e) => e.parentRunId },
];

/** The fields of `flow events --json`, in order (docs/cli.md). */
const EVENT_FIELDS = [
  "id",
  "type",
  "source",
  "occurredAt",
  "acceptedAt",
  "seq",
  "generation",
  "matchedCount",
  "chainDepth",
  "parentRunId",
  "runIds",
  "payload",
] as const;

/** An event as `flow events --json` prints it. */
export function eventRecord(e: Event): Record<(typeof EVENT_FIELDS)[number], unknown> {
  return record(EVENT_FIELDS, e);
}

/** `flow events [--type T] [--source S] [--since T] [--until T] [--limit N]`: newest first. */
export async function listEvents(target: ApiTarget, flags: ListFlags, format: Format): Promise<number> {
  refuseOthers("events", flags, ["type", "source", "since", "until", "limit"]);
  const params = new URLSearchParams();
  const set = (key: string, value: string | undefined) => value !== undefined && params.set(key, value);
  set("type", flags.type);
  set("source", flags.source);
  set("since", sinceTime(flags.since));
  set("until", sinceTime(flags.until, "--until"));
  const events = await readPages(target, "/events", params, "events", limitOf(flags.limit, 20));
  if (!events) return 1;
  printRows(
    format,
    events as Event[],
    EVENT_COLUMNS,
    eventRecord,
    params.size > 0 ? "no events match" : "no events yet",
  );
  return 0;
}

type Schedule = Record<string, any>;

const SCHEDULE_COLUMNS: Column<Schedule>[] = [
  { header: "SCHEDULE", cell: (s) => `${s.flow}/${s.name}` },
  { header: "CRON", cell: (s) => s.cron },
  { header: "ZONE", cell: (s) => s.timezone },
  { header: "EVENT TYPE", cell: (s) => s.eventType },
  { header: "NEXT", cell: (s) => time(s.nextTick) },
  {
    header: "LAST",
    flexible: true,
    cell: (s) =>
      s.lastTick
        ? `${time(s.lastTick.tick)} ${s.lastTick.outcome}${s.lastTick.reason ? ` (${s.lastTick.reason})` : ""}`
        : "never ticked",
  },
];

/** `flow schedules`: every schedule with its next and last tick; --json: GET /schedules' objects, one a line. */
export async function listSchedules(target: ApiTarget, format: Format): Promise<number> {
  const answer = await callApi(target, "GET", "/schedules");
  if (apiFailure(answer)) return 1;
  printRows(
    format,
    answer.body.schedules as Schedule[],
    SCHEDULE_COLUMNS,
    (s) => s,
    "no schedules (a flow declares them with [[schedules]] in flow.toml)",
  );
  return 0;
}
