import { type AttemptsTable, type ReadModel, rawSqlite } from "../../../lib/read-model/database.ts";
import { rowsWhereIn } from "../../../lib/read-model/hot.ts";
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
  // Straight on the handle: this answers every `?wait=` (lib/read-model/hot.ts).
  const rows = rowsWhereIn(rawSqlite(db), "runs", "id", ids);
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
  const ids = rows.map((r) => r.id);
  const attempts = rowsWhereIn(rawSqlite(db), "attempts", "run_id", ids, { orderBy: "attempt" });
  const byRun = new Map<string, AttemptsTable[]>();
  for (const a of attempts) byRun.set(a.run_id, [...(byRun.get(a.run_id) ?? []), a]);
  return rows.map((row) => presentRun(row, byRun.get(row.id), budget));
}
