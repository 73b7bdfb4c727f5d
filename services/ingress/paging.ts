import { type SelectQueryBuilder, type StringReference, sql } from "kysely";
import { HttpError } from "./errors.ts";

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 500;

/** `limit`: 1 to MAX_LIMIT, DEFAULT_LIMIT when absent. */
export function parseLimit(raw: string | undefined): number {
  if (raw === undefined || raw === "") return DEFAULT_LIMIT;
  const limit = Number(raw);
  if (!/^\d+$/.test(raw) || limit < 1 || limit > MAX_LIMIT)
    throw new HttpError(400, `limit=${JSON.stringify(raw)} is invalid: expected an integer from 1 to ${MAX_LIMIT}`);
  return limit;
}

/** An opaque cursor: the sort key of the last row of a page. */
export function encodeCursor(key: (string | number)[]): string {
  return Buffer.from(JSON.stringify(key)).toString("base64url");
}

/** Decodes a cursor made by encodeCursor with `arity` parts; 400 for anything else. */
export function decodeCursor(raw: string | undefined, arity: number): (string | number)[] | undefined {
  if (raw === undefined || raw === "") return undefined;
  try {
    const key = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
    if (Array.isArray(key) && key.length === arity && key.every((k) => typeof k === "string" || typeof k === "number"))
      return key;
  } catch {
    // fall through to the 400
  }
  throw new HttpError(400, "cursor is invalid: pass the nextCursor of a previous page unchanged");
}

/** `since`/`until`: an ISO-8601 time, normalised for comparison with stored times. */
export function parseTime(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined || raw === "") return undefined;
  const time = Date.parse(raw);
  if (Number.isNaN(time))
    throw new HttpError(
      400,
      `${name}=${JSON.stringify(raw)} is invalid: expected an ISO-8601 time such as 2026-11-23T10:00:00Z`,
    );
  return new Date(time).toISOString();
}

/** The paging filters of a listing read newest first by stream sequence (GET /events, GET /audit). */
export type SeqPaging = { limit?: string; cursor?: string; since?: string; until?: string };

/**
 * One page of `query`, newest first by its `seq` column: `since` (inclusive) and `until`
 * (exclusive) on the time column `at`, after the cursor's sequence, with `nextCursor`
 * when more rows follow. Bad paging filters are a 400 naming the parameter.
 */
export async function newestBySeq<DB, TB extends keyof DB, O extends { seq: number }>(
  query: SelectQueryBuilder<DB, TB, O>,
  at: StringReference<DB, TB>,
  filters: SeqPaging,
): Promise<{ rows: O[]; nextCursor?: string }> {
  const limit = parseLimit(filters.limit);
  const cursor = decodeCursor(filters.cursor, 1);
  if (cursor && typeof cursor[0] !== "number")
    throw new HttpError(400, "cursor is invalid: pass the nextCursor of a previous page unchanged");
  const since = parseTime("since", filters.since);
  const until = parseTime("until", filters.until);
  let paged = query;
  if (since) paged = paged.where(sql<boolean>`${sql.ref(at)} >= ${since}`);
  if (until) paged = paged.where(sql<boolean>`${sql.ref(at)} < ${until}`);
  if (cursor) paged = paged.where(sql<boolean>`seq < ${cursor[0]}`);
  const rows = (await paged
    .orderBy(sql`seq`, "desc")
    .limit(limit + 1)
    .execute()) as O[];
  const page = rows.slice(0, limit);
  return rows.length > limit ? { rows: page, nextCursor: encodeCursor([page.at(-1)!.seq]) } : { rows: page };
}

/** A boolean query parameter. */
export function parseBoolean(name: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined || raw === "") return undefined;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new HttpError(400, `${name}=${JSON.stringify(raw)} is invalid: expected true or false`);
}
