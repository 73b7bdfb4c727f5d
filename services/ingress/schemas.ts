import { type Static, type TSchema, type TUnsafe, Type as t } from "@sinclair/typebox";
import { FlowEventInput } from "../../lib/protocol/event.ts";
import { FLOW_RESULT_STATUSES } from "../../lib/protocol/flow-result.ts";
import { ATTEMPT_STATUSES, EFFECTIVE_STATUSES, RUN_STATUSES } from "../../lib/protocol/status.ts";
import { ApprovalView } from "./approvals/schemas.ts";
import { Elided } from "./budget.ts";
import { DiskHealth } from "./disk.ts";

/** The API's bodies as TypeBox schemas: the OpenAPI document and the handlers' types come from these. */
const Nullable = <T extends TSchema>(schema: T) => t.Union([schema, t.Null()]);
/** One of a status list of lib/protocol/status.ts, as an enum in the OpenAPI document. */
const OneOf = <T extends string>(list: readonly T[], description?: string) =>
  // The schema is the union of literals (validation, OpenAPI's enum); its static type the status union itself.
  t.Union(
    list.map((value) => t.Literal(value)),
    description ? { description } : {},
  ) as unknown as TUnsafe<T>;
const Time = t.String({ description: "ISO-8601 time" });
const MaybeTime = t.Union([Time, t.Null()]);

export const ErrorBody = t.Object(
  {
    error: t.String({ description: "What was wrong, naming the field or parameter" }),
    details: t.Optional(t.Array(t.String())),
  },
  { $id: "Error" },
);

export const AttemptView = t.Object(
  {
    id: t.String(),
    attemptNumber: t.Integer({ minimum: 1 }),
    status: OneOf(
      ATTEMPT_STATUSES,
      "lost: its executor died; released: handed back at shutdown; fenced: its executor was cut off from NATS and stopped the step",
    ),
    workerId: t.String(),
    host: t.String(),
    leaseExpiresAt: t.Null(),
    startedAt: Time,
    completedAt: MaybeTime,
    exitCode: t.Union([t.Integer(), t.Null()]),
    signal: Nullable(t.String()),
    resultStatus: Nullable(OneOf(FLOW_RESULT_STATUSES)),
    durationMs: t.Union([t.Number(), t.Null()]),
    unit: Nullable(t.String()),
    error: Nullable(t.String()),
  },
  { $id: "Attempt" },
);

export const RunView = t.Object(
  {
    id: t.String(),
    runId: t.String(),
    eventId: t.String(),
    flowName: t.String(),
    flowVersion: t.Integer(),
    stepName: t.String(),
    runner: t.String(),
    backend: t.Literal("jetstream"),
    executor: Nullable(t.String()),
    queue: t.String(),
    host: Nullable(t.String()),
    status: OneOf(RUN_STATUSES, "Process status (superseded: a later event replaced this debounced run)"),
    resultStatus: t.Union([OneOf(FLOW_RESULT_STATUSES), t.Null()], {
      description: "The FLOW_RESULT status, when the step printed one",
    }),
    effectiveStatus: OneOf(EFFECTIVE_STATUSES, "The step's verdict when it gave one, else the process status"),
    needsAttention: t.Boolean(),
    attempt: t.Integer({ minimum: 0 }),
    attemptCount: t.Integer({ minimum: 0 }),
    generation: t.Integer({ minimum: 0, description: "0 for the original event, n for its n-th replay" }),
    createdAt: Time,
    startedAt: MaybeTime,
    completedAt: MaybeTime,
    finishedAt: MaybeTime,
    updatedAt: Time,
    exitCode: t.Union([t.Integer(), t.Null()]),
    signal: Nullable(t.String()),
    durationMs: t.Union([t.Number(), t.Null()]),
    cancelRequestedAt: MaybeTime,
    retryAt: MaybeTime,
    nextEventIds: t.Array(t.String()),
    unit: Nullable(t.String()),
    traceId: t.Optional(
      Nullable(t.String({ description: "The OpenTelemetry trace of the command that queued it (docs/tracing.md)" })),
    ),
    traceUrl: t.Optional(
      Nullable(t.String({ description: "Its address in the tracing UI (CODEX_FLOW_TRACE_URL_TEMPLATE)" })),
    ),
    error: Nullable(t.String()),
    result: t.Union([t.Record(t.String(), t.Unknown()), t.Null()], {
      description: "The FLOW_RESULT (null when none, or when `elided`)",
    }),
    stdout: t.String({ description: "The tail of the step's stdout" }),
    stderr: t.String({ description: "The tail of the step's stderr" }),
    stdoutTruncated: t.Boolean(),
    stderrTruncated: t.Boolean(),
    outputCut: t.Boolean({
      description: "Retention dropped the oldest of this run's live output (GET /runs/:id/output)",
    }),
    attempts: t.Array(AttemptView),
    elided: t.Optional(Elided),
    waiting: t.Optional(
      Nullable(
        t.String({
          description:
            "Why a queued run has not started (its flow is paused, it is debounced, no executor serves its queue)",
        }),
      ),
    ),
    heldReason: t.Optional(
      Nullable(
        t.String({
          description: "Why a queued run is not on its queue yet: its flow or step is paused, or it is debounced",
        }),
      ),
    ),
    supersededBy: t.Optional(
      Nullable(t.String({ description: "The event that superseded this debounced run (status superseded)" })),
    ),
    approval: t.Optional(ApprovalView),
  },
  { $id: "Run" },
);
export type RunView = Static<typeof RunView>;

