import { type Kysely, sql } from "kysely";

/**
 * Tombstones: the ids of events that retention or a purge deleted (a 16-byte hash each),
 * with the sequence they were accepted at and the day (since 1970) they were deleted, so
 * a re-posted id is still a duplicate; by an index on that day the oldest are dropped
 * past their horizon.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("tombstones")
    .addColumn("id_hash", "blob", (c) => c.primaryKey())
    .addColumn("seq", "integer", (c) => c.notNull())
    .addColumn("deleted_day", "integer", (c) => c.notNull())
    .modifyEnd(sql`without rowid`)
    .execute();
  await db.schema.createIndex("tombstones_deleted").on("tombstones").column("deleted_day").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("tombstones").execute();
}
