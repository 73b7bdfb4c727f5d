import { t } from "elysia";

export const PurgeBody = t.Object(
  {
    before: t.String({ description: "Final runs created before this date (2026-01-31) or ISO time" }),
    flow: t.Optional(t.String({ minLength: 1 })),
    status: t.Optional(t.String({ description: "Comma-separated effective statuses" })),
  },
  { additionalProperties: false },
);

export const PurgeCounts = t.Object({
  before: t.String(),
  groups: t.Array(t.Object({ flow: t.String(), status: t.String(), runs: t.Integer(), bytes: t.Integer({ description: "Output tails, result and live output the runs hold" }) })),
  runs: t.Integer(),
  bytes: t.Integer(),
  eventsWithoutRuns: t.Integer({ description: "Events before the date that started no run (covered when neither flow nor status is given)" }),
});

export const PurgeAnswer = t.Object({ purgeId: t.String(), seq: t.Integer(), before: t.String() });

export const ArchivePage = t.Object({
  records: t.Array(t.Record(t.String(), t.Unknown()), { description: '{"kind":"run", run, attempts, output, event, matches} or {"kind":"event", event, matches}' }),
  nextCursor: t.Optional(t.String()),
});
