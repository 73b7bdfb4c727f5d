import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { openReadModel } from "../lib/read-model/database.ts";
import { tempDir } from "./support/temp.ts";

const fresh = () => join(tempDir("read-model-"), "read-model.sqlite");

test("given a new read model file, when three connections open it at once, then every one gets the migrated schema", async () => {
  const path = fresh();
  const dbs = await Promise.all([openReadModel(path), openReadModel(path), openReadModel(path)]);
  for (const db of dbs) expect(await db.selectFrom("runs").select("id").execute()).toEqual([]);
  await Promise.all(dbs.map((db) => db.destroy()));
});

test("given a new read model file, when four processes open it at once (projector and ingress starting together), then all of them succeed", async () => {
  const path = fresh();
  const module = resolve(import.meta.dir, "../lib/read-model/database.ts");
  const script = `const { openReadModel } = await import(${JSON.stringify(module)}); const db = await openReadModel(${JSON.stringify(path)}); await db.selectFrom("attempts").select("unit").execute(); await db.destroy();`;
  const children = Array.from({ length: 4 }, () =>
    Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" }),
  );
  const codes = await Promise.all(children.map((child) => child.exited));
  const errors = await Promise.all(children.map((child) => new Response(child.stderr).text()));
  expect({ codes, errors: errors.filter(Boolean) }).toEqual({ codes: [0, 0, 0, 0], errors: [] });
});

test("a new read model file has 8 KiB pages; one made before (4 KiB) keeps its pages and is migrated in place", async () => {
  const made = fresh();
  const db = await openReadModel(made);
  await db.destroy();
  const old = fresh();
  const sqlite = new Database(old, { create: true });
  sqlite.exec("PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE before (x)");
  sqlite.close();
  const reopened = await openReadModel(old);
  expect(await reopened.selectFrom("runs").select("id").execute()).toEqual([]);
  await reopened.destroy();
  const pageSize = (path: string) => {
    const file = new Database(path, { readonly: true });
    try {
      return file.query<{ page_size: number }, []>("PRAGMA page_size").get()!.page_size;
    } finally {
      file.close();
    }
  };
  expect({ made: pageSize(made), old: pageSize(old) }).toEqual({ made: 8192, old: 4096 });
});
