import { type Static, Type as t } from "@sinclair/typebox";

/** Runs one bulk cancel takes at most; more matching are left for the next request (`remaining`). */
export const BULK_LIMIT = 500;

const Picked = t.Object({ id: t.String(), flowName: t.String(), stepName: t.String(), status: t.String() });
export const BulkCancelAnswer = t.Object({
  dryRun: t.Boolean(),
  matched: t.Integer({ description: "Runs still queued or running that the selection or filter names" }),
  runs: t.Array(Picked, { description: `The runs canceled (or, on a dry run, that would be), at most ${BULK_LIMIT}` }),
  remaining: t.Integer({ description: `Matched runs beyond the ${BULK_LIMIT} of this request: ask again` }),
  skipped: t.Array(t.Object({ id: t.String(), why: t.String() }), { description: "Ids given that are not canceled: unknown, already ended, or being canceled" }),
});
export type BulkCancelAnswer = Static<typeof BulkCancelAnswer>;
