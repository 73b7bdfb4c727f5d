import type { Database as Sqlite } from "bun:sqlite";
import { HintError } from "../hint.ts";

/** SQLite's own words for a file that is not a sound database (result codes and messages). */
const DAMAGE = /SQLITE_(CORRUPT|NOTADB)|malformed|not a database/i;

/** True when `error` is SQLite saying the file is damaged (not busy, not a bug of ours). */
export function isDamage(error: unknown): boolean {
  return DAMAGE.test(`${(error as { code?: string }).code ?? ""} ${String(error)}`);
}

/**
 * The refusal for a damaged read model: it names the file and the two ways back, both
 * from the stream (the read model holds nothing the stream does not).
 */
export function damagedReadModel(path: string, detail: string): HintError {
  return new HintError(
    `read model ${path} is damaged (${detail}): stop this host's projector and ingress, then rebuild it from the stream with \`flow projector rebuild\` (or remove ${path}, ${path}-wal and ${path}-shm and let the projector replay the stream)`,
  );
}

/**
 * Checks the read model's structure when it is opened: PRAGMA quick_check (every page
 * and b-tree, not the indexes against their tables: a full integrity_check took
 * several times longer, docs/operations.md). Up to 3 problems are named.
 */
export function checkIntegrity(sqlite: Sqlite, path: string): void {
  const rows = sqlite.query<{ quick_check: string }, []>("PRAGMA quick_check(3)").all();
  const problems = rows.map((row) => row.quick_check).filter((row) => row !== "ok");
  if (problems.length > 0) throw damagedReadModel(path, problems.join("; ").replace(/\s*\n\s*/g, " "));
}
