import type { FlowMessage } from "../../lib/protocol/messages.ts";
import type { AttemptsTable, EventsTable, RunsTable } from "../../lib/read-model/database.ts";
import { evolve } from "../../services/projector/evolve.ts";
import { isPurge, type ReadState, type Upsert, type Write } from "../../services/projector/writes.ts";

/** An in-memory read model driven by the pure evolve, for projector specifications. */
export function memoryReadModel() {
  const events = new Map<string, EventsTable>();
  const runs = new Map<string, RunsTable>();
  const attempts = new Map<string, AttemptsTable>();
  const matches = new Map<string, Upsert["row"]>();
  const output = new Map<string, Upsert["row"]>();
  /** Ids of deleted events (a test adds them, as a purge would). */
  const tombstones = new Set<string>();
  const state: ReadState = {
    event: (id) => events.get(id),
    run: (id) => runs.get(id),
    attempt: (runId, n) => attempts.get(`${runId}:${n}`),
    hasOutput: (runId, n, chunk) => output.has(`${runId}:${n}:${chunk}`),
    tombstoned: (id) => tombstones.has(id),
  };
  const apply = (message: FlowMessage, seq: number): Write[] => {
    const writes = evolve(state, message, seq);
    for (const w of writes) {
      // A purge round deletes by SQL over the read model (lib/read-model/purge.ts): its tests run on SQLite.
      if (isPurge(w)) continue;
      if (w.table === "events") events.set(w.row.id, w.row);
      else if (w.table === "runs") runs.set(w.row.id, w.row);
      else if (w.table === "attempts") attempts.set(`${w.row.run_id}:${w.row.attempt}`, w.row);
      else if (w.table === "output") output.set(`${w.row.run_id}:${w.row.attempt}:${w.row.chunk}`, w.row);
      else if (w.table === "matches") matches.set(`${w.row.event_id}:${w.row.generation}`, w.row);
    }
    return writes;
  };
  const snapshot = () =>
    JSON.stringify({
      events: [...events],
      runs: [...runs],
      attempts: [...attempts],
      matches: [...matches],
      output: [...output],
    });
  return { state, apply, events, runs, attempts, matches, output, tombstones, snapshot };
}
