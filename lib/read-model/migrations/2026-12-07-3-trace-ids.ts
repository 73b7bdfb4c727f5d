import type { Kysely } from "kysely";

/**
 * The OpenTelemetry trace id of each event and run (docs/tracing.md), read by the
 * projector from the `traceparent` header of the message that made the row; null when
 * tracing was off. The dashboard links a run or an event to its trace by it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("events").addColumn("trace_id", "text").execute();
  await db.schema.alterTable("runs").addColumn("trace_id", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("runs").dropColumn("trace_id").execute();
  await db.schema.alterTable("events").dropColumn("trace_id").execute();
}
