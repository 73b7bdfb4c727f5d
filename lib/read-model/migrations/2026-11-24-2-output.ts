import type { Kysely } from "kysely";

/** Live output chunks per attempt, and whether retention cut a run's output. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("output")
    .addColumn("run_id", "text", (c) => c.notNull())
    .addColumn("attempt", "integer", (c) => c.notNull())
    .addColumn("chunk", "integer", (c) => c.notNull())
    .addColumn("stream", "text", (c) => c.notNull())
    .addColumn("text", "text", (c) => c.notNull())
    .addColumn("at", "text", (c) => c.notNull())
    .addColumn("seq", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("output_pk", ["run_id", "attempt", "chunk"])
    .execute();
  await db.schema
    .alterTable("runs")
    .addColumn("output_cut", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .alterTable("runs")
    .addColumn("output_bytes", "integer", (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex("runs_flow_step").on("runs").columns(["flow_name", "step_name", "created_at"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("runs_flow_step").execute();
  await db.schema.alterTable("runs").dropColumn("output_bytes").execute();
  await db.schema.alterTable("runs").dropColumn("output_cut").execute();
  await db.schema.dropTable("output").execute();
}
