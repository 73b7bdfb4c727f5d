import { Elysia } from "elysia";
import type { ReadModel } from "../../lib/read-model/database.ts";
import { errors } from "./errors.ts";
import type { EventPublisher } from "./events/publish.ts";
import { eventRoutes } from "./events/routes.ts";
import type { AppliedSignal } from "./events/wait.ts";
import { runRoutes } from "./runs/routes.ts";

export type Health = { ok: boolean; nats: { connected: boolean; server?: string }; projector: { appliedSeq: number; streamSeq: number | null; lag: number | null } };

export type IngressDeps = {
  db: ReadModel;
  publish: EventPublisher;
  health: () => Promise<Health>;
  secret?: string;
  maxBodyBytes: number;
  waitTimeoutMs: number;
  applied?: AppliedSignal;
};

/** The HTTP API: the write side publishes events, the read side queries the projector's SQLite. */
export function createIngressApp(deps: IngressDeps) {
  return new Elysia()
    .use(errors)
    .use(eventRoutes(deps))
    .use(runRoutes(deps.db))
    .get("/healthz", async ({ set }) => {
      const health = await deps.health();
      set.status = health.ok ? 200 : 503;
      return health;
    });
}