export const DecisionView = t.Object({
  generation: t.Integer(),
  flowName: t.String(),
  flowVersion: t.Integer(),
  stepName: t.String(),
  runner: t.String(),
  matched: t.Boolean(),
  runId: Nullable(t.String()),
  queue: Nullable(t.String()),
  reasons: t.Array(t.String(), {
    description: "Why the step did not match: the type, or schema errors with their paths",
  }),
  nearMiss: t.Boolean({
    description:
      "The step wants this event's type but its schema or a limit said no (not a type that differs, a flow that did not load, or a replay limited to another flow)",
  }),
});

export const EventView = t.Object(
  {
    id: t.String(),
    type: t.String(),
    source: t.Optional(t.String()),
    occurredAt: t.Optional(t.String()),
    receivedAt: t.String(),
    payload: t.Unknown(),
    createdAt: Time,
    acceptedAt: Time,
    seq: t.Integer({ description: "The stream sequence it was accepted at" }),
    generation: t.Integer(),
    matchedGeneration: t.Union([t.Integer(), t.Null()]),
    matchedAt: MaybeTime,
    matchedCount: t.Union([t.Integer(), t.Null()]),
    chainDepth: t.Integer(),
    parentRunId: Nullable(t.String()),
    runIds: t.Array(t.String()),
    traceId: t.Optional(
      Nullable(t.String({ description: "The OpenTelemetry trace of its first accept (docs/tracing.md)" })),
    ),
    traceUrl: t.Optional(
      Nullable(t.String({ description: "Its address in the tracing UI (CODEX_FLOW_TRACE_URL_TEMPLATE)" })),
    ),
    elided: t.Optional(Elided),
  },
  { $id: "Event" },
);

export const EventDetail = t.Object({
  event: t.Intersect([EventView, t.Object({ decisions: t.Array(DecisionView) })]),
  runs: t.Array(RunView),
});
export const EventsPage = t.Object({ events: t.Array(EventView), nextCursor: t.Optional(t.String()) });
export const RunsPage = t.Object({
  runs: t.Array(RunView),
  eventId: t.Optional(t.String()),
  nextCursor: t.Optional(t.String()),
});
export const RunAnswer = t.Object({ run: RunView });

