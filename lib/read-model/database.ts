import { Database as Sqlite, type Statement } from "bun:sqlite";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { type Dialect, Kysely, type Migration, Migrator } from "kysely";
import { BunSqliteDialect } from "kysely-bun-sqlite";
import { checkIntegrity, damagedReadModel, isDamage } from "./integrity.ts";
import * as initial from "./migrations/2026-11-23-initial.ts";
import * as durableExecution from "./migrations/2026-11-24-1-durable-execution.ts";
import * as output from "./migrations/2026-11-24-2-output.ts";
import * as matches from "./migrations/2026-11-24-3-matches.ts";
import * as schedulesPauseDebounce from "./migrations/2026-12-02-1-schedules-pause-debounce.ts";
import * as tombstones from "./migrations/2026-12-07-1-tombstones.ts";
import * as audit from "./migrations/2026-12-07-2-audit.ts";
import * as traceIds from "./migrations/2026-12-07-3-trace-ids.ts";
import * as overview from "./migrations/2026-12-08-1-overview.ts";
import * as search from "./migrations/2026-12-08-2-search.ts";
import * as approvals from "./migrations/2026-12-08-3-approvals.ts";
import * as rollup from "./migrations/2026-12-08-4-rollup.ts";
import * as searchBehind from "./migrations/2026-12-08-5-search-behind.ts";
import type { ReadModelDatabase } from "./tables.ts";

export type * from "./tables.ts";

export type ReadModel = Kysely<ReadModelDatabase>;

/** The projector_state row that holds the last stream sequence the read model applied. */
export const CHECKPOINT = "checkpoint";

/** The last stream sequence the read model has applied (0 for a new one). */
export async function readCheckpoint(db: Kysely<ReadModelDatabase>): Promise<number> {
  // A read model's own handle (not a transaction's): the kept statement, as the hot paths read it.
  const sqlite = raw.get(db);
  if (sqlite) return checkpointOf(sqlite);
  const row = await db.selectFrom("projector_state").select("seq").where("name", "=", CHECKPOINT).executeTakeFirst();
  return row?.seq ?? 0;
}

/** The checkpoint read straight on a bun:sqlite handle (the one that holds the transaction, inside one): a kept statement, no query building. */
export function checkpointOf(sqlite: Sqlite): number {
  return (
    sqlite.query<{ seq: number }, [string]>("SELECT seq FROM projector_state WHERE name = ?").get(CHECKPOINT)?.seq ?? 0
  );
}

/** What one committed projector batch changed: its last sequence, and the events whose rows (or runs) it wrote. */
export type AppliedChange = { seq: number; eventIds: ReadonlySet<string> };
/** Told of every committed batch (an in-process ingress waits on it instead of polling). */
export type AppliedListener = (change: AppliedChange) => void;

const raw = new WeakMap<ReadModel, Sqlite>();

/**
 * The stream sequence an event was accepted at, or undefined for an unknown id; a deleted
 * event's tombstone still answers it (within the tombstone horizon). Asked on every POST
 * /events, so it skips the query builder: compiled statements, kept.
 */
export function acceptedSeq(db: ReadModel, eventId: string): number | undefined {
  let statement = seqStatements.get(db);
  if (!statement) {
    // One statement, so one read transaction (each costs SQLite its WAL checks): the row, else the tombstone.
    statement = rawSqlite(db).prepare(
      "SELECT coalesce((SELECT seq FROM events WHERE id = ?1), (SELECT seq FROM tombstones WHERE id_hash = ?2)) AS seq",
    );
    seqStatements.set(db, statement);
  }
  return statement.get(eventId, tombstoneKey(eventId))?.seq ?? undefined;
}
const seqStatements = new WeakMap<ReadModel, Statement<{ seq: number | null }, [string, Uint8Array]>>();

/** Whether retention or a purge deleted this event (its tombstone is there, its row is not). */
export function isTombstoned(db: ReadModel, eventId: string): boolean {
  return rawSqlite(db).query("SELECT 1 FROM tombstones WHERE id_hash = ?").get(tombstoneKey(eventId)) !== null;
}

