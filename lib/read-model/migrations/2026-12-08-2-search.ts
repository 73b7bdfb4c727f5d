import { type Kysely, sql } from "kysely";

/**
 * Search (GET /search): an FTS5 index over each event's id, type, source and payload and
 * each run's id, flow, step, FLOW_RESULT and error. `search_docs` gives every indexed row
 * a stable number (an INTEGER PRIMARY KEY, which VACUUM keeps; the tables' own rowids it
 * may renumber), the FTS row's rowid. Triggers keep the index in step with every write
 * to events and runs, whoever makes it (the projector's upserts, a purge, a rebuild from
 * the stream), so a rebuild indexes exactly what it writes; an upsert that leaves the
 * indexed text as it was costs no FTS work (the WHEN clauses).
 */
const EVENT_TEXT = (row: string) =>
  `${row}.id || ' ' || ${row}.type || ' ' || coalesce(${row}.source, '') || ' ' || ${row}.payload_json`;
const RUN_TEXT = (row: string) =>
  `${row}.id || ' ' || ${row}.flow_name || ' ' || ${row}.step_name || ' ' || coalesce(${row}.result_json, '') || ' ' || coalesce(${row}.error, '')`;
const DOC = (kind: string, row: string) => `(select doc from search_docs where kind = '${kind}' and ref = ${row}.id)`;

function triggers(kind: string, table: string, text: (row: string) => string, changed: string): string[] {
  return [
    `create trigger ${table}_search_insert after insert on ${table} begin
       insert into search_docs (kind, ref) values ('${kind}', new.id);
       insert into search_text (rowid, body) values (${DOC(kind, "new")}, ${text("new")});
     end`,
    `create trigger ${table}_search_update after update on ${table} when ${changed} begin
       delete from search_text where rowid = ${DOC(kind, "old")};
       insert into search_text (rowid, body) values (${DOC(kind, "new")}, ${text("new")});
     end`,
    `create trigger ${table}_search_delete after delete on ${table} begin
       delete from search_text where rowid = ${DOC(kind, "old")};
       delete from search_docs where kind = '${kind}' and ref = old.id;
     end`,
  ];
}

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create table search_docs (doc integer primary key, kind text not null, ref text not null, unique (kind, ref))`.execute(
    db,
  );
  // unicode61 splits ids at '-' and '/': "run-4c22…" is found by its parts, and by its whole id through the key lookup beside the index.
  await sql`create virtual table search_text using fts5 (body, tokenize = 'unicode61 remove_diacritics 2')`.execute(db);
  const statements = [
    ...triggers(
      "event",
      "events",
      EVENT_TEXT,
      "old.type is not new.type or old.source is not new.source or old.payload_json is not new.payload_json",
    ),
    ...triggers("run", "runs", RUN_TEXT, "old.result_json is not new.result_json or old.error is not new.error"),
    "insert into search_docs (kind, ref) select 'event', id from events",
    `insert into search_text (rowid, body) select d.doc, ${EVENT_TEXT("e")} from events e join search_docs d on d.kind = 'event' and d.ref = e.id`,
    "insert into search_docs (kind, ref) select 'run', id from runs",
    `insert into search_text (rowid, body) select d.doc, ${RUN_TEXT("r")} from runs r join search_docs d on d.kind = 'run' and d.ref = r.id`,
  ];
  for (const statement of statements) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ["events", "runs"])
    for (const op of ["insert", "update", "delete"])
      await sql.raw(`drop trigger if exists ${table}_search_${op}`).execute(db);
  await sql`drop table if exists search_text`.execute(db);
  await sql`drop table if exists search_docs`.execute(db);
}
