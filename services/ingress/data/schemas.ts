import { t } from "elysia";
import { BEFORE_FORMATS, STATUS_LIST } from "./queries.ts";

const BEFORE_ERROR = "expected a date (2026-01-31) or an ISO time (2026-01-31T12:00:00Z)";
/** `before`, as the document describes it: a date or an ISO time. */
export const Before = (description: string) =>
  t.Union(
    BEFORE_FORMATS.map((format) => t.String({ format })),
    { error: BEFORE_ERROR, description },
  );
/** `status`: comma-separated effective statuses. */
export const StatusList = t.String({
  pattern: STATUS_LIST,
  error: "expected comma-separated statuses such as completed,failed",
  description: "Comma-separated effective statuses",
});

export const PurgeBody = t.Object(
  {
    before: Before("Final runs created before this date (2026-01-31) or ISO time"),
    flow: t.Optional(t.String({ minLength: 1 })),
    status: t.Optional(StatusList),
    reason: t.Optional(t.String({ maxLength: 2000, description: "Why: recorded in the audit log (GET /audit)" })),
  },
  { additionalProperties: false },
);

export const PurgeCounts = t.Object({
  before: t.String(),
  groups: t.Array(
    t.Object({
      flow: t.String(),
      status: t.String(),
      runs: t.Integer(),
      bytes: t.Integer({ description: "Output tails, result and live output the runs hold" }),
    }),
  ),
  runs: t.Integer(),
  bytes: t.Integer(),
  eventsWithoutRuns: t.Integer({
    description: "Events before the date that started no run (covered when neither flow nor status is given)",
  }),
});

export const PurgeAnswer = t.Object({ purgeId: t.String(), seq: t.Integer(), before: t.String() });

export const ArchivePage = t.Object({
  records: t.Array(t.Record(t.String(), t.Unknown()), {
    description: '{"kind":"run", run, attempts, output, event, matches} or {"kind":"event", event, matches}',
  }),
  nextCursor: t.Optional(t.String()),
});
