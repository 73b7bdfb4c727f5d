import type { Kysely } from "kysely";

/**
 * Schedules, pause and debounce: why a queued run waits (held by a pause, or debounced),
 * which event superseded a debounced run, each flow's and step's pause state, and every
 * schedule tick a scheduler handled (emitted or skipped, and why).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("runs").addColumn("held_reason", "text").execute();
  await db.schema.alterTable("runs").addColumn("superseded_by", "text").execute();
  await db.schema
    .createTable("flow_controls")
    .addColumn("flow", "text", (c) => c.notNull())
    .addColumn("step", "text", (c) => c.notNull())
    .addColumn("paused", "integer", (c) => c.notNull())
    .addColumn("at", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("seq", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("flow_controls_pk", ["flow", "step"])
    .execute();
  await db.schema
    .createTable("schedule_ticks")
    .addColumn("flow", "text", (c) => c.notNull())
    .addColumn("schedule", "text", (c) => c.notNull())
    .addColumn("tick", "text", (c) => c.notNull())
    .addColumn("outcome", "text", (c) => c.notNull())
    .addColumn("event_id", "text", (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("at", "text", (c) => c.notNull())
    .addColumn("seq", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("schedule_ticks_pk", ["flow", "schedule", "tick"])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("schedule_ticks").execute();
  await db.schema.dropTable("flow_controls").execute();
  await db.schema.alterTable("runs").dropColumn("superseded_by").execute();
  await db.schema.alterTable("runs").dropColumn("held_reason").execute();
}
