import { Elysia } from "elysia";
import { requireToken, TOKEN_SECURITY } from "../auth.ts";
import type { IngressDeps } from "../deps.ts";
import { errors } from "../schemas.ts";
import { overview } from "./queries.ts";
import { OverviewQuery, OverviewView, type OverviewWindow } from "./schemas.ts";

/** GET /overview?window=hour|day|week: the dashboard's Overview page, from the read model alone. */
export function overviewRoutes(deps: IngressDeps) {
  return new Elysia({ name: "overview" }).get(
    "/overview",
    async ({ query }) => await overview(deps.db, (query.window || "day") as OverviewWindow, new Date()),
    {
      beforeHandle: requireToken(deps),
      query: OverviewQuery,
      response: { 200: OverviewView, ...errors(400, 401) },
      detail: {
        security: TOKEN_SECURITY,
        tags: ["runs"],
        summary:
          "Runs per effective status over the last hour, day (default) or week in buckets; per flow the failure rate and duration p50/p95; queued runs per queue and running runs per host now",
      },
    },
  );
}
