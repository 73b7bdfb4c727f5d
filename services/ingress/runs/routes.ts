import { Elysia, t } from "elysia";
import type { IngressDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { cancelRun, retryRun } from "./operate.ts";
import { runsById, runsForEvent } from "./queries.ts";
import { explainWaits } from "./queues.ts";

/** Runs: the seed's listing for one event, one run, and the operator's cancel and retry. */
export function runRoutes(deps: IngressDeps) {
  const { db } = deps;
  return new Elysia({ name: "runs" })
    .get(
      "/runs",
      async ({ query }) => {
        if (!query.eventId) throw new HttpError(400, "query parameter eventId is required, e.g. GET /runs?eventId=<id>");
        return { eventId: query.eventId, runs: await explainWaits(await runsForEvent(db, query.eventId), deps.queues) };
      },
      { query: t.Object({ eventId: t.Optional(t.String()) }, { additionalProperties: true }) },
    )
    .get("/runs/:id", async ({ params }) => {
      const [run] = await runsById(db, [params.id]);
      if (!run) throw new HttpError(404, `no run with id ${JSON.stringify(params.id)}`);
      return { run: (await explainWaits([run], deps.queues))[0] };
    })
    .post("/runs/:id/cancel", async ({ params }) => ({ run: await cancelRun(deps, params.id) }), { parse: "none" })
    .post("/runs/:id/retry", async ({ params, set }) => ((set.status = 202), { run: await retryRun(deps, params.id) }), { parse: "none" });
}
