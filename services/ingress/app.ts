import { Elysia } from "elysia";
import type { IngressDeps } from "./deps.ts";
import { errors } from "./errors.ts";
import { eventRoutes } from "./events/routes.ts";
import { runRoutes } from "./runs/routes.ts";

/** The HTTP API: the write side publishes to the stream, the read side queries the projector's SQLite. */
export function createIngressApp(deps: IngressDeps) {
  return new Elysia()
    .use(errors)
    .use(eventRoutes(deps))
    .use(runRoutes(deps))
    .get("/healthz", async ({ set }) => {
      const health = await deps.health();
      set.status = health.ok ? 200 : 503;
      return health;
    });
}
