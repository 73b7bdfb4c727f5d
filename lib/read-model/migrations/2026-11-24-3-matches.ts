import type { Kysely } from "kysely";

/**
 * One row per match decision (event, generation) with every step's verdict as JSON,
 * instead of a row per step: most steps of most events differ by type, and the rows cost
 * the projector more than anything else it wrote. Plus an index for listing one flow's
 * runs newest first.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("matches")
    .addColumn("event_id", "text", (c) => c.notNull())
    .addColumn("generation", "integer", (c) => c.notNull())
    .addColumn("matched_at", "text", (c) => c.notNull())
    .addColumn("decisions_json", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("matches_pk", ["event_id", "generation"])
    .execute();
  await db.schema.dropTable("decisions").execute();
  await db.schema.createIndex("runs_flow_created").on("runs").columns(["flow_name", "created_at", "id"]).execute();
  // Superseded by runs_flow_created (a step filter rides along); one index less to keep up.
  await db.schema.dropIndex("runs_flow_step").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("runs_flow_step").on("runs").columns(["flow_name", "step_name", "created_at"]).execute();
  await db.schema.dropIndex("runs_flow_created").execute();
  await db.schema.dropTable("matches").execute();
}
