import type { FlowResultStatus } from "../protocol/flow-result.ts";
import type { OperatorAction, RunOutput, ScheduleTicked } from "../protocol/messages.ts";
import type { AttemptStatus, RunStatus } from "../protocol/status.ts";

/** The read model's tables, typed from the stream's vocabulary (lib/protocol); the migrations make them. */

/** One FlowEvent as accepted, with its latest match decision summary. */
export type EventsTable = {
  id: string;
  type: string;
  source: string | null;
  occurred_at: string | null;
  received_at: string;
  accepted_at: string;
  payload_json: string;
  seq: number;
  generation: number;
  matched_generation: number | null;
  matched_at: string | null;
  matched_count: number | null;
  chain_depth: number;
  parent_run_id: string | null;
  /** The OpenTelemetry trace of its first accept (docs/tracing.md); null with tracing off. */
  trace_id?: string | null;
};

/** One match decision: every step's verdict for one event generation (StepDecision[] as JSON). */
export type MatchesTable = {
  event_id: string;
  generation: number;
  matched_at: string;
  decisions_json: string;
};

/** One run: a request to run one step for one event, with its latest attempt's outcome. */
export type RunsTable = {
  id: string;
  event_id: string;
  generation: number;
  flow_name: string;
  flow_version: number;
  step_name: string;
  runner: string;
  queue: string;
  status: RunStatus;
  attempt: number;
  host: string | null;
  executor: string | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  updated_at: string;
  /** The OpenTelemetry trace of the command that queued it (docs/tracing.md); null with tracing off. */
  trace_id?: string | null;
  exit_code: number | null;
  signal: string | null;
  error: string | null;
  result_json: string | null;
  result_status: FlowResultStatus | null;
  stdout: string;
  stderr: string;
  stdout_truncated: number;
  stderr_truncated: number;
  duration_ms: number | null;
  seq: number;
  cancel_requested_at: string | null;
  /** When a retry is due (the run waits, queued, until then). */
  retry_at: string | null;
  /** Ids of the events this run's FLOW_RESULT `next` started (JSON array). */
  next_json: string | null;
  unit: string | null;
  /** 1 once retention dropped the oldest of its live output. */
  output_cut: number;
  /** Characters of live output kept for the run (what retention counts). */
  output_bytes: number;
  /** Why a queued run does not wait on its queue yet: its flow is paused, or it is debounced. */
  held_reason: string | null;
  /** The event that superseded this debounced run (status `superseded`). */
  superseded_by: string | null;
  /** The run's latest approval gate, its request and decision (services/projector/evolve-approvals.ts), as JSON. */
  approval_json: string | null;
};

/** The pause state of a flow (`step` is "") or one step: the last pause or resume. */
export type FlowControlsTable = {
  flow: string;
  step: string;
  paused: number;
  at: string;
  reason: string | null;
  seq: number;
};

/** One schedule tick a scheduler handled: `emitted` (its event id) or `skipped` (and why). */
export type ScheduleTicksTable = {
  flow: string;
  schedule: string;
  tick: string;
  outcome: ScheduleTicked["outcome"];
  event_id: string;
  reason: string | null;
  at: string;
  seq: number;
};

/** One chunk of an attempt's live output. */
export type OutputTable = {
  run_id: string;
  attempt: number;
  chunk: number;
  stream: RunOutput["stream"];
  text: string;
  at: string;
  seq: number;
};

/** One attempt (1-based) of one run, as one executor saw it. */
export type AttemptsTable = {
  run_id: string;
  attempt: number;
  host: string;
  status: AttemptStatus;
  started_at: string;
  completed_at: string | null;
  exit_code: number | null;
  signal: string | null;
  error: string | null;
  result_status: FlowResultStatus | null;
  duration_ms: number | null;
  unit: string | null;
};

/** An event that retention or a purge deleted: its id's hash (tombstoneKey), the sequence it was accepted at, the day (since 1970, UTC) it went. */
export type TombstonesTable = { id_hash: Uint8Array; seq: number; deleted_day: number };

/** One operator action (an `operator.acted` message): who, when, what and why; never a token. */
export type AuditTable = {
  action_id: string;
  seq: number;
  at: string;
  actor: string;
  action: OperatorAction;
  run_id: string | null;
  event_id: string | null;
  flow: string | null;
  step: string | null;
  summary: string;
  reason: string | null;
  /** The stream sequence of the first message the action wrote. */
  action_seq: number | null;
};

/** A stable number for each event and run the search index holds (the FTS row's rowid); kept by triggers. */
/** A row of events or runs in the search index: its FTS rowid (`doc`, numbered in the order rows were first written), and 1 while its text waits for the indexer. */
export type SearchDocsTable = { doc: number; kind: "event" | "run"; ref: string; dirty: number };

/** Runs created in one hour (`h`) or 6 hours (`q`, `YYYY-MM-DDTHH` of its start) per flow, status and effective status (the overview's rollup). */
export type RunCountsTable = {
  level: "h" | "q";
  period: string;
  flow_name: string;
  status: string;
  effective: string;
  n: number;
};
/** Runs with a duration created in one hour, 6 hours or day (`d`, `YYYY-MM-DD`) per flow: how many, and per duration bucket (a JSON array of counts). */
export type RunDurationsTable = {
  level: "h" | "q" | "d";
  period: string;
  flow_name: string;
  n: number;
  buckets: string;
};
/** The duration buckets: a duration is in the bucket with the greatest `lo` at or under it. */
export type DurationBucketsTable = { lo: number; bucket: number };

/** The FTS5 index (search_text, one `body` column) is read through raw SQL: Kysely has no MATCH. */

/** The projector's checkpoint: the last stream sequence applied. */
export type ProjectorStateTable = { name: string; seq: number };

export type ReadModelDatabase = {
  events: EventsTable;
  matches: MatchesTable;
  runs: RunsTable;
  attempts: AttemptsTable;
  output: OutputTable;
  projector_state: ProjectorStateTable;
  flow_controls: FlowControlsTable;
  schedule_ticks: ScheduleTicksTable;
  tombstones: TombstonesTable;
  audit: AuditTable;
  search_docs: SearchDocsTable;
  run_counts: RunCountsTable;
  run_durations: RunDurationsTable;
  duration_buckets: DurationBucketsTable;
};
