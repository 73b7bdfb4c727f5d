import type { StepDecision } from "../../../lib/messages.ts";
import type { ReadModel } from "../../../lib/read-model/database.ts";
import { FINAL_STATUSES } from "../../projector/evolve.ts";
import { DEFAULT_RESPONSE_BUDGET_BYTES } from "../budget.ts";
import type { Changes } from "../changes.ts";
import { runsById } from "../runs/queries.ts";
import type { RunView } from "../runs/present.ts";

export type WaitMode = "matched" | "final";
export type MatchOutcome = { matched: number; runIds: string[]; runs: RunView[]; timedOut: boolean };

/**
 * Waits, bounded by `timeoutMs`, until the read model has the event's match decision
 * (and with `final`, until every matched run has a final status), then returns what
 * it has. Wakes when a commit touched the event (beside an in-process projector) or
 * polls.
 */
export async function waitForMatch(db: ReadModel, eventId: string, generation: number, mode: WaitMode, timeoutMs: number, changes: Changes, budgetBytes = DEFAULT_RESPONSE_BUDGET_BYTES): Promise<MatchOutcome> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const outcome = await readMatch(db, eventId, generation, budgetBytes);
    const done = outcome !== undefined && (mode === "matched" || outcome.runs.every((run) => FINAL_STATUSES.has(run.status)));
    if (done) return { ...outcome, timedOut: false };
    const left = deadline - Date.now();
    if (left <= 0) return { ...(outcome ?? { matched: 0, runIds: [], runs: [] }), timedOut: true };
    await changes.next(Math.min(left, 1_000), eventId);
  }
}

async function readMatch(db: ReadModel, eventId: string, generation: number, budgetBytes: number): Promise<Omit<MatchOutcome, "timedOut"> | undefined> {
  const event = await db.selectFrom("events").select(["matched_generation"]).where("id", "=", eventId).executeTakeFirst();
  if (!event || event.matched_generation === null || event.matched_generation < generation) return undefined;
  const match = await db.selectFrom("matches").select("decisions_json").where("event_id", "=", eventId).where("generation", "=", event.matched_generation).executeTakeFirst();
  const decisions = match ? (JSON.parse(match.decisions_json) as StepDecision[]) : [];
  const runIds = decisions.flatMap((d) => (d.matched && d.runId ? [d.runId] : []));
  return { matched: runIds.length, runIds, runs: await runsById(db, runIds, budgetBytes) };
}