/** A deleted event id's key in `tombstones`: the first 16 bytes of its SHA-256 (ids can be long; a collision is 2^-64 likely at 2^32 ids). */
export function tombstoneKey(eventId: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(eventId).digest().subarray(0, 16));
}

/** The bun:sqlite handle under a read model, for the few hot paths that skip the query builder. */
export function rawSqlite(db: ReadModel): Sqlite {
  const sqlite = raw.get(db);
  if (!sqlite) throw new Error("not a read model opened by openReadModel");
  return sqlite;
}

// Applied in the order of their names (Kysely sorts them).
const migrations: Record<string, Migration> = {
  "2026-11-23-initial": initial,
  "2026-11-24-1-durable-execution": durableExecution,
  "2026-11-24-2-output": output,
  "2026-11-24-3-matches": matches,
  "2026-12-02-1-schedules-pause-debounce": schedulesPauseDebounce,
  "2026-12-07-1-tombstones": tombstones,
  "2026-12-07-2-audit": audit,
  "2026-12-08-1-overview": overview,
  "2026-12-07-3-trace-ids": traceIds,
  "2026-12-08-2-search": search,
  "2026-12-08-3-approvals": approvals,
  "2026-12-08-4-rollup": rollup,
  "2026-12-08-5-search-behind": searchBehind,
};

/**
 * kysely-bun-sqlite prepares every query anew (`prepare`); bun:sqlite's `query` keeps each
 * compiled statement for the next call with the same SQL. Preparing costs more than
 * running most of our queries, so the dialect gets a database whose `prepare` is `query`.
 */
