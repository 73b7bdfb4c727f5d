import type { Kysely } from "kysely";

/**
 * The dashboard's overview (GET /overview): a covering index for the runs created in a
 * window (counts by flow and status, durations for percentiles, read from the index
 * alone), and one for the runs queued and running now (by queue, held, and host).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex("runs_overview")
    .on("runs")
    .columns(["created_at", "flow_name", "status", "result_status", "duration_ms"])
    .execute();
  await db.schema
    .createIndex("runs_now")
    .on("runs")
    .columns(["status", "queue", "host", "held_reason", "created_at"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("runs_now").execute();
  await db.schema.dropIndex("runs_overview").execute();
}
