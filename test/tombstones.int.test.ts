import { expect, test } from "bun:test";
import { join } from "node:path";
import { acceptedSeq, openReadModel, tombstoneKey } from "../lib/read-model/database.ts";
import { applyPurge } from "../lib/read-model/purge.ts";
import { tempDir } from "./support/temp.ts";

const DAY = 86_400_000;
const AT = "2026-12-07T00:00:00.000Z";
const dayOf = (iso: string) => Math.floor(Date.parse(iso) / DAY);

test("given tombstones older and younger than the horizon, when a purge round is applied, then only the older go and their ids are new again", async () => {
  const db = await openReadModel(join(tempDir("tombstones-"), "read-model.sqlite"));
  try {
    await db
      .insertInto("tombstones")
      .values([
        { id_hash: tombstoneKey("old"), seq: 1, deleted_day: dayOf(AT) - 401 },
        { id_hash: tombstoneKey("recent"), seq: 2, deleted_day: dayOf(AT) - 399 },
      ])
      .execute();
    expect([acceptedSeq(db, "old"), acceptedSeq(db, "recent")]).toEqual([1, 2]);
    const outcome = await db.transaction().execute((trx) =>
      applyPurge(trx, {
        v: 1,
        kind: "runs.purge",
        purgeId: "p",
        round: 1,
        at: AT,
        rules: [],
        limit: 500,
        tombstoneDays: 400,
      }),
    );
    expect(outcome).toMatchObject({ runs: 0, events: 0, tombstonesDropped: 1, full: false });
    expect([acceptedSeq(db, "old"), acceptedSeq(db, "recent")]).toEqual([undefined, 2]);
  } finally {
    await db.destroy();
  }
});