function withStatementCache(sqlite: Sqlite): Sqlite {
  return new Proxy(sqlite, {
    get(target, property) {
      if (property === "prepare") return (sql: string) => target.query(sql);
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * The dialect over our connection. SQLite rolls a transaction back by itself when a write
 * fails for a full disk or an I/O error; Kysely's ROLLBACK after it then failed with
 * "cannot rollback - no transaction is active" and that error replaced the one that said
 * why. A rollback with no transaction open is skipped, so the cause is what is thrown.
 */
function readModelDialect(sqlite: Sqlite): Dialect {
  const dialect = new BunSqliteDialect({ database: withStatementCache(sqlite) });
  const createDriver = dialect.createDriver.bind(dialect);
  dialect.createDriver = () => {
    const driver = createDriver();
    const rollback = driver.rollbackTransaction.bind(driver);
    driver.rollbackTransaction = async (connection) => {
      if (sqlite.inTransaction) await rollback(connection);
    };
    return driver;
  };
  return dialect;
}

const PAGE_SIZE = 8192;

/**
 * Opens (and creates) the SQLite read model in WAL mode and brings its schema up to
 * date. Readers in other processes see the projector's commits as they land. With
 * `scratch`, a file only its builder uses (see below); `cacheKiB`: this connection's page
 * cache (SQLite's default is 2,000 KiB).
 */
export async function openReadModel(
  path: string,
  options: { scratch?: boolean; cacheKiB?: number } = {},
): Promise<ReadModel> {
  // A file that was there before is checked before use: a damaged one is refused at start
  // with its path and the fix, never found out later as a 500 (a scratch file is new).
  const existing =
    path !== ":memory:" && !options.scratch && (statSync(path, { throwIfNoEntry: false })?.size ?? 0) > 0;
  if (path !== ":memory:") {
    mkdirSync(dirname(path), { recursive: true });
    // Its owner's alone: it holds every payload and result. SQLite gives the -wal and -shm files the database's mode.
    if (!existsSync(path)) closeSync(openSync(path, "a", 0o600));
  }
  const sqlite = new Sqlite(path, { create: true });
  try {
    configure(sqlite, options);
    if (existing) checkIntegrity(sqlite, path);
  } catch (error) {
    sqlite.close();
    throw isDamage(error) ? damagedReadModel(path, String((error as Error).message)) : error;
  }
  const db = new Kysely<ReadModelDatabase>({ dialect: readModelDialect(sqlite) });
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  // Kysely's SQLite migration lock is per connection: two processes (projector and ingress on
  // one host) can migrate a new file at once. The loser fails; by its retry the work is done.
  let first: unknown;
  for (let tries = 1; ; tries++) {
    const { error } = await migrator.migrateToLatest();
    if (!error) {
      raw.set(db, sqlite);
      return db;
    }
    first ??= error;
    if (tries >= 10 || !/locked|busy|already exists|duplicate column/i.test(String(error))) {
      await db.destroy();
      if (isDamage(first)) throw damagedReadModel(path, String(first));
      throw new Error(`read model ${path}: migration failed: ${String(first)}`);
    }
    await Bun.sleep(50 * tries);
  }
}

/** The connection's settings (see openReadModel). */
function configure(sqlite: Sqlite, options: { scratch?: boolean; cacheKiB?: number }): void {
  // The busy timeout first: switching to WAL needs a lock another process may hold for a moment.
  sqlite.exec("PRAGMA busy_timeout = 5000");
  // 8 KiB pages for a new file (an existing one keeps its own): a projector applying 100k
  // messages took 7% less time than with 4 KiB, a rebuild 6% (16 KiB: no better; docs/performance.md).
  sqlite.exec(`PRAGMA page_size = ${PAGE_SIZE}`);
  // Pages that a purge frees go back to the file system a few at a time (incrementalVacuum),
  // with no stop of the API. Only a new file takes it; an older one keeps `none` until a
  // one-time `flow projector vacuum --full` (docs/operations.md).
  sqlite.exec("PRAGMA auto_vacuum = INCREMENTAL");
  if (options.scratch) {
    // A file being built that nothing else reads and that is thrown away if the build fails
    // (a rebuild): pages go straight to the file, unsynced; the journal that lets a batch
    // roll back stays in memory. Opened again without `scratch`, it is a WAL file like any.
    sqlite.exec("PRAGMA journal_mode = MEMORY");
    sqlite.exec("PRAGMA synchronous = OFF");
  } else {
    sqlite.exec("PRAGMA journal_mode = WAL");
    sqlite.exec("PRAGMA synchronous = NORMAL");
    // Fewer, larger checkpoints: each one syncs the file, and the projector writes in bursts.
    sqlite.exec("PRAGMA wal_autocheckpoint = 8000");
  }
  if (options.cacheKiB) sqlite.exec(`PRAGMA cache_size = -${Math.floor(options.cacheKiB)}`);
}

/** Pages one step of incrementalVacuum gives back (8 MiB of 8 KiB pages): a short write each, so the API never waits long. */
const VACUUM_STEP_PAGES = 1024;

/**
 * Gives the read model's free pages (what purges deleted) back to the file system, a step
 * at a time between other writes, then checkpoints the WAL so the file shrinks. Works on a
 * file in auto_vacuum=INCREMENTAL mode (every file made since 2026-12-07); on an older one
 * it does nothing and says so (`flow projector vacuum --full` switches it, once).
 */
export async function incrementalVacuum(db: ReadModel): Promise<{ incremental: boolean; freedPages: number }> {
  const sqlite = rawSqlite(db);
  if (sqlite.query<{ auto_vacuum: number }, []>("PRAGMA auto_vacuum").get()?.auto_vacuum !== 2)
    return { incremental: false, freedPages: 0 };
  let freedPages = 0;
  // Bounded: each step frees up to a step's worth, and the free list only shrinks meanwhile (or a purge adds to it).
  for (let step = 0; step < 100_000; step++) {
    const free = sqlite.query<{ freelist_count: number }, []>("PRAGMA freelist_count").get()?.freelist_count ?? 0;
    if (free === 0) break;
    sqlite.exec(`PRAGMA incremental_vacuum(${VACUUM_STEP_PAGES})`);
    freedPages += Math.min(free, VACUUM_STEP_PAGES);
    await Bun.sleep(0);
  }
  if (!sqlite.inTransaction) sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  return { incremental: true, freedPages };
}

/** Rewrites the whole file (VACUUM) in auto_vacuum=INCREMENTAL mode: once, for a file made before incremental vacuum; every writer waits meanwhile. */
export function fullVacuum(db: ReadModel): void {
  const sqlite = rawSqlite(db);
  sqlite.exec("PRAGMA auto_vacuum = INCREMENTAL");
  sqlite.exec("VACUUM");
  sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
}
