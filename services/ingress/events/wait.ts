import type { Database as Sqlite } from "bun:sqlite";
import { whyNoMatch } from "../../../lib/flows/why-no-match.ts";
import type { StepDecision } from "../../../lib/protocol/messages.ts";
import { FINAL_STATUSES } from "../../../lib/protocol/status.ts";
import { type ReadModel, rawSqlite } from "../../../lib/read-model/database.ts";
import { rowsWhereIn } from "../../../lib/read-model/hot.ts";
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
  const sqlite = rawSqlite(db);
  // A generation's decision never changes: read again only when a later generation was matched.
  let decision: Decision | undefined;
  const answer = async (timedOut: boolean): Promise<MatchOutcome> =>
    decision
      ? { ...decision.outcome, runs: await runsById(db, decision.outcome.runIds, budgetBytes), timedOut }
      : { matched: 0, runIds: [], runs: [], timedOut };
  try {
    for (;;) {
      const matched = matchedGeneration(sqlite, eventId);
      if (matched !== undefined && matched >= generation && matched !== decision?.generation)
        decision = readDecision(sqlite, eventId, matched);
      // While runs are under way, only their statuses are read (the whole runs once, for the answer).
      if (decision && (mode === "matched" || allFinal(sqlite, decision.outcome.runIds))) return await answer(false);
      const left = deadline - Date.now();
      if (left <= 0) return await answer(true);
      await watch.next(Math.min(left, 1_000));
    }
  } finally {
    watch.close();
  }
}

type Decision = { generation: number; outcome: Omit<MatchOutcome, "timedOut" | "runs"> };

// Straight on the handle: these reads answer every write that waits (lib/read-model/hot.ts).
function matchedGeneration(sqlite: Sqlite, eventId: string): number | undefined {
  return (
    sqlite
      .query<{ matched_generation: number | null }, [string]>("SELECT matched_generation FROM events WHERE id = ?")
      .get(eventId)?.matched_generation ?? undefined
  );
}

function readDecision(sqlite: Sqlite, eventId: string, generation: number): Decision {
  const row = sqlite
    .query<{ decisions_json: string; type: string }, [string, number]>(
      "SELECT m.decisions_json, e.type FROM matches m JOIN events e ON e.id = m.event_id WHERE m.event_id = ? AND m.generation = ?",
    )
    .get(eventId, generation);
  const decisions = row ? (JSON.parse(row.decisions_json) as StepDecision[]) : [];
  const runIds = decisions.flatMap((d) => (d.matched && d.runId ? [d.runId] : []));
  const type =
    row?.type ?? sqlite.query<{ type: string }, [string]>("SELECT type FROM events WHERE id = ?").get(eventId)?.type;
  return {
    generation,
    outcome: {
      matched: runIds.length,
      runIds,
      ...(runIds.length === 0 ? { why: whyNoMatch(eventId, type ?? "", decisions) } : {}),
    },
  };
}

/** Whether every run of these ids that has a row has a final status (as the answer's runs would say). */
function allFinal(sqlite: Sqlite, runIds: string[]): boolean {
  return rowsWhereIn(sqlite, "runs", "id", runIds, { select: ["status"] }).every((run) =>
    FINAL_STATUSES.has(run.status),
  );
}
