import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import type { IngressDeps } from "./deps.ts";
import { errors } from "./errors.ts";
import { browserGuard } from "./browser.ts";
import { hostGuard } from "./host.ts";
import { eventRoutes } from "./events/routes.ts";
import { flowRoutes } from "./flows/routes.ts";
import { runRoutes } from "./runs/routes.ts";
import { replayRoutes } from "./replays/routes.ts";
import { systemRoutes } from "./system/routes.ts";
import { uiRoutes } from "./ui/routes.ts";
import { requireToken, TOKEN_SECURITY } from "./auth.ts";
import { VIEWER_ASSETS, viewerAssets } from "./viewer.ts";
import { Health } from "./schemas.ts";

/** The HTTP API: the write side publishes to the stream, the read side queries the projector's SQLite. */
export function createIngressApp(deps: IngressDeps) {
  return new Elysia()
    .use(errors)
    .use(hostGuard(deps.listenHost, deps.allowedHosts))
    .use(browserGuard(deps.allowedOrigins))
    .use(
      openapi({
        path: "/openapi",
        specPath: "/openapi.json",
        // The viewer's script and styles come from this server (swagger-ui-dist), never from a CDN.
        provider: "swagger-ui",
        swagger: { cdn: `${VIEWER_ASSETS}/swagger-ui-bundle.js`, theme: `${VIEWER_ASSETS}/swagger-ui.css`, autoDarkMode: false },
        documentation: {
          info: { title: "codex-flows", version: "1", description: "Event-driven automation on NATS JetStream: accept FlowEvents, inspect and operate runs." },
          tags: [{ name: "events" }, { name: "runs" }, { name: "flows" }, { name: "system" }],
          components: {
            securitySchemes: {
              bearer: { type: "http", scheme: "bearer", description: "CODEX_FLOW_BACKEND_TOKEN, needed on reads and operations when it is set" },
              apiKey: { type: "apiKey", in: "header", name: "x-api-key", description: "CODEX_FLOW_BACKEND_TOKEN, as a header" },
              hmac: { type: "apiKey", in: "header", name: "x-flow-signature-256", description: "sha256=<hex HMAC-SHA256 of the exact body with CODEX_FLOW_BACKEND_SECRET>, needed when the secret is set" },
            },
          },
        },
      }),
    )
    .use(viewerAssets)
    .use(eventRoutes(deps))
    .use(runRoutes(deps))
    .use(flowRoutes(deps))
    .use(replayRoutes(deps))
    .use(systemRoutes(deps))
    .use(uiRoutes())
    .get(
      "/metrics",
      async ({ set }) => {
        set.headers["content-type"] = "text/plain; version=0.0.4; charset=utf-8";
        return await deps.metrics();
      },
      {
        beforeHandle: requireToken(deps.token),
        detail: {
          security: TOKEN_SECURITY,
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
      { response: { 200: Health, 503: Health }, detail: { security: [], tags: ["system"], summary: "NATS connection and projector lag (open, no token)" } },
    );
}
