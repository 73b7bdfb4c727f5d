import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { closeSync, openSync, statSync, truncateSync, writeSync } from "node:fs";
import { join } from "node:path";
import { openReadModel } from "../lib/read-model/database.ts";
import { tempDir } from "./support/temp.ts";

const PAGE = 8192;

/** A read model with a few hundred pages of events, closed (its WAL folded back into the file). */
async function filledReadModel(): Promise<string> {
  const path = join(tempDir("read-model-damaged-"), "read-model.sqlite");
  await (await openReadModel(path)).destroy();
  const sqlite = new Database(path);
  const insert = sqlite.prepare(
    "INSERT INTO events (id, type, received_at, accepted_at, payload_json, seq, generation, chain_depth) VALUES (?, 't', 'now', 'now', ?, ?, 0, 0)",
  );
  sqlite.transaction(() => {
    for (let i = 0; i < 20_000; i++) insert.run(`event-${i}`, JSON.stringify({ i }), i + 1);
  })();
  sqlite.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite.close();
  return path;
}

/** Overwrites `bytes` bytes at `offset` with a pattern no SQLite structure has. */
function clobber(path: string, offset: number, bytes: number): void {
  const fd = openSync(path, "r+");
  writeSync(fd, Buffer.alloc(bytes, 0xa5), 0, bytes, offset);
  closeSync(fd);
}

async function refusal(path: string): Promise<string> {
  const error = await openReadModel(path).then(
    async (db) => {
      await db.destroy();
      return undefined;
    },
    (e: Error) => e,
  );
  expect(error).toBeInstanceOf(Error);
  return error!.message;
}

const says = (message: string, path: string) => {
  expect(message).toContain(path);
  expect(message).toContain("flow projector rebuild");
};

test("given a read model whose header was clobbered, when it is opened, then the refusal names the file and the rebuild", async () => {
  const path = await filledReadModel();
  clobber(path, 0, 100);
  says(await refusal(path), path);
});

test("given a truncated read model, when it is opened, then the refusal names the file and the rebuild", async () => {
  const path = await filledReadModel();
  truncateSync(path, Math.floor(statSync(path).size / 2 / PAGE) * PAGE + 1000);
  says(await refusal(path), path);
});

test("given a read model damaged mid-file (a page of the events table overwritten), when it is opened, then it is refused at once, not answered with a 500 later", async () => {
  const path = await filledReadModel();
  const pages = statSync(path).size / PAGE;
  clobber(path, Math.floor(pages / 2) * PAGE, PAGE);
  says(await refusal(path), path);
});

test("given a sound read model, when it is opened again, then it opens", async () => {
  const path = await filledReadModel();
  const db = await openReadModel(path);
  expect(
    (
      await db
        .selectFrom("events")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow()
    ).n,
  ).toBe(20_000);
  await db.destroy();
});
