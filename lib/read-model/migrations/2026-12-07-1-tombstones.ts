import { type Kysely, sql } from "kysely";

/**
 * Tombstones: the ids of events that retention or a purge deleted (a 16-byte hash each),
 * with the sequence they were accepted at, so a re-posted id is still a duplicate. And an
 * index on the age of a tombstone, by which the oldest are dropped past their horizon.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("tombstones")
    .addColumn("id_hash", "blob", (c) => c.primaryKey())
    .addColumn("seq", "integer", (c) => c.notNull())
    .addColumn("deleted_at", "text", (c) => c.notNull())
    .modifyEnd(sql`without rowid`)
    .execute();
  await db.schema.createIndex("tombstones_deleted").on("tombstones").column("deleted_at").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("tombstones").execute();
}
