import { type Kysely, sql } from "kysely";

/**
 * Search indexed behind the projector (services/projector/search-indexer.ts), not inside
 * its writes: the FTS5 work of the insert and update triggers of 2026-12-08-2-search cost
 * the live projector a third to a half of its apply rate. A write now only numbers a new
 * row (`search_docs`, in the order rows are first written, so a rebuild numbers them the
 * same) and marks it `dirty` when its text is new or changed; the indexer writes the text
 * of dirty rows into `search_text` in bounded batches and clears the mark. A delete still
 * takes the row out of the index at once (the delete triggers stay): a deleted row is
 * never found.
 *
 * `search_terms` lists every word the index has taken in (the indexer adds a batch's): what
 * a search's last word stands for as a prefix, looked up by range instead of FTS5's prefix
 * query, which merges the whole index's entries of every word it matches (about a second
 * for a common word at a million runs). Words of deleted rows stay (they find nothing);
 * words of 8 characters or more with a digit (ids, hashes, numbers) are not listed (each
 * run brings new ones): such a word is found whole, not by a prefix.
 */
const TEXT_CHANGED = {
  events: "old.type is not new.type or old.source is not new.source or old.payload_json is not new.payload_json",
  runs: "old.result_json is not new.result_json or old.error is not new.error",
};
const KIND = { events: "event", runs: "run" } as const;

export async function up(db: Kysely<any>): Promise<void> {
  // One FTS5 table a kind: a word common in runs costs a search of events nothing.
  for (const table of ["events", "runs"] as const) {
    const kind = KIND[table];
    await sql.raw(`drop trigger ${table}_search_delete`).execute(db);
    await sql
      .raw(`create virtual table search_${kind}_text using fts5 (body, tokenize = 'unicode61 remove_diacritics 2')`)
      .execute(db);
    await sql
      .raw(
        `insert into search_${kind}_text (rowid, body) select t.rowid, t.body from search_text t join search_docs d on d.doc = t.rowid where d.kind = '${kind}'`,
      )
      .execute(db);
    await sql
      .raw(
        `create trigger ${table}_search_delete after delete on ${table} begin
           delete from search_${kind}_text where rowid = (select doc from search_docs where kind = '${kind}' and ref = old.id);
           delete from search_docs where kind = '${kind}' and ref = old.id;
         end`,
      )
      .execute(db);
  }
  await sql`alter table search_docs add column dirty integer not null default 0`.execute(db);
  await sql`create index search_docs_dirty on search_docs (doc) where dirty = 1`.execute(db);
  await sql`create table search_terms (term text primary key) without rowid`.execute(db);
  await sql`create virtual table temp.search_words using fts5vocab (main, search_text, 'row')`.execute(db);
  await sql`insert into search_terms (term) select term from temp.search_words where length(term) < 8 or term not glob '*[0-9]*'`.execute(
    db,
  );
  await sql`drop table temp.search_words`.execute(db);
  await sql`drop table search_text`.execute(db);
  for (const table of ["events", "runs"] as const) {
    const kind = KIND[table];
    for (const op of ["insert", "update"]) await sql.raw(`drop trigger ${table}_search_${op}`).execute(db);
    await sql
      .raw(
        `create trigger ${table}_search_insert after insert on ${table} begin
           insert into search_docs (kind, ref, dirty) values ('${kind}', new.id, 1);
         end`,
      )
      .execute(db);
    await sql
      .raw(
        `create trigger ${table}_search_update after update on ${table} when ${TEXT_CHANGED[table]} begin
           update search_docs set dirty = 1 where kind = '${kind}' and ref = new.id;
         end`,
      )
      .execute(db);
  }
}

/** Back to the triggers that index as they write: rebuild the read model (flow projector rebuild) after it. */
export async function down(db: Kysely<any>): Promise<void> {
  await sql`create virtual table search_text using fts5 (body, tokenize = 'unicode61 remove_diacritics 2')`.execute(db);
  for (const kind of ["event", "run"]) await sql.raw(`drop table if exists search_${kind}_text`).execute(db);
  for (const table of ["events", "runs"])
    for (const op of ["insert", "update"]) await sql.raw(`drop trigger if exists ${table}_search_${op}`).execute(db);
  await sql`drop index if exists search_docs_dirty`.execute(db);
  await sql`drop table if exists search_terms`.execute(db);
  await sql`alter table search_docs drop column dirty`.execute(db);
}
