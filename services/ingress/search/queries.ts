import type { SQLQueryBindings, Database as Sqlite } from "bun:sqlite";
import { type ReadModel, rawSqlite } from "../../../lib/read-model/database.ts";
import { SEARCH_WORDS, type SearchFilters, type SearchView } from "./schemas.ts";

const OPEN = "\u0002";
const CLOSE = "\u0003";

/** The words of a query (letters, digits, `_`), at most SEARCH_WORDS: what FTS5 is asked for, each quoted (so nothing in q is FTS syntax). */
export function searchWords(q: string): string[] {
  return (q.match(/[\p{L}\p{N}_]+/gu) ?? []).slice(0, SEARCH_WORDS);
}

/** The most words a prefix stands for: the first ones in order (the word itself first when it is one). */
export const PREFIX_WORDS = 32;

/**
 * Every word, the last also as a prefix: as the words of the index that start with it
 * (search_terms, by range; FTS5's own prefix query merges every entry of every word it
 * matches, about a second for a common word at a million runs), at most PREFIX_WORDS.
 */
function matchExpression(sqlite: Sqlite, words: string[]): string {
  const last = words.at(-1)!;
  const folded = last.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
  const terms = (
    sqlite
      .query("select term from search_terms where term >= ? and term < ? order by term limit ?")
      .values(folded, `${folded}\u{10FFFF}`, PREFIX_WORDS) as [string][]
  ).map(([term]) => `"${term.replaceAll('"', '""')}"`);
  const prefix = terms.length > 0 ? `(${terms.join(" OR ")})` : `"${last}"`;
  return [...words.slice(0, -1).map((w) => `"${w}"`), prefix].join(" AND ");
}

/** FTS5's snippet with its markers, as parts. */
function parts(snippet: string | null): { text: string; match: boolean }[] | null {
  if (snippet === null) return null;
  const out: { text: string; match: boolean }[] = [];
  for (const piece of snippet.split(OPEN)) {
    const [inside, after] = piece.includes(CLOSE) ? piece.split(CLOSE, 2) : [null, piece];
    if (inside) out.push({ text: inside, match: true });
    if (after) out.push({ text: after, match: false });
  }
  return out;
}

type EventRow = { id: string; type: string; source: string | null; accepted_at: string; snip: string | null };
type RunRow = {
  id: string;
  event_id: string;
  flow_name: string;
  step_name: string;
  status: string;
  result_status: string | null;
  created_at: string;
  snip: string | null;
};

/** With filters alone, the most rows of the other kind (the newest events of a type, runs of a flow) whose runs or events are listed. */
export const FILTER_CANDIDATES = 1_000;

/** The most index matches one search looks at, newest first: a word in every run (a flow's name) costs no more than a rare one. */
export const SEARCH_CANDIDATES = 10_000;

/** One kind's hits, newest first (the index numbers rows in the order they were first written): by the index when there are words, else by the table; the filters as SQL conditions. */
function hits<R>(
  db: ReadModel,
  kind: "event" | "run",
  columns: string,
  table: string,
  order: string,
  conditions: [string, SQLQueryBindings][],
  words: string[],
  limit: number,
): R[] {
  const where = conditions.map(([c]) => c);
  const values = conditions.map(([, v]) => v);
  const sqlite = rawSqlite(db);
  if (words.length === 0) {
    if (where.length === 0) return [];
    return sqlite
      .query(`select ${columns}, null as snip from ${table} where ${where.join(" and ")} order by ${order} limit ?`)
      .all(...values, limit) as R[];
  }
  const match = matchExpression(sqlite, words);
  // Below the SEARCH_CANDIDATES-th newest match nothing is looked at (walking the index's row numbers, no ranking).
  const fts = `search_${kind}_text`;
  const floor =
    sqlite
      .query<{ doc: number }, [string, number]>(
        `select rowid as doc from ${fts} where ${fts} match ? order by rowid desc limit 1 offset ?`,
      )
      .get(match, SEARCH_CANDIDATES - 1)?.doc ?? 0;
  const filters = where.map((c) => ` and ${c}`).join("");
  const snippet = `snippet(${fts}, 0, '${OPEN}', '${CLOSE}', '…', 12)`;
  return sqlite
    .query(
      `select ${columns}, ${snippet} as snip from ${fts} join search_docs d on d.doc = ${fts}.rowid join ${table} on ${table.split(" ")[1]}.id = d.ref where ${fts} match ? and ${fts}.rowid >= ?${filters} order by ${fts}.rowid desc limit ?`,
    )
    .all(match, floor, ...values, limit) as R[];
}

