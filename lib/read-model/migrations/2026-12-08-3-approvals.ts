import type { Kysely } from "kysely";

/**
 * A run's approval gate (docs/approvals.md): the request (gate, approvers, expiry, reason)
 * and its decision, as JSON on the run's row; `awaiting_approval` and `rejected` are
 * run statuses (plain text, no constraint to change).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("runs").addColumn("approval_json", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("runs").dropColumn("approval_json").execute();
}
