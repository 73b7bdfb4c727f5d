import type { PurgeRuns, RunStep } from "../../lib/protocol/messages.ts";
import type {
  AttemptsTable,
  AuditTable,
  EventsTable,
  FlowControlsTable,
  MatchesTable,
  OutputTable,
  RunsTable,
  ScheduleTicksTable,
} from "../../lib/read-model/database.ts";

/** The projector's vocabulary: what evolve reads (ReadState) and the writes it returns, applied by the store. */

/** What evolve may look at: the current rows (the projector serves them from SQLite plus its batch). */
export type ReadState = {
  event(id: string): EventsTable | undefined;
  run(id: string): RunsTable | undefined;
  attempt(runId: string, attempt: number): AttemptsTable | undefined;
  /** Whether this output chunk is already stored. */
  hasOutput(runId: string, attempt: number, chunk: number): boolean;
  /** Whether retention or a purge deleted this event (its id stays a duplicate). */
  tombstoned(eventId: string): boolean;
};

/** A row to upsert (whole rows, so applying a message twice writes the same thing). */
export type Upsert =
  | { table: "events"; row: EventsTable }
  | { table: "matches"; row: MatchesTable }
  | { table: "runs"; row: RunsTable }
  | { table: "attempts"; row: AttemptsTable }
  | { table: "output"; row: OutputTable }
  | { table: "flow_controls"; row: FlowControlsTable }
  | { table: "schedule_ticks"; row: ScheduleTicksTable }
  | { table: "audit"; row: AuditTable };

/** A purge round, applied at its place in the stream (lib/read-model/purge.ts): what follows it reads the read model without what it deleted. */
export type Purge = { purge: PurgeRuns };
/** One effect of a message on the read model; each goes through the store's one write path (store.ts applyBatch). */
export type Write = Upsert | Purge;
export const isPurge = (write: Write): write is Purge => "purge" in write;

/** The row of a run that has just been asked for: queued, no attempt yet (`heldReason` when it waits off its queue). */
export function queuedRun(command: RunStep, seq: number, heldReason: string | null): RunsTable {
  return {
    id: command.runId,
    event_id: command.eventId,
    generation: command.generation,
    flow_name: command.flow,
    flow_version: command.flowVersion,
    step_name: command.step,
    runner: command.runner,
    queue: command.queue,
    status: "queued",
    attempt: 0,
    host: null,
    executor: null,
    created_at: command.createdAt,
    started_at: null,
    completed_at: null,
    updated_at: command.createdAt,
    exit_code: null,
    signal: null,
    error: null,
    result_json: null,
    result_status: null,
    stdout: "",
    stderr: "",
    stdout_truncated: 0,
    stderr_truncated: 0,
    duration_ms: null,
    seq,
    cancel_requested_at: null,
    retry_at: null,
    next_json: null,
    unit: null,
    output_cut: 0,
    output_bytes: 0,
    held_reason: heldReason,
    superseded_by: null,
    approval_json: null,
  };
}
