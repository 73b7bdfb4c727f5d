import { UsageError } from "./args.ts";
import { type ApiTarget, callApi } from "./client.ts";
import { printLine } from "./terminal.ts";

/** The filters of `flow audit`, as GET /audit takes them. */
export type AuditOptions = {
  action?: string;
  actor?: string;
  flow?: string;
  run?: string;
  event?: string;
  since?: string;
  until?: string;
  limit?: string;
  json: boolean;
};

type Entry = {
  seq: number;
  at: string;
  actor: string;
  action: string;
  runId: string | null;
  eventId: string | null;
  flow: string | null;
  step: string | null;
  summary: string;
  reason: string | null;
};

/** The most records one `flow audit` prints, and the default. */
const MAX_LIMIT = 10_000;
const DEFAULT_LIMIT = 50;

function limitOf(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LIMIT;
  const limit = Number(raw);
  if (!/^\d+$/.test(raw) || limit < 1 || limit > MAX_LIMIT)
    throw new UsageError(`--limit ${raw}: expected an integer from 1 to ${MAX_LIMIT}`);
  return limit;
}

const targetOf = (e: Entry) => e.runId ?? e.eventId ?? (e.flow ? (e.step ? `${e.flow}/${e.step}` : e.flow) : "-");

/**
 * `flow audit [--action A[,B]] [--actor NAME] [--flow F] [--run ID] [--event ID] [--since TIME]
 * [--until TIME] [--limit N] [--json]`: the operator actions, newest first, page after page
 * up to --limit (default 50): a table, or with --json one JSON object a line.
 */
export async function listAudit(target: ApiTarget, options: AuditOptions): Promise<number> {
  const limit = limitOf(options.limit);
  const filters: Record<string, string | undefined> = {
    action: options.action,
    actor: options.actor,
    flow: options.flow,
    runId: options.run,
    eventId: options.event,
    since: options.since,
    until: options.until,
  };
  const entries: Entry[] = [];
  let cursor: string | undefined;
  while (entries.length < limit) {
    const params = new URLSearchParams({ limit: String(Math.min(500, limit - entries.length)) });
    for (const [name, value] of Object.entries(filters)) if (value) params.set(name, value);
    if (cursor) params.set("cursor", cursor);
    const answer = await callApi(target, "GET", `/audit?${params}`);
    if (answer.status !== 200)
      throw new UsageError(`error ${answer.status}: ${answer.body?.error ?? JSON.stringify(answer.body)}`);
    entries.push(...(answer.body.entries as Entry[]));
    cursor = answer.body.nextCursor;
    if (!cursor) break;
  }
  if (options.json) {
    for (const entry of entries) console.log(JSON.stringify(entry));
    return 0;
  }
  if (entries.length === 0) {
    console.error("no operator actions match");
    return 0;
  }
  const rows = entries.map((e) => [
    e.at.replace("T", " ").replace(/\.\d+Z$/, "Z"),
    e.actor,
    e.action,
    targetOf(e),
    e.reason ?? "-",
  ]);
  const head = ["WHEN", "ACTOR", "ACTION", "TARGET", "REASON"];
  const widths = head.map((h, i) => Math.min(40, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  console.log(line(head));
  for (const row of rows) printLine(line(row));
  if (cursor) console.error(`(the newest ${entries.length}; --limit N shows more)`);
  return 0;
}
