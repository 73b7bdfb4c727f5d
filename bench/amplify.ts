/**
 * Makes a big read model from a smaller one the projector built: `copies` more copies of
 * every event, run, attempt and match, each with new ids (`<id>~<k>`), sequences moved
 * up by k x 10^8 and times moved k x 400 days on, so lists and filters see the same
 * spread at `copies + 1` times the size. Building 1,000,000 runs from the stream would
 * mean publishing and projecting about 5 million messages (5 GB): too long for a bench row.
 */
import { Database } from "bun:sqlite";

const TABLES = ["events", "runs", "attempts", "matches"] as const;
const IDS = new Set(["id", "event_id", "run_id", "parent_run_id"]);

/** Adds the copies in one transaction; returns how long it took (ms). */
export function amplifyReadModel(path: string, copies: number): number {
  const started = performance.now();
  const db = new Database(path);
  try {
    db.exec("PRAGMA synchronous = OFF");
    db.transaction(() => {
      for (const table of TABLES) {
        const columns = db
          .query<{ name: string }, []>(`PRAGMA table_info(${table})`)
          .all()
          .map((c) => c.name);
        for (let k = 1; k <= copies; k++) {
          const values = columns.map((c) => {
            if (IDS.has(c)) return `CASE WHEN ${c} IS NULL THEN NULL ELSE ${c} || '~${k}' END`;
            if (c === "seq") return `${c} + ${k * 100_000_000}`;
            if (c.endsWith("_at"))
              return `CASE WHEN ${c} IS NULL THEN NULL ELSE strftime('%Y-%m-%dT%H:%M:%fZ', ${c}, '+${k * 400} days') END`;
            return c;
          });
          db.exec(
            `INSERT INTO ${table} (${columns.join(", ")}) SELECT ${values.join(", ")} FROM ${table} WHERE ${["id", "run_id", "event_id"].find((c) => columns.includes(c))} NOT LIKE '%~%'`,
          );
        }
      }
    })();
  } finally {
    db.close();
  }
  return performance.now() - started;
}
