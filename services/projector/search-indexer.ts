import type { Database as Sqlite } from "bun:sqlite";

/**
 * The search indexer: writes the text of the events and runs whose rows are new or whose
 * text changed (`search_docs.dirty`, set by the triggers of migration
 * 2026-12-08-5-search-behind) into the FTS5 index, behind the projector rather than inside
 * its transactions (indexers.ts runs it). The index is the same whenever it runs: each
 * row's text as it is now, under the number its first write gave it.
 */

const TEXT = {
  event: "t.id || ' ' || t.type || ' ' || coalesce(t.source, '') || ' ' || t.payload_json",
  run: "t.id || ' ' || t.flow_name || ' ' || t.step_name || ' ' || coalesce(t.result_json, '') || ' ' || coalesce(t.error, '')",
};
const TABLE = { event: "events", run: "runs" };
/** The scratch table a batch's text is tokenized in, and its words (fts5vocab), made once per connection. */
const SCRATCH = `create virtual table if not exists temp.search_batch using fts5 (body, tokenize = 'unicode61 remove_diacritics 2', content = '', detail = none);
  create virtual table if not exists temp.search_batch_terms using fts5vocab (temp, search_batch, 'row');`;

/** Indexes the dirty rows numbered up to the `batch`-th one, in one transaction; returns how many it indexed. The connection must be in no transaction. */
export function indexSearchBatch(sqlite: Sqlite, batch: number): number {
  return sqlite
    .transaction(() => {
      const bound = sqlite
        .query<{ upto: number | null; n: number }, [number]>(
          "select max(doc) as upto, count(*) as n from (select doc from search_docs where dirty = 1 order by doc limit ?)",
        )
        .get(batch);
      if (!bound?.upto) return 0;
      const upto = bound.upto;
      // A row indexed before (its text changed) leaves the index first; a new one is not in it.
      // The batch's words also go into search_terms (through a scratch FTS5 table on this
      // connection, the same tokenizer): what a prefix stands for (services/ingress/search).
      sqlite.exec(SCRATCH);
      sqlite.query("insert into temp.search_batch (search_batch) values ('delete-all')").run();
      for (const kind of ["event", "run"] as const) {
        sqlite
          .query(
            `delete from search_${kind}_text where rowid in (select doc from search_docs where dirty = 1 and doc <= ? and kind = '${kind}')`,
          )
          .run(upto);
        for (const into of [`main.search_${kind}_text`, "temp.search_batch"])
          sqlite
            .query(
              `insert into ${into} (rowid, body) select d.doc, ${TEXT[kind]} from search_docs d join ${TABLE[kind]} t on t.id = d.ref where d.dirty = 1 and d.doc <= ? and d.kind = '${kind}'`,
            )
            .run(upto);
      }
      // Not words with a digit of 8 characters or more (ids, hashes, numbers, times): every run
      // brings new ones, and the list would grow without end under retention.
      sqlite
        .query(
          "insert or ignore into search_terms (term) select term from temp.search_batch_terms where length(term) < 8 or term not glob '*[0-9]*'",
        )
        .run();
      sqlite.query("update search_docs set dirty = 0 where dirty = 1 and doc <= ?").run(upto);
      return bound.n;
    })
    .immediate();
}

/** How many rows wait for the indexer. */
export function searchBacklog(sqlite: Sqlite): number {
  return sqlite.query<{ n: number }, []>("select count(*) as n from search_docs where dirty = 1").get()?.n ?? 0;
}
