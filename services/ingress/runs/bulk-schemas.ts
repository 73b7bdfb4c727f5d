import { type Static, Type as t } from "@sinclair/typebox";

/** Runs one bulk cancel takes at most; more matching are left for the next request (`remaining`). */
export const BULK_LIMIT = 500;

const Picked = t.Object({ id: t.String(), flowName: t.String(), stepName: t.String(), status: t.String() });
export const BulkAnswer = t.Object({
  dryRun: t.Boolean(),
  matched: t.Integer({
    description:
      "Runs the selection or filter names that can take the action (cancel: queued, running or awaiting approval; retry: ended)",
  }),
  runs: t.Array(Picked, {
    description: `The runs canceled or retried (or, on a dry run, that would be), at most ${BULK_LIMIT}`,
  }),
  remaining: t.Integer({ description: `Matched runs beyond the ${BULK_LIMIT} of this request: ask again` }),
  skipped: t.Array(t.Object({ id: t.String(), why: t.String() }), {
    description: "Ids given that are left alone: unknown, or not in a state the action takes",
  }),
});
export type BulkAnswer = Static<typeof BulkAnswer>;
