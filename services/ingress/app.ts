import { Elysia } from "elysia";
import { githubSource } from "../../lib/webhooks/source.ts";
import { approvalRoutes } from "./approvals/routes.ts";
import { auditRoutes } from "./audit/routes.ts";
import { requireToken } from "./auth.ts";
import { browserGuard } from "./browser.ts";
import { chainRoutes } from "./chain/routes.ts";
import { dataRoutes } from "./data/routes.ts";
import type { IngressDeps } from "./deps.ts";
import { errors } from "./errors.ts";
import { eventRoutes } from "./events/routes.ts";
import { flowRoutes } from "./flows/routes.ts";
import { hostGuard } from "./host.ts";
import { allowedMethods } from "./methods.ts";
import { openApiRoutes } from "./openapi.ts";
import { overviewRoutes } from "./overview/routes.ts";
import { replayRoutes } from "./replays/routes.ts";
import { runRoutes } from "./runs/routes.ts";
import { scheduleTickRoutes } from "./schedules/routes.ts";
import { Health } from "./schemas.ts";
import { searchRoutes } from "./search/routes.ts";
import { systemRoutes } from "./system/routes.ts";
import { uiRoutes } from "./ui/routes.ts";
import { viewerAssets } from "./viewer.ts";
import { webhookRoutes } from "./webhooks/routes.ts";

/** The HTTP API: the write side publishes to the stream, the read side queries the projector's SQLite. */
export function createIngressApp(deps: IngressDeps) {
  const app = new Elysia()
    // A path that exists with other methods is 405 naming them (TRACE, PUT...), not 404.
    .onError(({ code, request, set, path }) => {
      if (code !== "NOT_FOUND") return;
      const allow = allowedMethods(app.routes, path);
      if (allow.length === 0) return;
      set.status = 405;
      set.headers.allow = allow.join(", ");
      return { error: `method ${request.method} is not allowed on ${path}: use ${allow.join(", ")}` };
    })
    .use(errors)
    .use(hostGuard(deps.listenHost, deps.allowedHosts))
    .use(browserGuard(deps.allowedOrigins))
    .use(viewerAssets)
    .use(eventRoutes(deps))
    .use(webhookRoutes(deps, deps.webhooks ?? [githubSource(undefined)]))
    .use(runRoutes(deps))
    .use(approvalRoutes(deps))
    .use(flowRoutes(deps))
    .use(scheduleTickRoutes(deps))
    .use(overviewRoutes(deps))
    .use(chainRoutes(deps))
    .use(searchRoutes(deps))
    .use(replayRoutes(deps))
    .use(systemRoutes(deps))
    .use(dataRoutes(deps))
    .use(auditRoutes(deps))
    .use(uiRoutes())
    .get(
      "/metrics",
      async ({ set }) => {
        set.headers["content-type"] = "text/plain; version=0.0.4; charset=utf-8";
        return await deps.metrics();
      },
      {
        beforeHandle: requireToken(deps),
        detail: {
          tags: ["system"],
          summary:
            "Prometheus metrics: events, runs by status, step durations, projector lag, consumers' pending counts, executor slots, held requests and their bounds",
          responses: { 200: { description: "Prometheus text format 0.0.4" } },
        },
      },
    )
    .get(
      "/healthz",
      async ({ set }) => {
        const health = await deps.health();
        set.status = health.ok ? 200 : 503;
        return health;
      },
      {
        response: { 200: Health, 503: Health },
        detail: {
          security: [],
          tags: ["system"],
          summary: "NATS connection, projector lag and free disk space (open, no token)",
        },
      },
    );
  return app.use(openApiRoutes(app));
}
