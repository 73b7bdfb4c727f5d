import type { AttemptsTable, ReadModel } from "../../../lib/read-model/database.ts";
import { ResponseBudget } from "../budget.ts";
import { presentRun, type RunView } from "./present.ts";

/** The runs of one event, oldest first, each with its attempts, within a list answer's budget (bytes). */
export async function runsForEvent(db: ReadModel, eventId: string, budgetBytes: number): Promise<RunView[]> {
  const rows = await db
    .selectFrom("runs")
    .selectAll()
    .where("event_id", "=", eventId)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return await withAttempts(db, rows, new ResponseBudget(budgetBytes));
}

/** Runs by id, in the order given (missing ids are left out); a list answer passes its budget (bytes), one run is sent whole. */
export async function runsById(db: ReadModel, ids: string[], budgetBytes?: number): Promise<RunView[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom("runs").selectAll().where("id", "in", ids).execute();
  const order = new Map(ids.map((id, i) => [id, i]));
  rows.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  return await withAttempts(db, rows, budgetBytes === undefined ? undefined : new ResponseBudget(budgetBytes));
}

async function withAttempts(
  db: ReadModel,
  rows: Parameters<typeof presentRun>[0][],
  budget?: ResponseBudget,
): Promise<RunView[]> {
  if (rows.length === 0) return [];
  const attempts = await db
    .selectFrom("attempts")
    .selectAll()
    .where(
      "run_id",
      "in",
      rows.map((r) => r.id),
    )
    .orderBy("attempt")
    .execute();
  const byRun = new Map<string, AttemptsTable[]>();
  for (const a of attempts) byRun.set(a.run_id, [...(byRun.get(a.run_id) ?? []), a]);
  return rows.map((row) => presentRun(row, byRun.get(row.id), budget));
}
