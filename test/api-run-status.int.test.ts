import { expect, test } from "bun:test";
import { join } from "node:path";
import { RUN_STATUSES } from "../lib/protocol/status.ts";
import { openReadModel } from "../lib/read-model/database.ts";
import { listRuns } from "../services/ingress/runs/list.ts";
import { accepted, command, T0 } from "./support/messages.ts";
import { memoryReadModel } from "./support/read-state.ts";
import { tempDir } from "./support/temp.ts";

const RUN = "run-cccccccccccccccccccccccc";

test("given a debounced run that ended superseded in a real read model, when GET /runs filters status=superseded, then it is listed (not 400)", async () => {
  const model = memoryReadModel();
  model.apply(accepted(), 1);
  model.apply(
    {
      v: 1,
      kind: "run.deferred",
      runId: RUN,
      command: command(RUN),
      key: "k",
      debounceMs: 1000,
      arrivedAt: T0,
      dueAt: T0,
    },
    2,
  );
  model.apply({ v: 1, kind: "run.superseded", runId: RUN, supersededBy: "ev-2", at: T0 }, 3);
  const db = await openReadModel(join(tempDir("run-status-"), "read-model.sqlite"));
  try {
    await db
      .insertInto("events")
      .values([...model.events.values()])
      .execute();
    await db
      .insertInto("runs")
      .values([...model.runs.values()])
      .execute();
    const page = await listRuns(db, { status: "superseded" }, 1 << 20);
    expect(page.runs.map((r) => ({ id: r.id, status: r.status }))).toEqual([{ id: RUN, status: "superseded" }]);
    expect((await listRuns(db, { status: "queued,running" }, 1 << 20)).runs).toEqual([]);
    // Every status a run can end in is one the filter accepts.
    expect(RUN_STATUSES as readonly string[]).toContain(page.runs[0]!.status);
  } finally {
    await db.destroy();
  }
});
