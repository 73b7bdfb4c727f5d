import type { Kysely } from "kysely";

/** Cancel requests, retries, chained events and systemd units. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("runs").addColumn("cancel_requested_at", "text").execute();
  await db.schema.alterTable("runs").addColumn("retry_at", "text").execute();
  await db.schema.alterTable("runs").addColumn("next_json", "text").execute();
  await db.schema.alterTable("runs").addColumn("unit", "text").execute();
  await db.schema.alterTable("attempts").addColumn("unit", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const column of ["cancel_requested_at", "retry_at", "next_json", "unit"])
    await db.schema.alterTable("runs").dropColumn(column).execute();
  await db.schema.alterTable("attempts").dropColumn("unit").execute();
}