export const EventAnswer = t.Object({
  status: t.Union([t.Literal("accepted"), t.Literal("duplicate")]),
  eventId: t.String(),
  seq: t.Optional(
    t.Integer({ description: "The stream sequence: pass it as ?after= to read your write (absent when spooled)" }),
  ),
  spooled: t.Optional(
    t.Boolean({
      description:
        "NATS could not take the event within the publish deadline: it is in the ingress's fsynced spool and reaches the stream, in order and once, when NATS answers (CODEX_FLOW_INGRESS_SPOOL)",
    }),
  ),
  idempotent: t.Optional(t.Boolean()),
  generation: t.Optional(t.Integer()),
  matched: t.Optional(t.Integer()),
  runIds: t.Optional(t.Array(t.String())),
  runs: t.Optional(t.Array(RunView)),
  why: t.Optional(
    t.String({ description: "When the event matched no step: each step's reasons, and where to see every decision" }),
  ),
  waitTimedOut: t.Optional(
    t.Boolean({ description: "The wait ended at its bound before the match (or every run) was known" }),
  ),
});

export const Health = t.Object({
  ok: t.Boolean({
    description:
      "NATS is connected and JetStream answered a stream info request (within 2 s, asked at most once a second)",
  }),
  reason: t.Optional(t.String({ description: "Why ok is false" })),
  nats: t.Object({
    connected: t.Boolean(),
    jetstream: t.Boolean({ description: "JetStream answered the last stream info request" }),
    server: t.Optional(t.String()),
  }),
  projector: t.Object({
    appliedSeq: t.Integer(),
    streamSeq: t.Union([t.Integer(), t.Null()]),
    lag: t.Union([t.Integer(), t.Null()]),
  }),
  spool: t.Optional(
    t.Object(
      {
        depth: t.Integer({ description: "Events spooled and not yet in the stream" }),
        bytes: t.Integer(),
        maxBytes: t.Integer(),
        oldestAgeMs: t.Union([t.Integer(), t.Null()], { description: "How long the oldest spooled event has waited" }),
      },
      { description: "The ingress's spool (CODEX_FLOW_INGRESS_SPOOL), when it is on" },
    ),
  ),
  flows: t.Object(
    {
      loaded: t.Array(t.String()),
      problems: t.Array(t.String({ description: "A flow or step that did not load, and why" })),
    },
    { description: "The flows under this host's CODEX_FLOW_BACKEND_CWD" },
  ),
  disk: DiskHealth,
});
export type Health = Static<typeof Health>;

export { FlowEventInput };

/** The error answers a route can give, for the OpenAPI document. */
export function errors(...statuses: number[]) {
  return Object.fromEntries(statuses.map((status) => [status, ErrorBody]));
}

/**
 * Query parameters as the document describes them, so what a schema accepts the handler
 * accepts too (a value the handler refuses is described as invalid, never a surprise
 * 400). An empty value means the parameter is absent, as a form sends it. Each `error`
 * says what is expected; the error mapping (errors.ts) names the parameter and its value.
 */
const text = () => t.Optional(t.String());
// Typed as the string it is to the handler; described (and checked) as "" or the schema.
const either = (schema: TSchema, error: string) =>
  t.Optional(t.Union([t.Literal(""), schema], { error })) as unknown as ReturnType<typeof text>;
export const Query = {
  after: either(t.String({ pattern: "^[0-9]{1,15}$" }), "expected a stream sequence (the seq a write answered with)"),
  time: either(t.String({ format: "date-time" }), "expected an ISO-8601 time such as 2026-11-23T10:00:00Z"),
  limit: either(t.String({ pattern: "^([1-9][0-9]?|[1-4][0-9]{2}|500)$" }), "expected an integer from 1 to 500"),
  boolean: either(
    t.Union([t.Literal("true"), t.Literal("false"), t.Literal("1"), t.Literal("0")]),
    "expected true or false",
  ),
  statuses: (known: readonly string[]) =>
    either(
      t.String({ pattern: `^(${known.join("|")})(,(${known.join("|")}))*$` }),
      `expected comma-separated statuses from ${known.join(", ")}`,
    ),
  order: either(t.Union([t.Literal("asc"), t.Literal("desc")]), "expected asc or desc"),
  wait: either(
    t.Union(["none", "false", "0", "matched", "true", "1", "final"].map((v) => t.Literal(v))),
    "expected none, false, matched or true",
  ),
  text: text(),
};
