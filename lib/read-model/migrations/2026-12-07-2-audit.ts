import type { Kysely } from "kysely";

/**
 * The audit log: one row per operator action (an `operator.acted` message), keyed by
 * the action's id so a message applied twice is one row; listed newest first by `seq`
 * (GET /audit), filtered by action, actor, time and target.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("audit")
    .addColumn("action_id", "text", (c) => c.primaryKey())
    .addColumn("seq", "integer", (c) => c.notNull())
    .addColumn("at", "text", (c) => c.notNull())
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("run_id", "text")
    .addColumn("event_id", "text")
    .addColumn("flow", "text")
    .addColumn("step", "text")
    .addColumn("summary", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("action_seq", "integer")
    .execute();
  await db.schema.createIndex("audit_seq").on("audit").column("seq").execute();
  await db.schema.createIndex("audit_actor").on("audit").columns(["actor", "seq"]).execute();
  await db.schema.createIndex("audit_action").on("audit").columns(["action", "seq"]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("audit").execute();
}
