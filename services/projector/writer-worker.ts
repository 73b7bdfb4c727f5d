/**
 * The read model's writer thread (services/projector/writer.ts threadWriter): opens the
 * read model on its own connection and applies the batches it is sent, one at a time, in
 * the order they came.
 */
import { openReadModel, type ReadModel, rawSqlite } from "../../lib/read-model/database.ts";
import { type Indexers, startIndexers } from "./indexers.ts";
import { type FromWriterThread, inlineWriter, type ToWriterThread, unpack, type Writer } from "./writer.ts";

declare const self: Worker;
let db: ReadModel | undefined;
let writer: Writer | undefined;
/** The search index follows this thread's writes (a rebuild's scratch file is indexed once at its end). */
let indexer: Indexers | undefined;
let queue = Promise.resolve();

async function handle(message: ToWriterThread): Promise<FromWriterThread> {
  switch (message.type) {
    case "open": {
      const { path, scratch, cacheKiB, outputRetentionBytes } = message.options;
      db = await openReadModel(path, { scratch, cacheKiB });
      writer = inlineWriter(db, outputRetentionBytes);
      if (!scratch) indexer = startIndexers(rawSqlite(db));
      return { id: message.id, ok: true };
    }
    case "commit":
      if (!writer) throw new Error("the writer thread was not opened");
      try {
        return { id: message.id, ok: true, value: await writer.commit(unpack(message.batch)) };
      } finally {
        indexer?.busy();
      }
    case "close":
      indexer?.stop();
      await db?.destroy();
      db = writer = undefined;
      return { id: message.id, ok: true };
  }
}

self.addEventListener("message", (event: MessageEvent<ToWriterThread>) => {
  const message = event.data;
  queue = queue.then(async () => {
    const answer = await handle(message).catch(
      (error: unknown): FromWriterThread => ({
        id: message.id,
        ok: false,
        error: error instanceof Error ? error.message : String(error),
      }),
    );
    self.postMessage(answer);
  });
});
