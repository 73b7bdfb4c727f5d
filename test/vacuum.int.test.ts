import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { join } from "node:path";
import { incrementalVacuum, openReadModel } from "../lib/read-model/database.ts";
import { useProcesses } from "./support/processes.ts";
import { tempDir } from "./support/temp.ts";

const processes = useProcesses();
const autoVacuum = (path: string) => {
  const sqlite = new Database(path, { readwrite: true });
  try {
    return sqlite.query<{ auto_vacuum: number }, []>("PRAGMA auto_vacuum").get()!.auto_vacuum;
  } finally {
    sqlite.close();
  }
};

test("a new read model gives freed pages back (incremental auto-vacuum)", async () => {
  const path = join(tempDir("vacuum-"), "read-model.sqlite");
  await (await openReadModel(path)).destroy();
  expect(autoVacuum(path)).toBe(2);
});

test("given a read model made before incremental vacuum, then vacuum says it needs --full once, and --full switches it", async () => {
  const dataDir = tempDir("vacuum-old-");
  const path = join(dataDir, "read-model.sqlite");
  // An older file: its tables were made with auto_vacuum off, which a later PRAGMA cannot change.
  const old = new Database(path, { create: true });
  old.exec("PRAGMA journal_mode = WAL; CREATE TABLE before (x)");
  old.close();
  const db = await openReadModel(path);
  expect(await incrementalVacuum(db)).toEqual({ incremental: false, freedPages: 0 });
  await db.destroy();
  const env = { CODEX_FLOW_BACKEND_DATA_DIR: dataDir };
  const plain = await processes.run(["projector", "vacuum"], { env });
  expect(plain.code).toBe(1);
  expect(plain.stderr).toContain(
    "was made before incremental vacuum (auto_vacuum is off): run flow projector vacuum --full once",
  );
  const full = await processes.run(["projector", "vacuum", "--full"], { env });
  expect(full.code).toBe(0);
  expect(full.stdout).toMatch(/read-model\.sqlite: \d+ bytes before, \d+ after/);
  expect(autoVacuum(path)).toBe(2);
  expect((await processes.run(["projector", "vacuum"], { env })).code).toBe(0);
});
