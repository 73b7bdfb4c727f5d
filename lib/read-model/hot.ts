import type { Database as Sqlite } from "bun:sqlite";
import type { ReadModelDatabase } from "./tables.ts";

/**
 * The hot paths' reads, straight on the read model's bun:sqlite handle: Kysely builds and
 * compiles a query on every call, which cost more than SQLite's work on the projector's
 * and the `?wait=` answer's small reads (docs/performance.md "Where a run's CPU goes").
 * Each SQL text is fixed, so bun:sqlite's `query` keeps its prepared statement; a list of
 * keys goes in as one JSON array (`json_each`), so a list of any length is one statement.
 * Call on the handle that holds the transaction when inside one (it sees its writes).
 */

type Table = keyof ReadModelDatabase;

/** Every row of `table` whose `column` is one of `keys` (unordered unless `orderBy`). Table and column names are ours, never input. */
export function rowsWhereIn<T extends Table, C extends keyof ReadModelDatabase[T] & string>(
  sqlite: Sqlite,
  table: T,
  column: C,
  keys: readonly ReadModelDatabase[T][C][],
  options: {
    select?: readonly (keyof ReadModelDatabase[T] & string)[];
    orderBy?: keyof ReadModelDatabase[T] & string;
  } = {},
): ReadModelDatabase[T][] {
  if (keys.length === 0) return [];
  const columns = options.select ? options.select.join(", ") : "*";
  const order = options.orderBy ? ` ORDER BY ${options.orderBy}` : "";
  const sql = `SELECT ${columns} FROM ${table} WHERE ${column} IN (SELECT value FROM json_each(?))${order}`;
  return sqlite.query<ReadModelDatabase[T], [string]>(sql).all(JSON.stringify(keys));
}
