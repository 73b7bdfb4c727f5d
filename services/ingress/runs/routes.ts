import { Elysia, t } from "elysia";
import type { ReadModel } from "../../../lib/read-model/database.ts";
import { HttpError } from "../errors.ts";
import { runsForEvent } from "./queries.ts";

/** `GET /runs?eventId=`: the seed's run listing for one event. */
export function runRoutes(db: ReadModel) {
  return new Elysia({ name: "runs" }).get(
    "/runs",
    async ({ query }) => {
      if (!query.eventId) throw new HttpError(400, "query parameter eventId is required, e.g. GET /runs?eventId=<id>");
      return { eventId: query.eventId, runs: await runsForEvent(db, query.eventId) };
    },
    { query: t.Object({ eventId: t.Optional(t.String()) }, { additionalProperties: true }) },
  );
}