/**
 * Events and runs for a search: the event and run whose id is q (when one is), then what
 * the FTS5 index finds for q's words, newest first among the newest SEARCH_CANDIDATES matches (ids' parts, types, flows, steps, payloads,
 * FLOW_RESULTs, errors), narrowed by type (the event's, or the run's event's) and flow (the
 * run's, or an event with a run of it). Each kind's list stops at `limit` (`more` says so).
 */
export function search(db: ReadModel, filters: SearchFilters): SearchView {
  const { q, type, flow, kind, limit } = filters;
  const words = searchWords(q);
  const id = q.trim();
  const sqlite = rawSqlite(db);
  const eventConditions: [string, SQLQueryBindings][] = [];
  const runConditions: [string, SQLQueryBindings][] = [];
  // With words the index bounds the candidates (each checked by key; LIMIT 1 keeps SQLite
  // from making the check a join over every row of the type or flow first); with filters
  // alone, the newest FILTER_CANDIDATES rows of the other kind bound them.
  if (type) {
    eventConditions.push(["e.type = ?", type]);
    runConditions.push([
      words.length > 0
        ? "exists (select 1 from events t where t.id = r.event_id and t.type = ? limit 1)"
        : `r.event_id in (select t.id from events t where t.type = ? order by t.seq desc limit ${FILTER_CANDIDATES})`,
      type,
    ]);
  }
  if (flow) {
    eventConditions.push([
      words.length > 0
        ? "exists (select 1 from runs f where f.event_id = e.id and f.flow_name = ? limit 1)"
        : `e.id in (select f.event_id from runs f where f.flow_name = ? order by f.created_at desc limit ${FILTER_CANDIDATES})`,
      flow,
    ]);
    runConditions.push(["r.flow_name = ?", flow]);
  }
  const eventColumns = "e.id, e.type, e.source, e.accepted_at";
  const runColumns = "r.id, r.event_id, r.flow_name, r.step_name, r.status, r.result_status, r.created_at";
  const exactEvent =
    id && kind !== "run"
      ? (sqlite.query(`select ${eventColumns}, null as snip from events e where e.id = ?`).all(id) as EventRow[])
      : [];
  const exactRun =
    id && kind !== "event"
      ? (sqlite.query(`select ${runColumns}, null as snip from runs r where r.id = ?`).all(id) as RunRow[])
      : [];
  const events =
    kind === "run"
      ? []
      : hits<EventRow>(db, "event", eventColumns, "events e", "e.seq desc", eventConditions, words, limit + 1).filter(
          (e) => e.id !== id,
        );
  const runs =
    kind === "event"
      ? []
      : hits<RunRow>(db, "run", runColumns, "runs r", "r.created_at desc", runConditions, words, limit + 1).filter(
          (r) => r.id !== id,
        );
  const more = events.length + exactEvent.length > limit || runs.length + exactRun.length > limit;
  return {
    q,
    words,
    events: [...exactEvent.map((e) => ({ ...e, exact: true })), ...events.map((e) => ({ ...e, exact: false }))]
      .slice(0, limit)
      .map((e) => ({
        id: e.id,
        type: e.type,
        source: e.source,
        acceptedAt: e.accepted_at,
        exact: e.exact,
        snippet: parts(e.snip),
      })),
    runs: [...exactRun.map((r) => ({ ...r, exact: true })), ...runs.map((r) => ({ ...r, exact: false }))]
      .slice(0, limit)
      .map((r) => ({
        id: r.id,
        eventId: r.event_id,
        flowName: r.flow_name,
        stepName: r.step_name,
        status: r.status,
        resultStatus: r.result_status,
        createdAt: r.created_at,
        exact: r.exact,
        snippet: parts(r.snip),
      })),
    more,
  };
}
