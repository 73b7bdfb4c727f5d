import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import type { IngressDeps } from "./deps.ts";
import { errors } from "./errors.ts";
import { browserGuard } from "./browser.ts";
import { eventRoutes } from "./events/routes.ts";
import { runRoutes } from "./runs/routes.ts";
import { requireToken } from "./auth.ts";
import { Health } from "./schemas.ts";

/** The HTTP API: the write side publishes to the stream, the read side queries the projector's SQLite. */
export function createIngressApp(deps: IngressDeps) {
  return new Elysia()
    .use(errors)
    .use(browserGuard(deps.allowedOrigins))
    .use(
      openapi({
        path: "/openapi",
        specPath: "/openapi.json",
        documentation: {
          info: { title: "codex-flows", version: "1", description: "Event-driven automation on NATS JetStream: accept FlowEvents, inspect and operate runs." },
          tags: [{ name: "events" }, { name: "runs" }, { name: "system" }],
          components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" }, apiKey: { type: "apiKey", in: "header", name: "x-api-key" } } },
        },
      }),
    )
    .use(eventRoutes(deps))
    .use(runRoutes(deps))
    .get(
      "/metrics",
      async ({ set }) => {
        set.headers["content-type"] = "text/plain; version=0.0.4; charset=utf-8";
        return await deps.metrics();
      },
      {
        beforeHandle: requireToken(deps.token),
        detail: {
          tags: ["system"],
          summary: "Prometheus metrics: events, runs by status, step durations, projector lag, consumers' pending counts, executor slots",
          responses: { 200: { description: "Prometheus text format 0.0.4" }, 401: { description: "token missing" } },
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
      { response: { 200: Health, 503: Health }, detail: { tags: ["system"], summary: "NATS connection and projector lag (open, no token)" } },
    );
}
