import { whyNoMatch } from "../../../lib/flows/why-no-match.ts";
import type { StepDecision } from "../../../lib/protocol/messages.ts";
import { FINAL_STATUSES } from "../../../lib/protocol/status.ts";
import { type ReadModel, rawSqlite } from "../../../lib/read-model/database.ts";
import { DEFAULT_RESPONSE_BUDGET_BYTES } from "../budget.ts";
import type { Changes } from "../changes.ts";
import { HttpError } from "../errors.ts";
import type { RunView } from "../runs/present.ts";
import { runsById } from "../runs/queries.ts";

export type WaitMode = "matched" | "final";
/** What a write waits for: the match decision (briefly by default, `matched` up to the limit) or every run's end; `undefined` for none. */
export type Wait = { mode: WaitMode; timeoutMs: number; explicit: boolean } | undefined;
export type MatchOutcome = { matched: number; runIds: string[]; runs: RunView[]; why?: string; timedOut: boolean };

/**
 * `?wait=` of a write. Absent, `false` or `0`: wait for the match decision up to
 * `matchWaitMs` (the original backend's clients (seed/http-contract.md) read `runIds` from every answer); `none`: not at
 * all; `matched`: for the decision, up to `waitTimeoutMs`; `true`: until every run ended.
 */
export function parseWait(raw: unknown, limits: { matchWaitMs: number; waitTimeoutMs: number }): Wait {
  if (raw === undefined || raw === "" || raw === "false" || raw === "0" || raw === false) {
    return limits.matchWaitMs > 0 ? { mode: "matched", timeoutMs: limits.matchWaitMs, explicit: false } : undefined;
  }
  if (raw === "none") return undefined;
  if (raw === "matched") return { mode: "matched", timeoutMs: limits.waitTimeoutMs, explicit: true };
  if (raw === "true" || raw === "1" || raw === "final" || raw === true)
    return { mode: "final", timeoutMs: limits.waitTimeoutMs, explicit: true };
  throw new HttpError(400, `wait=${JSON.stringify(raw)} is invalid: expected none, false, matched or true`);
}

/**
 * Waits, bounded by `timeoutMs`, until the read model has the event's match decision
 * (and with `final`, until every matched run has a final status), then returns what
 * it has. Wakes when a commit touched the event (beside an in-process projector) or
 * polls.
 */
export async function waitForMatch(
  db: ReadModel,
  eventId: string,
  generation: number,
  mode: WaitMode,
  timeoutMs: number,
  changes: Changes,
  budgetBytes = DEFAULT_RESPONSE_BUDGET_BYTES,
): Promise<MatchOutcome> {
  const deadline = Date.now() + timeoutMs;
  const watch = changes.watch(eventId);
  try {
    for (;;) {
      const outcome = await readMatch(db, eventId, generation, budgetBytes);
      const done =
        outcome !== undefined && (mode === "matched" || outcome.runs.every((run) => FINAL_STATUSES.has(run.status)));
      if (done) return { ...outcome, timedOut: false };
      const left = deadline - Date.now();
      if (left <= 0) return { ...(outcome ?? { matched: 0, runIds: [], runs: [] }), timedOut: true };
      await watch.next(Math.min(left, 1_000));
    }
  } finally {
    watch.close();
  }
}

async function readMatch(
  db: ReadModel,
  eventId: string,
  generation: number,
  budgetBytes: number,
): Promise<Omit<MatchOutcome, "timedOut"> | undefined> {
  // Straight on the handle: these reads answer every write that waits (lib/read-model/hot.ts).
  const sqlite = rawSqlite(db);
  const event = sqlite
    .query<{ matched_generation: number | null; type: string }, [string]>(
      "SELECT matched_generation, type FROM events WHERE id = ?",
    )
    .get(eventId);
  if (!event || event.matched_generation === null || event.matched_generation < generation) return undefined;
  const match = sqlite
    .query<{ decisions_json: string }, [string, number]>(
      "SELECT decisions_json FROM matches WHERE event_id = ? AND generation = ?",
    )
    .get(eventId, event.matched_generation);
  const decisions = match ? (JSON.parse(match.decisions_json) as StepDecision[]) : [];
  const runIds = decisions.flatMap((d) => (d.matched && d.runId ? [d.runId] : []));
  return {
    matched: runIds.length,
    runIds,
    runs: await runsById(db, runIds, budgetBytes),
    ...(runIds.length === 0 ? { why: whyNoMatch(eventId, event.type, decisions) } : {}),
  };
}
