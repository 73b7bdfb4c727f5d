import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("events")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("source", "text")
    .addColumn("occurred_at", "text")
    .addColumn("received_at", "text", (c) => c.notNull())
    .addColumn("accepted_at", "text", (c) => c.notNull())
    .addColumn("payload_json", "text", (c) => c.notNull())
    .addColumn("seq", "integer", (c) => c.notNull())
    .addColumn("generation", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("matched_generation", "integer")
    .addColumn("matched_at", "text")
    .addColumn("matched_count", "integer")
    .addColumn("chain_depth", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("parent_run_id", "text")
    .execute();
  await db.schema.createIndex("events_type_seq").on("events").columns(["type", "seq"]).execute();
  await db.schema.createIndex("events_seq").on("events").column("seq").execute();

  await db.schema
    .createTable("decisions")
    .addColumn("event_id", "text", (c) => c.notNull())
    .addColumn("generation", "integer", (c) => c.notNull())
    .addColumn("flow_name", "text", (c) => c.notNull())
    .addColumn("flow_version", "integer", (c) => c.notNull())
    .addColumn("step_name", "text", (c) => c.notNull())
    .addColumn("runner", "text", (c) => c.notNull())
    .addColumn("matched", "integer", (c) => c.notNull())
    .addColumn("run_id", "text")
    .addColumn("queue", "text")
    .addColumn("reasons_json", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("decisions_pk", ["event_id", "generation", "flow_name", "step_name"])
    .execute();

  await db.schema
    .createTable("runs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("event_id", "text", (c) => c.notNull())
    .addColumn("generation", "integer", (c) => c.notNull())
    .addColumn("flow_name", "text", (c) => c.notNull())
    .addColumn("flow_version", "integer", (c) => c.notNull())
    .addColumn("step_name", "text", (c) => c.notNull())
    .addColumn("runner", "text", (c) => c.notNull())
    .addColumn("queue", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("attempt", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("host", "text")
    .addColumn("executor", "text")
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("started_at", "text")
    .addColumn("completed_at", "text")
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addColumn("exit_code", "integer")
    .addColumn("signal", "text")
    .addColumn("error", "text")
    .addColumn("result_json", "text")
    .addColumn("result_status", "text")
    .addColumn("stdout", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("stderr", "text", (c) => c.notNull().defaultTo(""))
    .addColumn("stdout_truncated", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("stderr_truncated", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("duration_ms", "real")
    .addColumn("seq", "integer", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("runs_event").on("runs").columns(["event_id", "created_at"]).execute();
  await db.schema.createIndex("runs_created").on("runs").columns(["created_at", "id"]).execute();
  await db.schema.createIndex("runs_status").on("runs").columns(["status", "created_at"]).execute();

  await db.schema
    .createTable("attempts")
    .addColumn("run_id", "text", (c) => c.notNull())
    .addColumn("attempt", "integer", (c) => c.notNull())
    .addColumn("host", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("started_at", "text", (c) => c.notNull())
    .addColumn("completed_at", "text")
    .addColumn("exit_code", "integer")
    .addColumn("signal", "text")
    .addColumn("error", "text")
    .addColumn("result_status", "text")
    .addColumn("duration_ms", "real")
    .addPrimaryKeyConstraint("attempts_pk", ["run_id", "attempt"])
    .execute();

  await db.schema
    .createTable("projector_state")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("seq", "integer", (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ["projector_state", "attempts", "runs", "decisions", "events"])
    await db.schema.dropTable(table).execute();
}
